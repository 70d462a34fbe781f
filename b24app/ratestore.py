"""The rate history: every set of the portal's currency rates the app has seen. Owner of the ``rate_history``
table: every read and write of it goes through here.

Bitrix24 keeps only the current rates (api-reference/crm/currency/crm-currency-list.md), so a rate changed
today would re-judge every past plan. The app records the whole set (``AMOUNT``, ``AMOUNT_CNT``, ``DECIMALS``,
the base) whenever it reads one that differs from the last it recorded — at install, on every currency event,
at the daily period-end job and on every recompute's read — and converts each won deal at the set in force
when it was won (``b24app.money.RateHistory``, ARCHITECTURE.md §3).

A set is in force from the newest ``DATE_UPDATE`` among its rows (the moment the portal says the rate was
changed) when that is known and not older than the previous set, else from the moment it was recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from b24app.storage import Store

_KEYS = ("CURRENCY", "AMOUNT", "AMOUNT_CNT", "DECIMALS", "BASE")


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value or "").strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _normal(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The fields that matter for conversion and display, as strings, one row per currency, sorted."""
    found = {str(r.get("CURRENCY") or "").upper(): {k: str(r.get(k) if r.get(k) is not None else "") for k in _KEYS}
             for r in rows if r.get("CURRENCY")}
    for code, row in found.items():
        row["CURRENCY"] = code
    return [found[code] for code in sorted(found)]


def latest(db: Store, member_id: str) -> tuple[datetime, list[dict[str, str]]] | None:
    """The newest recorded set: ``(in force since, rows)``; None before the first record."""
    row = db.execute("SELECT since, rates FROM rate_history WHERE member_id = ? ORDER BY since DESC, id DESC "
                     "LIMIT 1", [member_id]).fetchone()
    return (datetime.fromisoformat(row[0]), json.loads(row[1])) if row else None


def latest_id(db: Store, member_id: str) -> int:
    """The row id of the newest recorded set (0 before the first): a new one means the rates changed."""
    row = db.execute("SELECT MAX(id) FROM rate_history WHERE member_id = ?", [member_id]).fetchone()
    return int(row[0] or 0) if row else 0


def record(db: Store, member_id: str, rows: Iterable[Mapping[str, Any]], source: str,
           now: datetime | None = None) -> bool:
    """Keep the portal's current rates (crm.currency.list rows) if they differ from the last set kept.

    Returns whether a new set was recorded. ``source`` says what read them (install, event, daily, read).
    """
    normal = _normal(rows)
    if not normal:
        return False
    now = now or datetime.now(UTC)
    with db.transaction():
        last = latest(db, member_id)
        if last is not None and last[1] == normal:
            return False
        changed = [r for r in rows if r.get("CURRENCY")]
        if last is not None:
            before = {r["CURRENCY"]: r for r in last[1]}
            changed = [r for r in changed if _normal([r])[0] != before.get(str(r["CURRENCY"]).upper())]
        stamps = [m for m in (_moment(r.get("DATE_UPDATE")) for r in changed) if m is not None and m <= now]
        since = max(stamps) if stamps and last is not None else now
        if last is not None and since < last[0]:
            since = now
        db.table("rate_history").insert({"member_id": member_id, "since": since.astimezone(UTC).isoformat(),
                                         "recorded_at": now.astimezone(UTC).isoformat(), "source": source,
                                         "rates": json.dumps(normal, sort_keys=True)})
    return True


def history(db: Store, member_id: str) -> list[tuple[datetime, list[dict[str, str]]]]:
    """Every recorded set of the portal, oldest first: ``(in force since, rows)``."""
    return [(datetime.fromisoformat(since), json.loads(rates)) for since, rates in db.execute(
        "SELECT since, rates FROM rate_history WHERE member_id = ? ORDER BY since, id", [member_id]).fetchall()]
