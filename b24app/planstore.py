"""What the app keeps locally about plans: the deal -> plan index and the plan snapshots. Owner of the
``deal_plan`` and ``plan_snapshots`` tables: every read and write of them goes through here.

- ``deal_plan`` says which plan each deal was linked to when the app last read it, so a deal deleted or
  moved to another plan still recomputes the plan it left (a delete event names only the deal).
- ``plan_snapshots`` holds a plan's figures (and forecast) each time the app wrote them — every status
  change and the period close among them (``kind`` ``write``) — and once a day from what recompute or
  reconcile read anyway (``kind`` ``daily``, the first compute of the portal's day). Open pages poll the
  writes to learn that a plan they show changed, without calling the portal; the burn-up chart reads them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from b24app.installations import now_iso
from b24app.schema import WON_AT_FIELD
from b24app.storage import Store

_CHUNK = 500  # ids per SQL statement (SQLite allows 999 parameters by default)


def _chunks(values: Iterable[int]) -> list[list[int]]:
    ordered = sorted({int(v) for v in values})
    return [ordered[i:i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]


def _as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _delete_where_in(db: Store, member_id: str, column: str, ids: Sequence[int]) -> None:
    marks = ",".join("?" * len(ids))
    db.execute(f"DELETE FROM deal_plan WHERE member_id = ? AND {column} IN ({marks})", [member_id, *ids])


# --- the deal -> plan index ---------------------------------------------------------------------------

def _won_at(deal: Mapping[str, Any]) -> str | None:
    return str(deal.get(WON_AT_FIELD) or "") or None if deal.get("stageSemanticId") == "S" else None


def update_index(db: Store, member_id: str, deals: Iterable[Mapping[str, Any]],
                 parent: str, plan_ids: Iterable[int] | None = None, scanned_at: str | None = None) -> None:
    """Keep ``deal_plan`` equal to what was read: the deals' plans (``parent`` is the deal's plan field) and,
    for won deals, the moment they were won — the first one seen while the deal stays won.

    With ``plan_ids``, rows of those plans whose deal was not among the deals read are dropped (the deal
    left the plan). ``plan_ids=None`` means the read covered every linked deal of the portal (reconcile):
    rows of deals it did not see are dropped, except those written after ``scanned_at`` (the moment the
    scan began: a worker wrote them meanwhile, from a newer read).
    """
    stamp = now_iso()
    rows: list[dict[str, Any]] = [
        {"member_id": member_id, "deal_id": _as_int(d.get("id")), "plan_id": _as_int(d.get(parent)),
         "updated_at": stamp, "won_at": _won_at(d)} for d in deals if _as_int(d.get(parent)) > 0]
    with db.transaction():
        if plan_ids is None:
            seen = {r["deal_id"] for r in rows}
            stale = [int(deal_id) for deal_id, updated in db.execute(
                "SELECT deal_id, updated_at FROM deal_plan WHERE member_id = ?", [member_id]).fetchall()
                     if int(deal_id) not in seen and (scanned_at is None or str(updated or "") < scanned_at)]
            for chunk in _chunks(stale):
                _delete_where_in(db, member_id, "deal_id", chunk)
        else:
            read = {r["deal_id"] for r in rows}
            for chunk in _chunks(plan_ids):
                marks = ",".join("?" * len(chunk))
                gone = [int(row[0]) for row in db.execute(
                    f"SELECT deal_id FROM deal_plan WHERE member_id = ? AND plan_id IN ({marks})",
                    [member_id, *chunk]).fetchall() if int(row[0]) not in read]
                for part in _chunks(gone):
                    _delete_where_in(db, member_id, "deal_id", part)
        for row in rows:  # merge: a deal still won keeps the moment it was first seen won
            db.execute(
                "INSERT INTO deal_plan (member_id, deal_id, plan_id, updated_at, won_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (member_id, deal_id) DO UPDATE SET plan_id = excluded.plan_id, "
                "updated_at = excluded.updated_at, won_at = CASE WHEN excluded.won_at IS NULL THEN NULL "
                "ELSE COALESCE(deal_plan.won_at, excluded.won_at) END",
                [row["member_id"], row["deal_id"], row["plan_id"], row["updated_at"], row["won_at"]])


def won_moments(db: Store, member_id: str, deal_ids: Iterable[int]) -> dict[int, str]:
    """deal id -> the moment the index keeps for its win (ISO text as the portal wrote it)."""
    found: dict[int, str] = {}
    for chunk in _chunks(deal_ids):
        marks = ",".join("?" * len(chunk))
        for deal_id, won_at in db.execute(
                f"SELECT deal_id, won_at FROM deal_plan WHERE member_id = ? AND deal_id IN ({marks}) "
                "AND won_at IS NOT NULL", [member_id, *chunk]).fetchall():
            found[int(deal_id)] = str(won_at)
    return found


def plans_of_deals(db: Store, member_id: str, deal_ids: Iterable[int]) -> dict[int, int]:
    """deal id -> plan id, from the local index."""
    found: dict[int, int] = {}
    for chunk in _chunks(deal_ids):
        marks = ",".join("?" * len(chunk))
        for deal_id, plan_id in db.execute(
                f"SELECT deal_id, plan_id FROM deal_plan WHERE member_id = ? AND deal_id IN ({marks})",
                [member_id, *chunk]).fetchall():
            found[int(deal_id)] = int(plan_id)
    return found


def index_rows(db: Store, member_id: str, deal_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """deal id -> (plan id, when the index row was written), from the local index."""
    found: dict[int, tuple[int, str]] = {}
    for chunk in _chunks(deal_ids):
        marks = ",".join("?" * len(chunk))
        for deal_id, plan_id, updated in db.execute(
                f"SELECT deal_id, plan_id, updated_at FROM deal_plan WHERE member_id = ? AND deal_id IN ({marks})",
                [member_id, *chunk]).fetchall():
            found[int(deal_id)] = (int(plan_id), str(updated or ""))
    return found


def plan_of_deal(db: Store, member_id: str, deal_id: int) -> int:
    """The plan the index has for one deal; 0 when none."""
    return plans_of_deals(db, member_id, [deal_id]).get(int(deal_id), 0)


def drop_deals(db: Store, member_id: str, deal_ids: Iterable[int]) -> None:
    """Forget deleted deals."""
    with db.transaction():
        for chunk in _chunks(deal_ids):
            _delete_where_in(db, member_id, "deal_id", chunk)


def index_sizes(db: Store, member_id: str) -> tuple[int | None, int | None]:
    """(plans, linked deals) the index knows; None for an empty index."""
    plans, deals = db.execute("SELECT count(DISTINCT plan_id), count(*) FROM deal_plan WHERE member_id = ?",
                              [member_id]).fetchone()
    return (int(plans) or None, int(deals) or None)


# --- snapshots ----------------------------------------------------------------------------------------

WRITE = "write"  # snapshot kinds: the figures just written; the day's first compute (or a change the plan's
DAILY = "daily"  # fields do not hold, such as the open pipeline) from what was read


def add_snapshot(db: Store, member_id: str, plan_id: int, *, amount: str, currency: str,
                 won: str, remainder: str, execution: str, probable: str, status: str, forecast: str = "",
                 open_pipeline: str = "", at_risk: bool = False, day: str = "", kind: str = WRITE) -> None:
    """Record a plan's figures (money as decimal strings, as shown); ``day`` is the portal's date."""
    add_snapshots(db, member_id, [{
        "plan_id": int(plan_id), "amount": amount, "currency": currency, "won": won, "remainder": remainder,
        "execution": execution, "probable": probable, "status": status, "forecast": forecast,
        "open_pipeline": open_pipeline, "at_risk": int(bool(at_risk)), "day": day, "kind": kind}])


def add_snapshots(db: Store, member_id: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Record many snapshots in one transaction (rows as ``add_snapshot`` takes them, with ``plan_id``)."""
    stamp = now_iso()
    records = [{"member_id": member_id, "taken_at": stamp, "kind": WRITE, **dict(row)} for row in rows]
    if records:
        with db.transaction():
            db.table("plan_snapshots").insert_all(records)


def newest_snapshots(db: Store, member_id: str, plan_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """plan id -> its newest snapshot (day, won, forecast, open pipeline, at risk, status)."""
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(plan_ids):
        marks = ",".join("?" * len(chunk))
        cursor = db.execute(
            "SELECT plan_id, day, won, forecast, open_pipeline, at_risk, status FROM plan_snapshots WHERE id IN "
            f"(SELECT max(id) FROM plan_snapshots WHERE member_id = ? AND plan_id IN ({marks}) GROUP BY plan_id)",
            [member_id, *chunk])
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            found[int(row[0])] = dict(zip(names, row, strict=True))
    return found


def plan_history(db: Store, member_id: str, plan_id: int) -> list[dict[str, Any]]:
    """A plan's snapshots, oldest first: what the burn-up chart reads (never the portal)."""
    cursor = db.execute(
        "SELECT taken_at, day, kind, amount, currency, won, remainder, probable, forecast, open_pipeline, "
        "at_risk, status FROM plan_snapshots WHERE member_id = ? AND plan_id = ? ORDER BY id",
        [member_id, int(plan_id)])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def latest_snapshot(db: Store, member_id: str) -> int:
    """The newest snapshot row of the portal: what a page saw when it was rendered."""
    row = db.execute("SELECT MAX(id) FROM plan_snapshots WHERE member_id = ?", [member_id]).fetchone()
    return int(row[0] or 0) if row else 0


def changed_since(db: Store, member_id: str, after: int, plan_ids: Sequence[int]) -> bool:
    """Whether any of ``plan_ids`` got a snapshot newer than row ``after``."""
    if not plan_ids:
        return False
    marks = ",".join("?" * len(plan_ids))
    row = db.execute(
        f"SELECT 1 FROM plan_snapshots WHERE member_id = ? AND id > ? AND plan_id IN ({marks}) "
        "AND COALESCE(kind, 'write') != 'daily' LIMIT 1",
        [member_id, int(after), *plan_ids]).fetchone()
    return row is not None


def prune_snapshots(db: Store, before: datetime) -> int:
    """Delete snapshots taken before ``before``, except each plan's newest (open pages compare against it)."""
    with db.transaction():
        return db.execute(
            "DELETE FROM plan_snapshots WHERE taken_at < ? AND id NOT IN "
            "(SELECT max(id) FROM plan_snapshots GROUP BY member_id, plan_id)",
            [before.isoformat(timespec="seconds")]).rowcount
