"""Pruning keeps the tables bounded by age; each plan's newest snapshot and pending events always stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from b24app import planstore
from b24app.installations import audit
from sync import inbox, maintenance


def test_prune_removes_only_what_is_older_than_its_horizon(db, inst):
    now = datetime.now(UTC)
    for plan_id in (1, 2):
        for _ in range(3):
            planstore.add_snapshot(db, "m1", plan_id, amount="1", currency="USD", won="0", remainder="1",
                                   execution="0", probable="0", status="P")
    db.execute("UPDATE plan_snapshots SET taken_at = ?", [(now - timedelta(days=800)).isoformat()])
    audit(db, "m1", "old")
    audit(db, "m1", "new")
    db.execute("UPDATE audit_log SET at = ? WHERE action = 'old'", [(now - timedelta(days=400)).isoformat()])
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 1)
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 2)
    first = inbox.claim_pending(db, limit=1)
    inbox.mark_done(db, [i.id for i in first])
    db.execute("UPDATE inbox SET processed_at = ? WHERE status = 'done'", [(now - timedelta(days=8)).isoformat()])
    pruned = maintenance.prune(db, inbox_days=7, audit_days=365, snapshot_days=730, now=now)
    assert (pruned.inbox, pruned.audit, pruned.snapshots) == (1, 1, 4)
    assert [r["status"] for r in db.query("SELECT status FROM inbox")] == ["pending"]
    assert [r["plan_id"] for r in db.query("SELECT plan_id FROM plan_snapshots ORDER BY plan_id")] == [1, 2]
    assert [r["action"] for r in db.query("SELECT action FROM audit_log")] == ["new"]
    assert maintenance.prune(db, 0, 0, 0, now=now) == maintenance.Pruned(0, 0, 0)  # 0 keeps everything
