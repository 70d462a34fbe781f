"""Fault injection, changed at run time through ``POST /sandbox/faults`` (loopback only)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Faults:
    drop_events: float = 0.0        # probability that an event delivery is silently dropped
    delay_events_ms: int = 0        # extra delay before each delivery
    event_concurrency: int = 4      # event POSTs in flight at once (1: one after the other, in order)
    rest_error_rate: float = 0.0    # probability that a REST call fails before running
    rest_error_kind: str = "mixed"  # "503" (QUERY_LIMIT_EXCEEDED), "500" (INTERNAL_SERVER_ERROR) or "mixed"
    rest_delay_ms: int = 0          # extra latency on every REST call
    operating_cost: float = 0.0     # simulated extra seconds of execution per method call (operating)
    operating_costs: dict[str, float] = field(default_factory=dict)  # the same per method name

    def cost_of(self, method: str) -> float:
        return self.operating_costs.get(method, self.operating_cost)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                continue
            current = getattr(self, name)
            if isinstance(current, dict):
                if not isinstance(value, dict) or any(float(v) < 0 for v in value.values()):
                    raise ValueError(f"{name} must map method names to seconds >= 0")
                setattr(self, name, {str(k).lower(): float(v) for k, v in value.items()})
                continue
            if isinstance(current, str):
                value = str(value)
                if value not in ("503", "500", "mixed"):
                    raise ValueError("rest_error_kind must be 503, 500 or mixed")
            elif isinstance(current, int) and not isinstance(current, bool):
                value = int(value)
            else:
                value = float(value)
            if name in ("drop_events", "rest_error_rate") and not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
            if isinstance(value, int | float) and value < 0:
                raise ValueError(f"{name} must not be negative")
            if name == "event_concurrency" and value < 1:
                raise ValueError("event_concurrency must be 1 or more")
            setattr(self, name, value)

    def rest_failure(self, rng: random.Random) -> int | None:
        """503 or 500 when this call should fail, else None."""
        if self.rest_error_rate <= 0 or rng.random() >= self.rest_error_rate:
            return None
        if self.rest_error_kind == "mixed":
            return rng.choice((503, 500))
        return int(self.rest_error_kind)
