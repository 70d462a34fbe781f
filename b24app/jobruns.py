"""The last run of each background job (reconcile, close-periods...) per portal, and how it ended; and which
process runs a scheduled job now, cluster-wide.

Owner of the ``job_runs`` table: one row per portal and job, replaced at every run, so it never grows.
``b24plans doctor`` reads it to say whether the sweeps that repair lost events are running. Owner of
``job_claims``: one row per scheduled job, the moment it was last started and by whom.
"""

from __future__ import annotations

import json
import os
import socket
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


#: A job runs again when its last start is at least this share of its interval ago: a scheduler that fires a
#: little early or late still runs every time in a process of its own, and processes that share the store take
#: turns instead of each running the job.
CLAIM_SHARE = 0.9


def claim(db: Store, job: str, interval: float, now: float, force: bool = False) -> bool:
    """True when this process should run the scheduled ``job`` now (and it is recorded as started by it): nobody
    started it in the last ``CLAIM_SHARE`` of ``interval`` seconds. ``force``: run regardless (a process's first
    reconcile after it starts, which repairs what was lost while it was down), recorded all the same."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    cursor = db.execute(
        "INSERT INTO job_claims (job, at, claimed_by) VALUES (?, ?, ?) ON CONFLICT (job) DO UPDATE SET "
        "at = excluded.at, claimed_by = excluded.claimed_by WHERE job_claims.at <= ? OR ? = 1",
        [job, float(now), holder, float(now) - CLAIM_SHARE * float(interval), 1 if force else 0])
    return cursor.rowcount == 1
