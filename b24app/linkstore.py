"""What the app keeps about auto-linking (owner of ``link_decisions`` and ``link_pending``).

- ``link_decisions``: a person linked or unlinked a deal (in the app's deal tab, the plan form, the "to decide"
  list, or by clearing the plan in Bitrix24's deal card); the auto-link rule never touches that deal again.
- ``link_pending``: deals the rule could not link on its own ("to decide"), with the candidate plans as the
  worker or reconcile read them, so the plans page and the deal tab show them without asking the portal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from b24app.autolink import PlanPeriod
from b24app.installations import now_iso
from b24app.storage import Store

_CHUNK = 500


def stamp() -> str:
    """This moment to the microsecond (``link_pending.updated_at``): a scan that began in the same second as a
    write still tells which came first."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _chunks(values: Iterable[int]) -> list[list[int]]:
    ordered = sorted({int(v) for v in values})
    return [ordered[i:i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]


# --- a person's decisions ------------------------------------------------------------------------------

def record_decision(db: Store, member_id: str, deal_id: int, plan_id: int, user_id: int = 0,
                    source: str = "app") -> None:
    """A person linked the deal to ``plan_id`` (0: unlinked it); ``source`` says where (tab, form, list, card)."""
    with db.transaction():
        db.execute("INSERT INTO link_decisions (member_id, deal_id, plan_id, user_id, source, at) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (member_id, deal_id) DO UPDATE SET "
                   "plan_id = excluded.plan_id, user_id = excluded.user_id, source = excluded.source, "
                   "at = excluded.at", [member_id, int(deal_id), int(plan_id), int(user_id), source, now_iso()])
        _delete(db, "link_pending", member_id, [int(deal_id)])


def decided(db: Store, member_id: str, deal_ids: Iterable[int]) -> set[int]:
    """The deals among ``deal_ids`` a person decided about."""
    found: set[int] = set()
    for chunk in _chunks(deal_ids):
        marks = ",".join("?" * len(chunk))
        found.update(int(r[0]) for r in db.execute(
            f"SELECT deal_id FROM link_decisions WHERE member_id = ? AND deal_id IN ({marks})",
            [member_id, *chunk]).fetchall())
    return found


def decision(db: Store, member_id: str, deal_id: int) -> dict[str, Any] | None:
    row = db.execute("SELECT plan_id, user_id, source, at FROM link_decisions WHERE member_id = ? AND deal_id = ?",
                     [member_id, int(deal_id)]).fetchone()
    return None if row is None else {"plan_id": int(row[0] or 0), "user_id": int(row[1] or 0), "source": row[2],
                                     "at": row[3]}


# --- "to decide" ---------------------------------------------------------------------------------------

@dataclass
class Pending:
    """A deal waiting for a person to choose its plan."""

    deal_id: int
    title: str = ""
    company_id: int = 0
    contact_id: int = 0
    day: date | None = None
    amount: str = "0"
    currency: str = ""
    reason: str = ""  # several | none-for-day
    candidates: list[PlanPeriod] = field(default_factory=list)
    updated_at: str = ""


def _plan_json(p: PlanPeriod) -> dict[str, Any]:
    return {"id": p.id, "title": p.title, "currency": p.currency, "company_id": p.company_id,
            "contact_id": p.contact_id, "begin": p.begin.isoformat() if p.begin else None,
            "end": p.end.isoformat() if p.end else None}


def _plan_of(raw: dict[str, Any]) -> PlanPeriod:
    return PlanPeriod(id=int(raw.get("id") or 0), company_id=int(raw.get("company_id") or 0),
                      contact_id=int(raw.get("contact_id") or 0),
                      begin=date.fromisoformat(raw["begin"]) if raw.get("begin") else None,
                      end=date.fromisoformat(raw["end"]) if raw.get("end") else None,
                      currency=str(raw.get("currency") or ""), title=str(raw.get("title") or ""))


def _pending_of(row: Sequence[Any]) -> Pending:
    try:
        candidates = [_plan_of(c) for c in json.loads(row[9] or "[]")]
    except (ValueError, TypeError, KeyError):
        candidates = []
    return Pending(deal_id=int(row[0]), title=str(row[1] or ""), company_id=int(row[2] or 0),
                   contact_id=int(row[3] or 0), day=date.fromisoformat(row[4]) if row[4] else None,
                   amount=str(row[5] or "0"), currency=str(row[6] or ""), reason=str(row[7] or ""),
                   candidates=candidates, updated_at=str(row[8] or ""))


_COLUMNS = "deal_id, title, company_id, contact_id, day, amount, currency, reason, updated_at, candidates"
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[1:])


def put_pending(db: Store, member_id: str, entries: Iterable[Pending]) -> None:
    """Add or refresh deals waiting to be decided."""
    written = stamp()
    with db.transaction():
        for e in entries:
            db.execute(
                f"INSERT INTO link_pending (member_id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT (member_id, deal_id) DO UPDATE SET {_UPDATES}",
                [member_id, e.deal_id, e.title, e.company_id, e.contact_id, e.day.isoformat() if e.day else None,
                 e.amount, e.currency, e.reason, written, json.dumps([_plan_json(c) for c in e.candidates])])


def _delete(db: Store, table: str, member_id: str, deal_ids: Iterable[int]) -> None:
    for chunk in _chunks(deal_ids):
        marks = ",".join("?" * len(chunk))
        db.execute(f"DELETE FROM {table} WHERE member_id = ? AND deal_id IN ({marks})", [member_id, *chunk])


def drop_pending(db: Store, member_id: str, deal_ids: Iterable[int]) -> None:
    """Deals that no longer wait (linked by anyone, lost, won outside every candidate's period, deleted)."""
    with db.transaction():
        _delete(db, "link_pending", member_id, deal_ids)


def drop_stale_pending(db: Store, member_id: str, keep: Iterable[int], scanned_at: str) -> int:
    """After a full scan (reconcile): drop waiting deals the scan did not find waiting, unless written after
    ``scanned_at`` (a worker's newer read; a ``stamp()`` taken when the scan began)."""
    keep_ids = {int(k) for k in keep}
    stale = [int(deal_id) for deal_id, updated in db.execute(
        "SELECT deal_id, updated_at FROM link_pending WHERE member_id = ?", [member_id]).fetchall()
        if int(deal_id) not in keep_ids and str(updated or "") < scanned_at]
    drop_pending(db, member_id, stale)
    return len(stale)


def pending(db: Store, member_id: str, limit: int = 50) -> list[Pending]:
    """The deals waiting to be decided, the nearest day first."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM link_pending WHERE member_id = ? ORDER BY day IS NULL, day, deal_id "
                      "LIMIT ?", [member_id, int(limit)]).fetchall()
    return [_pending_of(r) for r in rows]


def pending_count(db: Store, member_id: str) -> int:
    row = db.execute("SELECT count(*) FROM link_pending WHERE member_id = ?", [member_id]).fetchone()
    return int(row[0] or 0)


def pending_deal(db: Store, member_id: str, deal_id: int) -> Pending | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM link_pending WHERE member_id = ? AND deal_id = ?",
                     [member_id, int(deal_id)]).fetchone()
    return None if row is None else _pending_of(row)
