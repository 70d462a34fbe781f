"""The deal -> plan index: reconcile merges into it instead of replacing rows newer than its scan."""

from __future__ import annotations

from b24app import planstore
from b24app.db import connect

PARENT = "parentId1030"


def test_reconcile_keeps_rows_written_after_its_scan_began_and_drops_older_unseen_ones():
    db = connect(":memory:")
    db.table("deal_plan").insert_all([
        {"member_id": "m", "deal_id": 1, "plan_id": 10, "updated_at": "2026-06-01T10:00:00+00:00"},  # stale
        {"member_id": "m", "deal_id": 2, "plan_id": 20, "updated_at": "2026-06-01T10:05:01+00:00"},  # newer
    ])
    scanned = "2026-06-01T10:05:00+00:00"
    planstore.update_index(db, "m", [{"id": 3, PARENT: 30, "stageSemanticId": "S",
                                      "movedTime": "2026-05-30T09:00:00+02:00"}], PARENT, scanned_at=scanned)
    assert planstore.plans_of_deals(db, "m", [1, 2, 3]) == {2: 20, 3: 30}
    assert planstore.won_moments(db, "m", [3]) == {3: "2026-05-30T09:00:00+02:00"}


def test_a_deal_still_won_keeps_the_moment_it_was_first_seen_won():
    db = connect(":memory:")
    first = {"id": 3, PARENT: 30, "stageSemanticId": "S", "movedTime": "2026-05-30T09:00:00+02:00"}
    planstore.update_index(db, "m", [first], PARENT, plan_ids=[30])
    planstore.update_index(db, "m", [{**first, "movedTime": "2026-07-01T09:00:00+02:00"}], PARENT, plan_ids=[30])
    assert planstore.won_moments(db, "m", [3]) == {3: "2026-05-30T09:00:00+02:00"}
    planstore.update_index(db, "m", [{**first, "stageSemanticId": "P"}], PARENT, plan_ids=[30])
    assert planstore.won_moments(db, "m", [3]) == {}  # un-won: the next win is a new moment
