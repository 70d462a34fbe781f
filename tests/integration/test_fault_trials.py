"""Fault trials over real HTTP: events dropped, replayed out of order and twice, REST calls failing, every token
expired in the middle of a run. After each, within one reconcile every plan equals what the portal's deals say,
and no inbox row is left unfinished.

The oracle is independent of the app's math: every plan and deal is in USD (the portal's base currency), so a
plan's won amount is the plain sum of its linked deals whose stage is WON.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
import requests
from test_reconcile import drain, faults, quiet
from test_worker import User, money

from b24sandbox.phpform import http_build_query
from sync import reconcile

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLANS, DEALS_PER_PLAN = 6, 4



def seed(user: User, rng: random.Random) -> dict[int, list[tuple[int, int]]]:
    """PLANS plans of 10,000 USD, each with DEALS_PER_PLAN open deals: {plan: [(deal, amount)]}."""
    plans: dict[int, list[tuple[int, int]]] = {}
    for _ in range(PLANS):
        plan = user.add_plan(10000)
        plans[plan] = [(user.add_deal(plan, amount), amount)
                       for amount in (rng.randrange(100, 3000, 100) for _ in range(DEALS_PER_PLAN))]
    return plans


def win_some(user: User, plans: dict[int, list[tuple[int, int]]], rng: random.Random) -> None:
    for deals in plans.values():
        for deal, _amount in deals:
            if rng.random() < 0.5:
                user.update(2, deal, stageId="WON")


def truth(user: User, plans: dict[int, list[tuple[int, int]]]) -> dict[int, Decimal]:
    """What the portal's deals say each plan has won (read back from the portal, not from the app)."""
    won: dict[int, Decimal] = {}
    for plan, deals in plans.items():
        total = Decimal(0)
        for deal, amount in deals:
            item = user.hook.call("crm.item.get", {"entityTypeId": 2, "id": deal})["item"]
            if item["stageId"] == "WON" and int(item.get(user.parent) or 0) == plan:
                total += amount
        won[plan] = money(total)
    return won


def figures(user: User, plans) -> dict[int, Decimal]:
    return {plan: user.figures(plan)["EXECUTED"] for plan in plans}


def reconcile_once(installed) -> None:
    db = installed.live.db()
    try:
        results = reconcile.reconcile_all(installed.live.config, db)
    finally:
        db.close()
    assert all(outcome.error is None and not outcome.failed for outcome in results.values()), results


def unfinished(installed) -> list[dict]:
    return installed.live.rows("SELECT id, event, status FROM inbox WHERE status IN ('pending', 'processing')")


@pytest.mark.parametrize("drop", [0.2, 0.4])
def test_dropped_events_leave_every_plan_right_after_one_reconcile(user, installed, sandbox, drop):
    rng = random.Random(int(drop * 100))
    plans = seed(user, rng)
    quiet(sandbox, installed)
    faults(sandbox, drop_events=drop)
    sandbox.portal.dispatcher.rng = random.Random(1)  # its first draw (0.134) drops: the trial always loses events
    win_some(user, plans, rng)
    assert sandbox.portal.dispatcher.wait_idle(30)
    drain(installed)
    dropped = [d for d in sandbox.portal.deliveries if d.get("error") == "dropped (fault)"]
    assert dropped  # the fault really cost events
    faults(sandbox, drop_events=0)
    reconcile_once(installed)
    assert figures(user, plans) == truth(user, plans)
    quiet(sandbox, installed)  # the app's own writes come back as events: nothing left behind
    assert unfinished(installed) == []


def test_events_replayed_out_of_order_and_twice_change_no_figure(user, installed, sandbox):
    rng = random.Random(7)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    first = len(sandbox.portal.deliveries)
    win_some(user, plans, rng)
    quiet(sandbox, installed)
    right = figures(user, plans)
    assert right == truth(user, plans)
    bodies = [d["payload"] for d in sandbox.portal.deliveries[first:] if d.get("payload")]
    assert bodies
    rng.shuffle(bodies)
    for body in bodies + bodies[: len(bodies) // 2]:  # out of order, half of them twice
        response = requests.post(installed.live.url + "/events", data=http_build_query(body), timeout=10,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200, response.text
    quiet(sandbox, installed)
    assert figures(user, plans) == right
    failed = installed.live.rows("SELECT event, error FROM inbox WHERE status = 'failed' AND error NOT LIKE "
                                 "'superseded%'")
    assert failed == [] and unfinished(installed) == []


def test_failing_rest_calls_are_retried_and_reconcile_finishes_the_job(user, installed, sandbox):
    rng = random.Random(11)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    faults(sandbox, rest_error_rate=0.1, rest_error_kind="mixed")
    win_some(user, plans, rng)
    assert sandbox.portal.dispatcher.wait_idle(30)
    for _ in range(3):
        drain(installed)
    faults(sandbox, rest_error_rate=0)
    reconcile_once(installed)
    assert figures(user, plans) == truth(user, plans)
    quiet(sandbox, installed)
    assert unfinished(installed) == []


def test_every_token_expiring_mid_run_is_refreshed_once_and_nothing_is_lost(user, installed, sandbox):
    rng = random.Random(13)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    before = installed.installation.refresh_token
    win_some(user, plans, rng)
    faults(sandbox, expire_tokens=True)  # every access token the portal issued is now expired
    quiet(sandbox, installed)
    after = installed.installation
    assert after.is_active and after.refresh_token != before  # refreshed (rotated), not locked out
    reconcile_once(installed)
    assert figures(user, plans) == truth(user, plans)
    assert unfinished(installed) == []
