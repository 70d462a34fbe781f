"""Reconcile and period end: every open plan from the portal's state, in ⌈P/2500⌉ + ⌈D/2500⌉ + ... calls."""

from __future__ import annotations

from datetime import date

from sync_fakes import FIELD_MAP, STAGE_MAP

from b24app import planstore
from b24app.rest.clients import ClientsFrom
from sync import periods, reconcile


def config(portal):
    return {"DATABASE": ":memory:", "CLIENTS": ClientsFrom(lambda inst: portal)}


def test_reconcile_fixes_every_open_plan_in_few_calls_and_rebuilds_the_index(portal, db, inst):
    plans = [portal.add_plan("1000") for _ in range(60)]
    deals = [portal.add_deal(plan, "250", won=True) for plan in plans]
    closed = portal.add_plan("1000", stage="F", closedate="2020-01-31")
    portal.add_deal(closed, "999", won=True)
    db.table("deal_plan").insert({"member_id": "m1", "deal_id": 99999, "plan_id": plans[0]})  # stale row
    results = reconcile.reconcile_all(config(portal), db, today=date(2026, 6, 1))
    outcome = results["m1"]
    assert sorted(outcome.updated) == plans  # the closed plan is not touched
    assert portal.plan(plans[0])[FIELD_MAP["EXECUTED"]] == 250
    assert portal.plan(closed).get(FIELD_MAP["EXECUTED"]) is None
    # rates (1) + plans (1) + deals (1) + ⌈60/50⌉ write batches (2)
    assert portal.http_calls == 5
    index = planstore.plans_of_deals(db, "m1", [*deals, 99999])
    assert index == dict(zip(deals, plans, strict=True))
    portal.http_calls = 0
    assert reconcile.reconcile_all(config(portal), db)["m1"].updated == []
    assert portal.http_calls == 3  # nothing changed: nothing written


def test_reconcile_one_portal_by_member_id(portal, db, inst):
    plan = portal.add_plan("1000")
    assert reconcile.reconcile_all(config(portal), db, member_id="other") == {}
    assert portal.http_calls == 0
    assert reconcile.reconcile_all(config(portal), db, member_id="m1")["m1"].updated \
        == [plan]


def test_close_periods_moves_ended_unfulfilled_plans_to_no_cumplido(portal, db, inst):
    ended = portal.add_plan("1000", closedate="2026-03-31")
    fulfilled = portal.add_plan("1000", closedate="2026-03-31")
    running = portal.add_plan("1000", closedate="2026-12-31")
    portal.add_deal(fulfilled, "1000", won=True)
    periods.close_periods(config(portal), db, today=date(2026, 4, 1))
    stages = {p: portal.plan(p)["stageId"] for p in (ended, fulfilled, running)}
    assert stages == {ended: STAGE_MAP["F"], fulfilled: STAGE_MAP["S"], running: STAGE_MAP["P"]}


def test_reconcile_reports_progress_for_reads_and_each_write_batch(portal, db, inst):
    plans = [portal.add_plan("1000") for _ in range(70)]
    seen = []
    reconcile.reconcile_installation(portal, db, inst, today=date(2026, 6, 1),
                                     progress=lambda label, done, total: seen.append((label, done, total)))
    assert [s[0] for s in seen[:3]] == ["rates", "plans", "deals"]
    writes = [s for s in seen if s[0] == "writes"]
    assert writes == [("writes", 0, len(plans)), ("writes", 50, 70), ("writes", 20, 70)]


def test_reconcile_sweeps_fulfilled_plans_but_not_closed_ones(portal, db, inst):
    fulfilled = portal.add_plan("1000", stage="S")  # its won deal was un-won while the event was lost
    portal.add_deal(fulfilled, "1000", won=False)
    closed = portal.add_plan("1000", stage="F")  # closed by a person before its period ended
    portal.add_deal(closed, "1000", won=True)
    outcome = reconcile.reconcile_installation(portal, db, inst, today=date(2026, 6, 1))
    assert outcome.updated == [fulfilled]
    assert portal.plan(fulfilled)["stageId"] == STAGE_MAP["P"]
    assert portal.plan(fulfilled)[FIELD_MAP["REMAINDER"]] == 1000
    assert portal.plan(closed)["stageId"] == STAGE_MAP["F"]
