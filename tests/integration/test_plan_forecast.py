"""Forecast and risk through the sandbox portal over real HTTP: the fields written, filterable like any user
field, daily snapshots, and alerts sent once to the responsible in their language."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from test_plan_truth import settle, won_on
from test_worker import money

from b24app import alertstore, planstore
from sync import alerts, reconcile

pytestmark = pytest.mark.integration

# the periods run around the real today (the worker judges by it): 15 of 30 days elapsed
TODAY = datetime.now(UTC).date()
BEGIN, CLOSE = TODAY - timedelta(days=14), TODAY + timedelta(days=15)


def issue_plan(user, sandbox, responsible: int = 1) -> int:
    plan = user.add_plan(10000, begindate=BEGIN.isoformat(), closedate=CLOSE.isoformat(), assignedById=responsible)
    won = user.add_deal(plan, 2000, stage="WON")
    won_on(sandbox, won, f"{BEGIN.isoformat()}T10:00:00+00:00")
    for amount, probability in ((5000, 50), (4000, 25)):
        user.update(2, user.add_deal(plan, amount), probability=probability)
    return plan


def reconcile_on(installed, today: date) -> None:
    db = installed.live.db()
    try:
        reconcile.reconcile_all(installed.live.config, db, member_id=installed.member_id, today=today)
    finally:
        db.close()


def test_forecast_and_risk_are_written_and_filterable_like_any_user_field(user, installed, sandbox):
    plan = issue_plan(user, sandbox)
    calm = user.add_plan(1000, begindate=BEGIN.isoformat(), closedate=CLOSE.isoformat())
    won_on(sandbox, user.add_deal(calm, 1000, stage="WON"), f"{BEGIN.isoformat()}T10:00:00+00:00")
    settle(sandbox, installed)
    reconcile_on(installed, TODAY)
    item = user.plan(plan)
    forecast, risk = user.fields["FORECAST"], user.fields["RISK"]
    assert money(item[forecast]) == money(5500) and item[risk] == "Y"
    assert user.plan(calm)[risk] == "N"

    def ids(flt: dict) -> set[int]:
        rows = user.hook.call("crm.item.list", {"entityTypeId": user.eti, "filter": flt, "select": ["id"]})
        return {int(r["id"]) for r in rows["items"]} & {plan, calm}

    assert ids({risk: 1}) == {plan}  # a boolean user field filters by 1 / 0 (what the portal stores)
    assert ids({risk: 0}) == {calm}
    assert ids({f">={forecast}": 5000}) == {plan}
    assert ids({f"<{forecast}": 5000}) == {calm}
    original = {f"UF_CRM_{installed.installation.type_id}_RISK": 1}  # the original UPPER name filters too
    assert ids(original) == {plan}


def test_each_transition_notifies_the_responsible_once_in_their_language(user, installed, sandbox):
    with sandbox.portal.lock:
        sandbox.portal.store.put("users", {"id": 1}, {**sandbox.portal.user(1), "LANGUAGE_ID": "en"})
    plan = issue_plan(user, sandbox)
    settle(sandbox, installed)
    reconcile_on(installed, TODAY)
    send(installed)
    reconcile_on(installed, TODAY)  # nothing new: no second alert, after a reconcile or a "restart" (new db)
    send(installed)
    bell = sandbox.portal.notifications(1)
    link = f"/marketplace/app/{installed.live.client_id}/?PARAMS=%7B%22plan%22%3A%22{plan}%22%7D"
    assert [n["message"] for n in bell] == [
        f"The sales plan “Plan 2026” is at risk: at this pace it will not be met. Open the plan: "
        f"http://{installed.installation.domain}{link}"]
    db = installed.live.db()
    try:
        assert [a["kind"] for a in alertstore.sent(db, installed.member_id, plan)] == [alertstore.AT_RISK]
        assert planstore.plan_history(db, installed.member_id, plan)[-1]["forecast"] == "5500.00"
    finally:
        db.close()


def send(installed) -> None:
    db = installed.live.db()
    try:
        alerts.send_all(installed.live.config, db, member_id=installed.member_id)
    finally:
        db.close()


def test_the_gap_deal_covers_the_remainder_for_the_plans_client(user, installed, sandbox):
    from test_ui_support import Frame

    company = user.hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"], "order": {"id": "ASC"}})
    company_id = int(company["items"][0]["id"])
    plan = user.add_plan(10000, begindate=BEGIN.isoformat(), closedate=CLOSE.isoformat(), companyId=company_id)
    won_on(sandbox, user.add_deal(plan, 2000, stage="WON"), f"{BEGIN.isoformat()}T10:00:00+00:00")
    user.update(2, user.add_deal(plan, 3000), probability=50)
    settle(sandbox, installed)
    frame = Frame(installed)
    page = frame.get(f"/plans/{plan}/edit").text.replace("\xa0", " ")
    assert "Crear negociación por el pendiente (5.000,00 US$)" in page and page.count('class="won-point"') == 1
    response = frame.post(f"/plans/{plan}/gap-deal", {"back": "plans"})
    assert response.status_code == 303, response.text[:300]
    deals = user.hook.call("crm.item.list", {"entityTypeId": 2, "filter": {user.parent: plan},
                                             "select": ["id", "opportunity", "currencyId", "companyId",
                                                        "closedate"]})["items"]
    new = max(deals, key=lambda d: int(d["id"]))
    assert (money(new["opportunity"]), new["currencyId"], int(new["companyId"])) == (money(5000), "USD", company_id)
    assert str(new["closedate"])[:10] == TODAY.isoformat()
    settle(sandbox, installed)
    assert "gap-deal-form" not in frame.get(f"/plans/{plan}/edit").text  # the open deals now cover it
