"""The alerts to plans' responsibles (``plan_alerts``) and each installation's switches (``alert_switches``).
Owner of both tables.

A recompute that writes a transition (the plan became at risk, was fulfilled, ended unfulfilled) queues one
row; ``sync/alerts.py`` sends the queued rows and marks them sent. One row per plan, kind and period
(``begindate..closedate``), enforced by a unique index: a second reconcile, a restart or a replayed event
finds the row and queues nothing, so a kind of alert goes at most once per plan and period (a plan reopened
with a new end gets a new period, hence new alerts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from b24app.installations import now_iso
from b24app.storage import Store

AT_RISK = "at_risk"
FULFILLED = "fulfilled"
UNFULFILLED = "unfulfilled"
KINDS = (AT_RISK, FULFILLED, UNFULFILLED)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def period_of(row: Mapping[str, Any]) -> str:
    """The plan's period as the alert key: ``2026-01-01..2026-01-31`` (dates as the portal wrote them)."""
    return f"{str(row.get('begindate') or '')[:10]}..{str(row.get('closedate') or '')[:10]}"


def alert_row(plan: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The alert of ``kind`` for a plan row as crm.item.list gives it."""
    return {"plan_id": _int(plan.get("id")), "kind": kind, "period": period_of(plan),
            "user_id": _int(plan.get("assignedById")), "title": str(plan.get("title") or "")}


def queue(db: Store, member_id: str, alerts: Iterable[Mapping[str, Any]]) -> int:
    """Queue alerts not queued before for the same plan, kind and period; returns how many were new."""
    new = 0
    stamp = now_iso()
    rows = list(alerts)
    if not rows:
        return 0
    with db.transaction():
        for alert in rows:
            new += db.execute(
                "INSERT INTO plan_alerts (member_id, plan_id, kind, period, user_id, title, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [member_id, alert["plan_id"], alert["kind"], alert["period"], alert.get("user_id") or 0,
                 alert.get("title") or "", stamp]).rowcount
    return new


def pending(db: Store, member_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Queued alerts not sent yet, oldest first."""
    cursor = db.execute("SELECT id, plan_id, kind, period, user_id, title FROM plan_alerts WHERE member_id = ? "
                        "AND sent_at IS NULL ORDER BY id LIMIT ?", [member_id, int(limit)])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def has_pending(db: Store, member_id: str) -> bool:
    return db.execute("SELECT 1 FROM plan_alerts WHERE member_id = ? AND sent_at IS NULL LIMIT 1",
                      [member_id]).fetchone() is not None


def mark(db: Store, ids: Iterable[int], error: str | None = None) -> None:
    """Mark alerts done: sent, or given up with ``error`` (switched off, no responsible, refused)."""
    stamp = now_iso()
    with db.transaction():
        for alert_id in ids:
            db.execute("UPDATE plan_alerts SET sent_at = ?, error = ? WHERE id = ?", [stamp, error, int(alert_id)])


def sent(db: Store, member_id: str, plan_id: int | None = None) -> list[dict[str, Any]]:
    """The alerts done (sent or given up), for tests and the doctor."""
    where = "member_id = ? AND sent_at IS NOT NULL"
    args: list[Any] = [member_id]
    if plan_id is not None:
        where += " AND plan_id = ?"
        args.append(int(plan_id))
    cursor = db.execute(f"SELECT plan_id, kind, period, user_id, error FROM plan_alerts WHERE {where} ORDER BY id",
                        args)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def switches(db: Store, member_id: str) -> dict[str, bool]:
    """Each kind of alert on or off for the installation (on unless an admin turned it off)."""
    found = {kind: True for kind in KINDS}
    for kind, enabled in db.execute("SELECT kind, enabled FROM alert_switches WHERE member_id = ?",
                                    [member_id]).fetchall():
        if kind in found:
            found[str(kind)] = bool(enabled)
    return found


def set_switches(db: Store, member_id: str, values: Mapping[str, bool]) -> None:
    with db.transaction():
        for kind in KINDS:
            if kind in values:
                db.execute("INSERT INTO alert_switches (member_id, kind, enabled) VALUES (?, ?, ?) "
                           "ON CONFLICT (member_id, kind) DO UPDATE SET enabled = excluded.enabled",
                           [member_id, kind, int(bool(values[kind]))])
