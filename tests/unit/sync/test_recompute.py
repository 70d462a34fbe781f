"""Recompute: figures written back, only what changed, in few calls; the deal→plan index follows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sync_fakes import FIELD_MAP, PARENT, STAGE_MAP

from b24app import planstore
from sync import recompute

TODAY = date(2026, 6, 1)


def figures(portal, plan_id):
    row = portal.plan(plan_id)
    return {s: row.get(FIELD_MAP[s]) for s in ("EXECUTED", "REMAINDER", "EXECUTION", "PROBABLE")}


def test_nothing_won_gives_full_remainder_and_probable_amount(portal, db, inst):
    plan = portal.add_plan("10000", "USD", probability=60)
    portal.add_deal(plan, "3000", "USD")
    portal.add_deal(plan, "2000", "EUR")
    outcome = recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    assert outcome.updated == [plan]
    assert figures(portal, plan) == {"EXECUTED": 0, "REMAINDER": 10000, "EXECUTION": 0, "PROBABLE": 6000}
    assert portal.plan(plan)["stageId"] == STAGE_MAP["P"]


def test_won_deals_in_two_currencies_fill_the_plan_and_move_its_stage(portal, db, inst):
    plan = portal.add_plan("10000", "USD")
    usd = portal.add_deal(plan, "3000", "USD", won=True)
    recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    assert figures(portal, plan)["EXECUTED"] == 3000
    assert figures(portal, plan)["REMAINDER"] == 7000
    assert figures(portal, plan)["EXECUTION"] == 30
    portal.add_deal(plan, "2000", "EUR", won=True)  # 2000 EUR * 1.1 = 2200 USD
    recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    assert figures(portal, plan)["EXECUTED"] == 5200
    portal.items[2][usd]["opportunity"] = 8000.0
    recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    assert figures(portal, plan)["REMAINDER"] == 0
    assert portal.plan(plan)["stageId"] == STAGE_MAP["S"]
    portal.items[2][usd]["stageSemanticId"] = "P"  # un-won: back to Activo
    recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    assert portal.plan(plan)["stageId"] == STAGE_MAP["P"]
    assert figures(portal, plan)["EXECUTED"] == 2200


def test_a_second_recompute_writes_nothing_so_the_event_loop_ends(portal, db, inst):
    plan = portal.add_plan("10000", "USD")
    portal.add_deal(plan, "3333.33", "EUR", won=True)
    recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    writes = len(portal.updates)
    calls = portal.http_calls
    outcome = recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    assert outcome.updated == [] and outcome.unchanged == 1
    assert len(portal.updates) == writes
    assert portal.http_calls == calls + 1  # one read batch, no write


def test_only_changed_fields_are_sent(portal, db, inst):
    plan = portal.add_plan("10000", "USD", probability=60)
    recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    portal.plan(plan)[FIELD_MAP["PROBABILITY"]] = 50.0  # someone edits the probability in the plan card
    recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    assert portal.updates[-1] == (plan, {FIELD_MAP["PROBABLE"]: Decimal("5000.00")})


def test_many_plans_are_read_in_one_batch_and_written_fifty_per_batch(portal, db, inst):
    plans = [portal.add_plan("1000") for _ in range(120)]
    for plan in plans:
        portal.add_deal(plan, "100", won=True)
    outcome = recompute.recompute_plans(portal, db, inst, plans, today=TODAY)
    assert len(outcome.updated) == 120
    # 1 read batch (rates + 3 plan chunks + 3 deal chunks), 1 list to finish the two full deal pages,
    # 3 write batches (50, 50, 20)
    assert portal.http_calls == 1 + 1 + 3


def test_a_plan_with_more_deals_than_a_page_counts_them_all(portal, db, inst):
    plan = portal.add_plan("100000")
    for _ in range(120):
        portal.add_deal(plan, "100", won=True)
    recompute.recompute_plans(portal, db, inst, [plan], today=TODAY)
    assert figures(portal, plan)["EXECUTED"] == 12000


def test_period_over_and_unfulfilled_moves_to_no_cumplido(portal, db, inst):
    plan = portal.add_plan("1000", closedate="2026-05-31")
    portal.add_deal(plan, "100", won=True)
    recompute.recompute_plans(portal, db, inst, [plan], today=date(2026, 5, 31))
    assert portal.plan(plan)["stageId"] == STAGE_MAP["P"]
    recompute.recompute_plans(portal, db, inst, [plan], today=date(2026, 6, 1))
    assert portal.plan(plan)["stageId"] == STAGE_MAP["F"]


def test_index_and_snapshots_follow_what_was_read(portal, db, inst):
    a = portal.add_plan("1000")
    b = portal.add_plan("1000")
    deal = portal.add_deal(a, "400", won=True)
    recompute.recompute_plans(portal, db, inst, [a, b], today=TODAY)
    assert planstore.plans_of_deals(db, "m1", [deal]) == {deal: a}
    portal.items[2][deal][PARENT] = b
    recompute.recompute_plans(portal, db, inst, [a, b], today=TODAY)
    assert planstore.plans_of_deals(db, "m1", [deal]) == {deal: b}
    assert figures(portal, a)["EXECUTED"] == 0 and figures(portal, b)["EXECUTED"] == 400
    snapshots = list(db.query("SELECT plan_id, won, status FROM plan_snapshots ORDER BY id"))
    assert [(s["plan_id"], s["won"]) for s in snapshots] == [(a, "400.00"), (b, "0.00"), (a, "0.00"),
                                                              (b, "400.00")]
    actions = [r["action"] for r in db.query("SELECT action FROM audit_log")]
    assert actions.count("plan.recomputed") == 4


def test_a_failed_write_is_reported_and_others_still_written(portal, db, inst):
    a = portal.add_plan("1000")
    b = portal.add_plan("1000")
    portal.fail_updates.add(a)
    outcome = recompute.recompute_plans(portal, db, inst, [a, b], today=TODAY)
    assert outcome.updated == [b]
    assert "CRM_FIELD_ERROR_VALUE_NOT_VALID" in outcome.failed[a]
