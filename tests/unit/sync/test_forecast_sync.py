"""Forecast, risk flag, snapshots and queued alerts through recompute and reconcile (simulated dates)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sync_fakes import ETI, FIELD_MAP, STAGE_MAP, FakePortal

from b24app import alertstore, planstore
from b24app.installations import Installation, InstallationStore
from sync import recompute, reconcile

FULL_MAP = {**FIELD_MAP, "FORECAST": "ufCrm7Forecast", "RISK": "ufCrm7Risk"}
MID = date(2026, 1, 15)  # plans run 2026-01-01 .. 2026-01-30: half the period elapsed


@pytest.fixture
def inst(db) -> Installation:
    installation = Installation(member_id="m1", domain="portal.test", client_endpoint="http://portal.test/rest/",
                                access_token="a" * 20, refresh_token="r" * 20, application_token="t" * 20,
                                type_id=7, entity_type_id=ETI, category_id=9, field_map=dict(FULL_MAP),
                                stage_map=dict(STAGE_MAP))
    return InstallationStore(db).save(installation)


def issue_plan(portal: FakePortal) -> tuple[int, int, int]:
    plan = portal.add_plan("10000", closedate="2026-01-30", assignedById=5, title="ACME 2026-01")
    portal.items[2][portal.add_deal(plan, "2000", won=True)]["movedTime"] = "2026-01-05T10:00:00+00:00"
    half = portal.add_deal(plan, "5000")
    quarter = portal.add_deal(plan, "4000")
    portal.items[2][half]["probability"] = 50
    portal.items[2][quarter]["probability"] = 25
    return plan, half, quarter


def test_the_issue_example_forecast_5500_at_risk_then_fulfilled_and_cleared(portal, db, inst):
    plan, half, quarter = issue_plan(portal)
    recompute.recompute_plans(portal, db, inst, [plan], today=MID)
    row = portal.plan(plan)
    assert (row["ufCrm7Forecast"], row["ufCrm7Risk"], row["stageId"]) == (5500, "Y", STAGE_MAP["P"])
    for deal in (half, quarter):
        portal.items[2][deal].update(stageSemanticId="S", movedTime="2026-01-16T09:00:00+00:00")
    recompute.recompute_plans(portal, db, inst, [plan], today=MID + timedelta(days=1))
    row = portal.plan(plan)
    assert (row["ufCrm7Forecast"], row["ufCrm7Risk"], row["stageId"]) == (11000, "N", STAGE_MAP["S"])
    assert [a["kind"] for a in alertstore.pending(db, "m1")] == [alertstore.AT_RISK, alertstore.FULFILLED]


def test_unchanged_forecast_is_not_written_again_and_no_alert_is_queued_twice(portal, db, inst):
    plan, _, _ = issue_plan(portal)
    recompute.recompute_plans(portal, db, inst, [plan], today=MID)
    writes = len(portal.updates)
    portal.items[ETI][plan]["ufCrm7Risk"] = "1"  # a portal answering booleans as 1/0: the same flag
    recompute.recompute_plans(portal, db, inst, [plan], today=MID)
    reconcile.reconcile_installation(portal, db, inst, today=MID)
    assert len(portal.updates) == writes
    assert len(alertstore.pending(db, "m1")) == 1


def test_a_plan_recovering_and_falling_again_in_one_period_is_alerted_once(portal, db, inst):
    plan, half, _ = issue_plan(portal)
    recompute.recompute_plans(portal, db, inst, [plan], today=MID)
    portal.items[2][half]["probability"] = 100  # forecast 11,000 and on pace (50 % won at 50 % elapsed)
    portal.items[2][portal.add_deal(plan, "3000", won=True)]["movedTime"] = "2026-01-14T10:00:00+00:00"
    recompute.recompute_plans(portal, db, inst, [plan], today=MID)
    assert portal.plan(plan)["ufCrm7Risk"] == "N"
    portal.items[2][half]["probability"] = 0
    recompute.recompute_plans(portal, db, inst, [plan], today=MID)
    assert portal.plan(plan)["ufCrm7Risk"] == "Y"
    assert len(alertstore.pending(db, "m1")) == 1


def test_a_plan_ending_unfulfilled_queues_its_alert_and_keeps_its_frozen_forecast(portal, db, inst):
    plan, _, _ = issue_plan(portal)
    recompute.recompute_plans(portal, db, inst, [plan], today=MID)
    reconcile.reconcile_installation(portal, db, inst, today=date(2026, 1, 31))
    row = portal.plan(plan)
    assert row["stageId"] == STAGE_MAP["F"] and row["ufCrm7Forecast"] == 2000 and row["ufCrm7Risk"] == "N"
    assert [a["kind"] for a in alertstore.pending(db, "m1")] == [alertstore.AT_RISK, alertstore.UNFULFILLED]
    late = portal.add_deal(plan, "9000", won=True)  # won inside the period, seen after the close: history stays
    portal.items[2][late]["movedTime"] = "2026-01-20T10:00:00+00:00"
    recompute.recompute_plans(portal, db, inst, [plan], today=date(2026, 2, 3))
    assert portal.plan(plan)["ufCrm7Forecast"] == 2000 and portal.plan(plan)["stageId"] == STAGE_MAP["F"]


def test_one_snapshot_a_day_from_what_was_read_plus_one_per_write(portal, db, inst):
    plan, half, _ = issue_plan(portal)
    for offset in range(5):
        recompute.recompute_plans(portal, db, inst, [plan], today=date(2026, 1, 10) + timedelta(days=offset))
        recompute.recompute_plans(portal, db, inst, [plan], today=date(2026, 1, 10) + timedelta(days=offset))
    history = planstore.plan_history(db, "m1", plan)
    assert [h["day"] for h in history] == [f"2026-01-{d}" for d in range(10, 15)]
    assert [h["kind"] for h in history] == ["write", "daily", "daily", "daily", "daily"]
    assert history[-1]["forecast"] == "5500.00" and history[-1]["open_pipeline"] == "9000.00"
    assert history[-1]["at_risk"] == 1 and history[-1]["status"] == "P"
