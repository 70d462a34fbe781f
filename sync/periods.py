"""Period end: open plans whose period is over and that are not fulfilled move to No cumplido.

It is the reconcile with a given ``today``: the plan math says "period over and not fulfilled → F", and
the recompute writes the stage (``stage_map["F"]``) with the figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlite_utils

from sync import recompute, reconcile


def close_periods(config: Mapping[str, Any], db: sqlite_utils.Database, today: date | None = None,
                  member_id: str | None = None, progress: reconcile.Progress | None = None
                  ) -> dict[str, recompute.Outcome]:
    """Recompute every open plan as of ``today`` (default: the server's date); returns per-portal outcomes."""
    return reconcile.reconcile_all(config, db, member_id=member_id, today=today or date.today(),
                                   progress=progress, actor="close_periods")
