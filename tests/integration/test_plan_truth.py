"""Plan truth over time, end to end over the sandbox: what a finance lead signs must not move later.

Each scenario drives the portal through its webhook (a person's script), lets the portal deliver its
events and processes the inbox once per step (no sleeps: ``settle`` waits for the portal's queue to be
idle, then drains). Simulated dates are a ``today`` handed to the jobs and, where a deal must have been
won on another day, its ``movedTime`` set in the sandbox's state (``won_on``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from test_worker import User, money, wait_for

from sync import periods, worker
from tests.integration.test_ui_support import Frame

pytestmark = pytest.mark.integration



def drain(installed) -> worker.DrainStats:
    db = installed.live.db()
    try:
        return worker.drain_once(installed.live.config, db)
    finally:
        db.close()


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


def company_id(user: User, n: int = 0) -> int:
    return int(user.hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"], "order": {"id": "ASC"}})
               ["items"][n]["id"])


def test_a_deal_won_after_the_period_is_not_counted_and_is_shown_as_such(user, installed, sandbox):
    client = company_id(user)
    q1 = user.add_plan(5000, "USD", begindate="2026-01-01", closedate="2026-03-31", companyId=client)
    q2 = user.add_plan(5000, "USD", begindate="2026-04-01", closedate="2026-06-30", companyId=client)
    inside = user.add_deal(q1, 1000, "USD", stage="WON")
    late = user.add_deal(q1, 3000, "USD", stage="WON")
    user.update(2, late, companyId=client)
    won_on(sandbox, inside, "2026-02-10T11:00:00+01:00")
    won_on(sandbox, late, "2026-04-15T10:00:00+02:00")  # two weeks after the period
    settle(sandbox, installed)
    assert user.figures(q1)["EXECUTED"] == money(1000)  # the late win is not counted
    tab = Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": str(late)}).page.text
    assert "Ganado fuera del período de este plan — no cuenta" in tab and 'id="this-deal-outside"' in tab
    assert f'class="period-plan" data-plan="{q2}"' in tab  # one click to the client's plan of April
    form = Frame(installed).get(f"/plans/{q1}/edit").text
    assert f'data-deal="{late}"' in form and f'data-deal="{inside}"' not in form


def recorded_rates_in(installed, day: datetime, **rates: str) -> None:
    """The app had recorded these rates on ``day`` (a simulated past: the portal only knows today's)."""
    from b24app import ratestore

    db = installed.live.db()
    try:
        rows = [{"CURRENCY": "USD", "AMOUNT": "1.0000", "AMOUNT_CNT": "1", "DECIMALS": "2", "BASE": "Y"},
                *({"CURRENCY": c, "AMOUNT": a, "AMOUNT_CNT": "1", "DECIMALS": "2", "BASE": "N"}
                  for c, a in rates.items())]
        assert ratestore.record(db, installed.member_id, rows, "test", now=day)
    finally:
        db.close()


def test_a_rate_changed_after_a_win_changes_nothing_of_that_plan(user, installed, sandbox):
    recorded_rates_in(installed, datetime(2026, 1, 1, tzinfo=UTC), EUR="1.0900")  # EUR was 1.09 in January
    january = user.add_plan(10000, "USD")
    deal = user.add_deal(january, 9200, "EUR", stage="WON")
    won_on(sandbox, deal, "2026-01-20T10:00:00+01:00")
    settle(sandbox, installed)
    assert user.figures(january)["EXECUTED"] == money("10028.00") and user.stage_semantics(january) == "S"
    set_rate(user, "EUR", "1.0700")  # June: EUR falls; the currency event sweeps every open and fulfilled plan
    settle(sandbox, installed)
    assert user.figures(january)["EXECUTED"] == money("10028.00") and user.stage_semantics(january) == "S"
    june = user.add_plan(10000, "USD")
    user.add_deal(june, 1000, "EUR", stage="WON")  # won after the change: the new rate
    settle(sandbox, installed)
    assert user.figures(june)["EXECUTED"] == money("1070.00")
    tab = Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": str(deal)}).page.text
    assert f'class="counted-at" data-deal="{deal}" data-rate="1.09"' in tab  # which rate it was counted at


def test_a_closed_period_keeps_its_figures_when_a_late_event_arrives(user, installed, sandbox):
    q1 = user.add_plan(1000, "USD", begindate="2026-01-01", closedate="2026-03-31")
    deal = user.add_deal(q1, 1000, "USD", stage="WON")
    won_on(sandbox, deal, "2026-02-10T11:00:00+01:00")
    settle(sandbox, installed)
    assert user.stage_semantics(q1) == "S" and user.figures(q1)["EXECUTED"] == money(1000)
    user.update(2, deal, stageId="NEW")  # months after the close, someone un-wins the deal
    settle(sandbox, installed)
    assert user.stage_semantics(q1) == "S" and user.figures(q1)["EXECUTED"] == money(1000)  # history


def test_a_reopened_ended_plan_stays_open_until_its_new_date(user, installed, sandbox):
    ended = user.add_plan(5000, "USD", begindate="2026-01-01", closedate="2026-03-31")
    settle(sandbox, installed)
    assert user.stage_semantics(ended) == "F"  # its period is over, unfulfilled
    frame = Frame(installed)
    refused = frame.post(f"/plans/{ended}/status", {"status": "P", "back": "plans"})
    assert refused.status_code == 400
    until = date.today() + timedelta(days=30)
    reopened = frame.post(f"/plans/{ended}/status", {"status": "P", "back": "plans", "closedate": until.isoformat()})
    assert reopened.status_code == 303
    settle(sandbox, installed)
    assert user.stage_semantics(ended) == "P" and user.plan(ended)["closedate"][:10] == until.isoformat()
    db = installed.live.db()
    try:
        periods.close_periods(installed.live.config, db, today=until + timedelta(days=1))
    finally:
        db.close()
    assert user.stage_semantics(ended) == "F"  # followed until the new end, then closed again


def add_stage(user: User, installed, code: str, name: str, semantics: str, sort: int) -> str:
    """An admin adds a stage to the plans' pipeline in the portal's settings; returns its stage id."""
    inst = installed.installation
    entity = f"DYNAMIC_{inst.entity_type_id}_STAGE_{inst.category_id}"
    user.hook.call("crm.status.add", {"fields": {"ENTITY_ID": entity, "STATUS_ID": code, "NAME": name,
                                                 "SORT": sort, "SEMANTICS": semantics}})
    rows = user.hook.call("crm.status.list", {"filter": {"ENTITY_ID": entity}})
    return next(r["STATUS_ID"] for r in rows if r["STATUS_ID"].endswith(f":{code}"))


def test_stages_an_admin_added_survive_recompute(user, installed, sandbox):
    negotiation = add_stage(user, installed, "NEGOTIATION", "En negociación", "", 20)
    cancelled = add_stage(user, installed, "CANCELLED", "Cancelado", "F", 80)
    talking = user.add_plan(10000, "USD")
    dropped = user.add_plan(10000, "USD")
    settle(sandbox, installed)
    user.update(user.eti, talking, stageId=negotiation, categoryId=installed.installation.category_id)
    user.update(user.eti, dropped, stageId=cancelled, categoryId=installed.installation.category_id)
    user.add_deal(talking, 1000, "USD", stage="WON")
    user.add_deal(dropped, 1000, "USD", stage="WON")
    settle(sandbox, installed)
    assert user.plan(talking)["stageId"] == negotiation and user.figures(talking)["EXECUTED"] == money(1000)
    assert user.plan(dropped)["stageId"] == cancelled  # a person's close, not moved to the app's own stages
    db = installed.live.db()
    try:
        from sync import reconcile

        reconcile.reconcile_all(installed.live.config, db)
    finally:
        db.close()
    assert user.plan(talking)["stageId"] == negotiation
    user.add_deal(talking, 9000, "USD", stage="WON")  # the figures demand a move: fulfilled
    settle(sandbox, installed)
    assert user.stage_semantics(talking) == "S"


@pytest.fixture
def utc_minus_6(monkeypatch, sandbox):
    """The sandbox portal's server runs at UTC-6 (its answers carry -06:00), from before the install."""
    import importlib

    wire = importlib.import_module(type(sandbox.portal).__module__.rsplit(".", 1)[0] + ".wire")
    monkeypatch.setattr(wire, "PORTAL_TZ", timezone(timedelta(hours=-6)))


def test_a_utc_minus_6_portal_closes_its_plans_at_its_own_midnight(utc_minus_6, user, installed, sandbox):
    assert installed.installation.time_zone == "-06:00"  # read from server.time at install
    minus_6 = timezone(timedelta(hours=-6))
    last_day = datetime.now(minus_6).date()  # the plan's period ends today, portal time
    plan = user.add_plan(5000, "USD", begindate=f"{last_day.year}-01-01", closedate=last_day.isoformat())
    settle(sandbox, installed)
    assert user.stage_semantics(plan) == "P"
    evening = datetime(last_day.year, last_day.month, last_day.day, 21, 0, tzinfo=minus_6)  # 03:00 UTC next day

    def close_at(moment: datetime) -> None:
        db = installed.live.db()
        try:
            periods.close_periods(installed.live.config, db, now=moment)
        finally:
            db.close()

    close_at(evening)
    assert user.stage_semantics(plan) == "P"  # the server's UTC date is already the next day; the portal's is not
    close_at(evening + timedelta(hours=3, minutes=30))  # 00:30 the next day, portal time
    assert user.stage_semantics(plan) == "F"


def form_fields(page: str) -> dict[str, list[str]]:
    """What the browser would submit from the plan form: its inputs, checked boxes and selected options."""
    import re

    form = page[page.find('id="plan-form"'):page.find("</form>", page.find('id="plan-form"'))]
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if not name or ('type="checkbox"' in tag and "checked" not in tag):
            continue
        fields.setdefault(name.group(1), []).append(value.group(1) if value else "")
    for select, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', options)
        fields[select] = [chosen.group(1)] if chosen else []
    return fields


def test_the_edit_form_keeps_a_foreign_client_deal_linked(user, installed, sandbox):
    mine, other = company_id(user, 0), company_id(user, 1)
    plan = user.add_plan(5000, "USD", companyId=mine)
    own = user.add_deal(plan, 1000, "USD", stage="WON")
    user.update(2, own, companyId=mine)
    foreign = user.add_deal(plan, 2000, "USD", stage="WON")  # linked from the deal's own card
    user.update(2, foreign, companyId=other)
    settle(sandbox, installed)
    frame = Frame(installed)
    page = frame.get(f"/plans/{plan}/edit").text
    assert f'data-foreign-deal="{foreign}"' in page  # listed, flagged as another client's
    fields = form_fields(page)
    fields["amount"] = ["6000"]
    saved = frame.http.post(frame.base + "/plans/save", data={**fields, "_s": frame.s}, allow_redirects=False,
                            timeout=60)
    assert saved.status_code == 303, saved.text[:2000]
    settle(sandbox, installed)
    assert int(user.hook.call("crm.item.get", {"entityTypeId": 2, "id": foreign})["item"][user.parent]) == plan
    assert user.figures(plan)["EXECUTED"] == money(3000)


def test_a_person_s_cancel_survives_a_concurrent_worker_write(user, installed, sandbox, monkeypatch):
    from sync import recompute

    plan = user.add_plan(1000, "USD")
    deal = user.add_deal(plan, 1000, "USD", stage="WON")
    settle(sandbox, installed)
    assert user.stage_semantics(plan) == "S"
    user.update(2, deal, stageId="NEW")  # un-won: the worker will move the plan back to Activo...
    assert sandbox.portal.dispatcher.wait_idle(15)
    fail_stage = installed.installation.stage_map["F"]
    read = recompute.read_plans_and_deals

    def read_then_a_person_cancels(*args, **kwargs):
        found = read(*args, **kwargs)
        monkeypatch.setattr(recompute, "read_plans_and_deals", read)
        user.update(user.eti, plan, stageId=fail_stage, categoryId=installed.installation.category_id)
        return found  # ...computed from a read made before the person's cancel

    monkeypatch.setattr(recompute, "read_plans_and_deals", read_then_a_person_cancels)
    drain(installed)
    settle(sandbox, installed)
    assert user.plan(plan)["stageId"] == fail_stage  # the person's cancel stands


def test_frames_work_while_the_stored_token_is_refused(user, installed, sandbox):
    from b24app.installations import NEEDS_REAUTH, InstallationStore
    from tests.integration.test_ui_support import open_frame

    db = installed.live.db()
    try:  # the stored refresh token was refused (invalid_grant): the worker stops using it
        store = InstallationStore(db)
        store.save_tokens(installed.member_id, "dead-access-token", "dead-refresh-token", 0)
        store.set_status(installed.member_id, NEEDS_REAUTH)
    finally:
        db.close()
    plan = user.add_plan(4000, "USD")
    user.add_deal(plan, 1000, "USD", stage="WON")
    assert sandbox.portal.dispatcher.wait_idle(15)
    assert drain(installed).skipped >= 1  # events wait: nobody may use the refused tokens
    manager = Frame(installed, user_id=2)  # a manager's own token works as ever
    assert 'id="plans"' in manager.page.text and 'id="reauth-banner"' not in manager.page.text
    _, no_refresh = open_frame(installed, user_id=1, REFRESH_ID="")
    admin = Frame(installed, user_id=1, REFRESH_ID="")
    assert 'id="reauth-banner"' in admin.page.text and no_refresh.status_code == 303  # the admin is told
    Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": "1"}, user_id=1)
    assert installed.installation.is_active  # an admin opened the app: the worker resumes
    user.add_deal(plan, 500, "USD", stage="WON")
    settle(sandbox, installed)
    assert user.figures(plan)["EXECUTED"] == money(1500)
