"""The portal's limits: the leaky bucket (per portal) and the per-method operating time.

limits.md: every request adds 1, the counter drains by Y per second, over X the request gets 503
QUERY_LIMIT_EXCEEDED (rejected requests do not fill the bucket). Operating: the execution time of one method
for one app or webhook, summed over 10 one-minute baskets; over the limit the NEXT call gets 429
OPERATION_TIME_LIMIT. Like the rest module's LoadLimiter, a hit shorter than 0.1 s is not recorded and the
outer `batch` call is not counted.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

BUCKET_SECONDS = 60
BUCKET_COUNT = 10
MINIMAL_FIX_TIME = 0.1


@dataclass
class LeakyBucket:
    burst: int = 50
    per_second: float = 2.0
    enabled: bool = True
    level: float = 0.0
    updated: float = field(default_factory=time.monotonic)

    def hit(self, now: float | None = None) -> bool:
        """Count one request; False when it must be rejected."""
        if not self.enabled:
            return True
        now = time.monotonic() if now is None else now
        self.level = max(0.0, self.level - (now - self.updated) * self.per_second)
        self.updated = now
        if self.level + 1 > self.burst:
            return False
        self.level += 1
        return True

    def reset(self) -> None:
        self.level = 0.0
        self.updated = time.monotonic()


@dataclass
class OperatingMeter:
    """Accumulated seconds per (app or webhook, method) in 10 one-minute baskets."""

    limit: float = 480.0
    baskets: dict[tuple[str, str], dict[int, float]] = field(default_factory=lambda: defaultdict(dict))

    def _current(self, key: tuple[str, str], now: float) -> dict[int, float]:
        baskets = self.baskets[key]
        oldest = int(now // BUCKET_SECONDS) - BUCKET_COUNT + 1
        for minute in [m for m in baskets if m < oldest]:
            del baskets[minute]
        return baskets

    def operating(self, key: tuple[str, str], now: float | None = None) -> float:
        now = time.time() if now is None else now
        return sum(self._current(key, now).values())

    def reset_at(self, key: tuple[str, str], now: float | None = None) -> float:
        now = time.time() if now is None else now
        baskets = self._current(key, now)
        if not baskets:
            return now + BUCKET_SECONDS * BUCKET_COUNT
        return (min(baskets) + BUCKET_COUNT) * BUCKET_SECONDS

    def blocked(self, key: tuple[str, str], now: float | None = None) -> bool:
        return self.operating(key, now) > self.limit

    def record(self, key: tuple[str, str], seconds: float, now: float | None = None) -> None:
        if seconds < MINIMAL_FIX_TIME:
            return
        now = time.time() if now is None else now
        baskets = self._current(key, now)
        minute = int(now // BUCKET_SECONDS)
        baskets[minute] = baskets.get(minute, 0.0) + seconds
