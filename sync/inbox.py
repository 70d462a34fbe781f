"""The durable event inbox: the events handler writes, the worker claims, processes and marks.

Bitrix24 never retries an event (api-reference/events/index.md), so the handler only writes a row here
and answers at once; the worker does the slow part. One *pending* row per
(member_id, event, entity_type_id, object_id): a burst of updates to one deal is one unit of work
(the partial unique index ``inbox_pending`` in db.py m001).

Row life: ``pending`` -> ``processing`` (claimed, ``attempts`` + 1) -> ``done`` or ``failed``
(or back to ``pending`` with ``mark_failed(..., retry=True)``).
Events that are not about one object (ONAPPUPDATE, currency events) use ``entity_type_id=0`` and
``object_id=0`` — never NULL, because SQLite's unique indexes treat NULLs as distinct and such rows
would not coalesce.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from b24app.storage import INTEGRITY, Store

PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"

#: The event the app itself queues when provisioning must run again (after ONAPPUPDATE).
PROVISION = "APP.PROVISION"


@dataclass(frozen=True)
class InboxItem:
    id: int
    member_id: str
    event: str
    entity_type_id: int
    object_id: int
    data: dict[str, Any] = field(default_factory=dict)
    ts: int | None = None
    attempts: int = 0


def claimer() -> str:
    """This process as a claimer of inbox rows: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def enqueue(db: Store, member_id: str, event: str, entity_type_id: int | None,
            object_id: int | None, data: Mapping[str, Any] | None = None, ts: int | None = None) -> bool:
    """Queue one event; True if a new row was written, False if an equal pending row already covers it.

    ``data`` is the event's ``data`` block only — never pass the ``auth`` block (it holds tokens).
    """
    payload = json.dumps(dict(data or {}), ensure_ascii=False, sort_keys=True, default=str)
    cursor = db.execute(
        "INSERT INTO inbox (member_id, event, entity_type_id, object_id, data, ts, received_at, "
        "status, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
        [member_id, event.upper(), int(entity_type_id or 0), int(object_id or 0), payload,
         int(ts) if ts is not None else None, _iso(_now()), PENDING],
    )
    return cursor.rowcount == 1


def _item(row: Mapping[str, Any]) -> InboxItem:
    try:
        data = json.loads(row["data"] or "{}")
    except ValueError:
        data = {}
    return InboxItem(id=int(row["id"]), member_id=row["member_id"], event=row["event"],
                     entity_type_id=int(row["entity_type_id"] or 0), object_id=int(row["object_id"] or 0),
                     data=data if isinstance(data, dict) else {}, ts=row["ts"],
                     attempts=int(row["attempts"] or 0))


def claim_pending(db: Store, limit: int = 500, member_id: str | None = None) -> list[InboxItem]:
    """Atomically move up to ``limit`` oldest pending rows to ``processing`` and return them (oldest first).

    Safe with several workers or processes, on one host or many: the claim is one ``UPDATE ... RETURNING``
    inside an immediate transaction, so a row is handed to exactly one claimer (on PostgreSQL the chosen rows
    are locked with ``SKIP LOCKED``: workers that claim at the same moment take different rows, none waits).
    """
    where = "status = ?"
    args: list[Any] = [PENDING]
    if member_id is not None:
        where += " AND member_id = ?"
        args.append(member_id)
    with db.transaction(immediate=True):
        rows = db.execute(
            f"UPDATE inbox SET status = ?, attempts = attempts + 1, processed_at = ?, error = NULL, claimed_by = ? "
            f"WHERE id IN (SELECT id FROM inbox WHERE {where} ORDER BY id LIMIT ?{db.skip_locked}) "
            "RETURNING id, member_id, event, entity_type_id, object_id, data, ts, attempts",
            [PROCESSING, _iso(_now()), claimer(), *args, int(limit)],
        ).fetchall()
    columns = ("id", "member_id", "event", "entity_type_id", "object_id", "data", "ts", "attempts")
    items = [_item(dict(zip(columns, row, strict=True))) for row in rows]
    return sorted(items, key=lambda item: item.id)


def _ids(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def mark_done(db: Store, ids: Iterable[int]) -> int:
    """Mark claimed rows done; returns how many rows changed."""
    id_list = _ids(ids)
    if not id_list:
        return 0
    marks = ",".join("?" * len(id_list))
    with db.transaction():
        cursor = db.execute(
            f"UPDATE inbox SET status = ?, processed_at = ?, error = NULL WHERE id IN ({marks})",
            [DONE, _iso(_now()), *id_list],
        )
    return cursor.rowcount


def mark_failed(db: Store, ids: Iterable[int], error: str, retry: bool = False,
                max_attempts: int = 5) -> int:
    """Record a failure (``error`` is shown to admins: never put tokens in it).

    With ``retry=True`` rows that have had fewer than ``max_attempts`` attempts go back to ``pending``;
    when a newer pending row for the same object already exists, that row covers the work and this one
    is marked failed (superseded) instead. Returns how many rows changed.
    """
    id_list = _ids(ids)
    if not id_list:
        return 0
    marks = ",".join("?" * len(id_list))
    changed = 0
    with db.transaction():
        if retry:
            # Row by row: a row whose (member, event, type, object) already has a pending twin stays as is.
            for row_id in id_list:
                changed += _to_pending(db, "id = ? AND attempts < ?", [row_id, int(max_attempts)], error=error[:2000])
        changed += db.execute(
            f"UPDATE inbox SET status = ?, processed_at = ?, error = ? WHERE id IN ({marks}) AND status != ?",
            [FAILED, _iso(_now()), error[:2000], *id_list, PENDING],
        ).rowcount
    return changed


def _to_pending(db: Store, where: str, args: list[Any], error: str | None = None) -> int:
    """Put back to ``pending`` the row ``where`` picks (one row) unless its object already has a pending row (the
    unique index allows one): that row covers the work. Returns 1 when the row went back, else 0."""
    sets, values = "status = ?, claimed_by = NULL", [PENDING]
    if error is not None:
        sets, values = sets + ", error = ?", [*values, error]
    try:
        with db.savepoint():  # a twin queued by another process meanwhile: the unique index says so
            return int(db.execute(
                f"UPDATE inbox SET {sets} WHERE {where} AND NOT EXISTS (SELECT 1 FROM inbox AS twin WHERE "
                "twin.status = ? AND twin.member_id = inbox.member_id AND twin.event = inbox.event AND "
                "twin.entity_type_id = inbox.entity_type_id AND twin.object_id = inbox.object_id "
                "AND twin.id != inbox.id)", [*values, *args, PENDING]).rowcount)
    except INTEGRITY:
        return 0


def dead_claimers(db: Store) -> list[str]:
    """Claimers (``host:pid``) of ``processing`` rows that are processes of this host no longer running: a
    worker killed mid-batch (SIGKILL, a crash, the machine's OOM killer)."""
    host = socket.gethostname()
    rows = db.execute("SELECT DISTINCT claimed_by FROM inbox WHERE status = ? AND claimed_by LIKE ?",
                      [PROCESSING, f"{host}:%"]).fetchall()
    dead = []
    for (holder,) in rows:
        pid = str(holder).rpartition(":")[2]
        if pid.isdigit() and not _alive(int(pid)):
            dead.append(str(holder))
    return dead


def release_stale(db: Store, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Return rows stuck in ``processing`` to ``pending``; returns the count.

    A row is stuck when its claimer is a process of this host that no longer runs (released at once), or when
    it was claimed more than ``older_than`` ago (a worker on another host died, or rows claimed before the
    claimer was recorded). ``processed_at`` holds the claim time while a row is ``processing``. A stuck row
    whose object already has a newer pending row is marked failed (superseded): the pending row covers the work.
    """
    cutoff = _iso(_now() - older_than)
    dead = dead_claimers(db)
    stuck = "status = ? AND (processed_at < ?"
    args: list[Any] = [PROCESSING, cutoff]
    if dead:
        stuck += f" OR claimed_by IN ({','.join('?' * len(dead))})"
        args += dead
    stuck += ")"
    with db.transaction(immediate=True):
        ids = [int(r[0]) for r in db.execute(f"SELECT id FROM inbox WHERE {stuck} ORDER BY id{db.for_update}",
                                             args).fetchall()]
        released = sum(_to_pending(db, "id = ?", [row_id]) for row_id in ids)
        db.execute(f"UPDATE inbox SET status = ?, error = ? WHERE {stuck}",
                   [FAILED, "superseded by a newer pending event", *args])
    return released


def pending_count(db: Store, member_id: str | None = None) -> int:
    """How many rows wait to be processed."""
    if member_id is None:
        rows = db.execute("SELECT count(*) FROM inbox WHERE status = ?", [PENDING]).fetchone()
    else:
        rows = db.execute("SELECT count(*) FROM inbox WHERE status = ? AND member_id = ?",
                          [PENDING, member_id]).fetchone()
    return int(rows[0])


def backlog(db: Store, member_id: str) -> tuple[int, datetime | None]:
    """How many rows of the portal wait, and when the oldest of them arrived."""
    count, oldest = db.execute("SELECT count(*), min(received_at) FROM inbox WHERE status = ? AND member_id = ?",
                               [PENDING, member_id]).fetchone()
    return int(count), datetime.fromisoformat(oldest) if oldest else None


def purge_done(db: Store, older_than: timedelta = timedelta(days=7),
               now: datetime | None = None) -> int:
    """Delete done and failed rows processed before ``older_than`` ago; returns the count."""
    cutoff = _iso((now or _now()) - older_than)
    with db.transaction():
        cursor = db.execute("DELETE FROM inbox WHERE status IN (?, ?) AND processed_at < ?", [DONE, FAILED, cutoff])
    return cursor.rowcount
