"""What a provisioning run did, step by step (shown on the install page, printed by ``b24plans provision``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATED, FOUND, UPDATED, FAILED = "created", "found", "updated", "failed"
REMOVED = "removed"  # a default stage of a smart process this run created, not in the manifest


class ProvisionError(RuntimeError):
    """A step that later steps depend on failed; ``step`` names it (e.g. ``smart_process``)."""

    def __init__(self, step: str, message: str):
        super().__init__(f"{step}: {message}")
        self.step = step


@dataclass
class Step:
    kind: str  # smart_process, field, stage, placement, event, option
    name: str
    outcome: str  # created, found, updated, failed
    detail: str = ""


@dataclass
class ProvisionReport:
    steps: list[Step] = field(default_factory=list)
    type_id: int | None = None
    entity_type_id: int | None = None
    category_id: int | None = None
    field_map: dict[str, str] = field(default_factory=dict)
    stage_map: dict[str, str] = field(default_factory=dict)
    enum_map: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not any(s.outcome == FAILED for s in self.steps)

    def add(self, kind: str, name: str, outcome: str, detail: str = "") -> None:
        self.steps.append(Step(kind, name, outcome, detail))

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.steps if s.outcome == outcome)

    def summary(self) -> dict[str, Any]:
        return {"created": [f"{s.kind}:{s.name}" for s in self.steps if s.outcome == CREATED],
                "updated": [f"{s.kind}:{s.name}" for s in self.steps if s.outcome == UPDATED],
                "removed": [f"{s.kind}:{s.name}" for s in self.steps if s.outcome == REMOVED],
                "failed": [f"{s.kind}:{s.name}: {s.detail}" for s in self.steps if s.outcome == FAILED],
                "found": self.count(FOUND), "error": self.error}
