"""Plan truth over time, end to end over the sandbox: what a finance lead signs must not move later.

Each scenario drives the portal through its webhook (a person's script), lets the portal deliver its
events and processes the inbox once per step (no sleeps: ``settle`` waits for the portal's queue to be
idle, then drains). Simulated dates are a ``today`` handed to the jobs and, where a deal must have been
won on another day, its ``movedTime`` set in the sandbox's state (``won_on``).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_worker import User, money, wait_for

from b24app.rest import B24Client
from sync import worker
from tests.integration.test_ui_support import Frame

pytestmark = pytest.mark.integration


@pytest.fixture
def user(installed, sandbox) -> User:
    inst = installed.installation
    return User(B24Client.for_webhook(sandbox.webhook_url, installed.live.config), int(inst.entity_type_id),
                dict(inst.field_map))


def drain(installed) -> worker.DrainStats:
    db = installed.live.db()
    try:
        return worker.drain_once(installed.live.config, db)
    finally:
        db.conn.close()


def settle(sandbox, installed) -> None:
    """Process until no event is left (the app's own writes come back as events once)."""
    def step() -> int:
        assert sandbox.portal.dispatcher.wait_idle(15)
        return drain(installed).claimed

    wait_for(step, lambda n: n == 0, "portal and inbox quiet")


def won_on(sandbox, deal_id: int, moment: str) -> None:
    """Make the sandbox remember the deal as won at ``moment`` (its ``movedTime``, read-only over REST)."""
    portal = sandbox.portal
    with portal.lock:
        item = dict(portal.store.items(2)[deal_id])
        item["movedTime"] = moment
        portal.store.save_item(2, item)


def set_rate(user: User, currency: str, amount: str) -> None:
    user.hook.call("crm.currency.update", {"id": currency, "fields": {"AMOUNT": amount}})


def test_a_deal_converting_to_9999_996864_fulfils_a_10000_plan(user, installed, sandbox):
    set_rate(user, "EUR", "1.0912")
    settle(sandbox, installed)
    plan = user.add_plan(10000, "USD")
    user.add_deal(plan, Decimal("9164.22"), "EUR", stage="WON")  # 9,164.22 × 1.0912 = 9,999.996864 USD
    settle(sandbox, installed)
    figures = user.figures(plan)
    assert (figures["EXECUTED"], figures["REMAINDER"], figures["EXECUTION"]) == (money(10000), money(0), money(100))
    assert user.stage_semantics(plan) == "S"


def test_a_probability_out_of_range_is_flagged_and_not_used_as_is(user, installed, sandbox):
    plan = user.add_plan(10000, "USD", probability=150)
    user.add_deal(plan, 1000, "USD", stage="WON")
    settle(sandbox, installed)
    assert user.figures(plan)["PROBABLE"] == money(10000)  # counted as 100 %, not 150 %
    negative = user.add_plan(10000, "USD", probability=-20)
    user.add_deal(negative, 1000, "USD", stage="WON")
    settle(sandbox, installed)
    assert user.figures(negative)["PROBABLE"] == money(0)
    page = Frame(installed).page.text  # the plans list (Spanish) says so on both rows
    assert page.count("Probabilidad fuera de rango") == 2
