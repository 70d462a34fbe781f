"""The last run of each background job (reconcile, close-periods...) per portal, and how it ended.

Owner of the ``job_runs`` table: one row per portal and job, replaced at every run, so it never grows.
``b24plans doctor`` reads it to say whether the sweeps that repair lost events are running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from b24app.installations import now_iso
from b24app.storage import Store


@dataclass(frozen=True)
class JobRun:
    job: str
    at: datetime
    ok: bool
    detail: dict[str, Any]


def record(db: Store, member_id: str, job: str, ok: bool, **detail: Any) -> None:
    """Remember that ``job`` just ran for the portal (``detail``: counts, the error; never a token)."""
    with db.transaction():
        db.table("job_runs").upsert({"member_id": member_id, "job": job, "at": now_iso(), "ok": int(ok),
                                     "detail": json.dumps(detail, default=str, ensure_ascii=False)},
                                    pk=("member_id", "job"))


def last(db: Store, member_id: str, job: str) -> JobRun | None:
    rows = list(db.query("SELECT * FROM job_runs WHERE member_id = ? AND job = ?", [member_id, job]))
    if not rows:
        return None
    row = rows[0]
    return JobRun(job, datetime.fromisoformat(row["at"]), bool(row["ok"]), json.loads(row["detail"] or "{}"))
