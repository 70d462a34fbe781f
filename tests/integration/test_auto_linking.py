"""Auto-linking over real HTTP: a person's deal in the sandbox portal → its event → the worker links it to the
client's one active plan for its date (or puts it "to decide"), a person's unlink is never undone, reconcile
catches deals whose events were lost."""

from __future__ import annotations

import html
import re

import pytest
from test_reconcile import drain, faults, quiet, settle
from test_worker import money

from b24app import linkstore
from sync import reconcile
from tests.integration.test_ui_support import Frame

pytestmark = pytest.mark.integration


def new_company(user, title: str = "Cliente recurrente") -> int:
    return int(user.hook.call("crm.item.add", {"entityTypeId": 4, "fields": {"title": title}})["item"]["id"])


def plan_for(user, company: int, begin: str, end: str, amount: int = 4000, **extra) -> int:
    return user.add_plan(amount, companyId=company, begindate=begin, closedate=end, **extra)


def client_deal(user, company: int, amount: int, closedate: str, stage: str = "NEW", **extra) -> int:
    fields = {"title": f"Deal {amount}", "opportunity": amount, "currencyId": "USD", "stageId": stage,
              "categoryId": 0, "companyId": company, "closedate": closedate, **extra}
    return int(user.hook.call("crm.item.add", {"entityTypeId": 2, "fields": fields})["item"]["id"])


def plan_of(user, deal: int) -> int:
    item = user.hook.call("crm.item.get", {"entityTypeId": 2, "id": deal})["item"]
    return int(item.get(user.parent) or 0)


def waiting(installed) -> dict[int, list[int]]:
    db = installed.live.db()
    try:
        return {p.deal_id: [c.id for c in p.candidates] for p in linkstore.pending(db, installed.member_id)}
    finally:
        db.close()


def run_reconcile(installed) -> None:
    db = installed.live.db()
    try:
        outcome = reconcile.reconcile_all(installed.live.config, db, installed.member_id)[installed.member_id]
    finally:
        db.close()
    assert outcome.error is None and not outcome.failed, outcome


def test_a_new_deal_of_a_client_with_one_plan_for_its_date_is_linked_and_counted(user, installed, sandbox):
    company = new_company(user)
    q4 = plan_for(user, company, "2026-10-01", "2026-12-31", 4000)
    q1 = plan_for(user, company, "2027-01-01", "2027-03-31", 4000)
    other = plan_for(user, new_company(user, "Otro"), "2026-10-01", "2026-12-31", 4000)
    quiet(sandbox, installed)
    deal = client_deal(user, company, 1000, "2026-11-20", stage="WON")
    settle(sandbox, installed)  # the deal's add event: linked, and Q4 recomputed in the same drain
    assert plan_of(user, deal) == q4
    assert user.figures(q4)["EXECUTED"] == money(1000) and user.figures(q4)["REMAINDER"] == money(3000)
    assert user.figures(q1)["EXECUTED"] == 0 and user.figures(other)["EXECUTED"] == 0
    quiet(sandbox, installed)  # the app's own write comes back as an update event: nothing more happens
    assert plan_of(user, deal) == q4 and waiting(installed) == {}
    rows = installed.live.rows("SELECT action FROM audit_log WHERE action = 'deal.auto_linked'")
    assert len(rows) == 1
    # moving the close date later does not move a linked deal
    user.update(2, deal, closedate="2027-02-01")
    quiet(sandbox, installed)
    assert plan_of(user, deal) == q4


def test_two_candidate_plans_put_the_deal_to_decide_and_one_click_links_it(user, installed, sandbox):
    company = new_company(user, "Analítica del Bajío")
    q4 = plan_for(user, company, "2026-10-01", "2026-12-31", 4000)
    dec = plan_for(user, company, "2026-12-01", "2026-12-31", 1500, currencyId="EUR")
    quiet(sandbox, installed)
    deal = client_deal(user, company, 700, "2026-12-20")
    quiet(sandbox, installed)
    assert plan_of(user, deal) == 0
    assert waiting(installed) == {deal: [q4, dec]}
    settings = Frame(installed, "/").get("/settings").text
    assert "1 negociación por decidir" in settings[settings.index('id="auto-link"'):]

    page = Frame(installed, "/").page.text
    block = page[page.index('id="to-decide"'):]
    block = block[:block.index("</section>")]
    assert "Analítica del Bajío" in html.unescape(block) and "Deal 700" in block
    # a manager with "own" CRM access sees neither the deal nor its plans (the admin's): no list for them
    assert 'id="to-decide"' not in Frame(installed, "/", user_id=3).page.text
    frame = Frame(installed, "/")
    listed = frame.get("/", status="P", sort="amount").text  # a filtered, sorted list: it comes back so
    form = re.search(rf'<form[^>]*action="([^"]*to-decide/{deal}/link[^"]*)"[^>]*>(.*?)</form>', listed, re.S)
    assert form is not None
    assert re.findall(r'<option value="(\d+)"', form.group(2)) == [str(q4), str(dec)]
    kept = dict(re.findall(r'<input type="hidden" name="(list_[a-z]+)" value="([^"]*)">', form.group(2)))
    assert kept == {"list_status": "P", "list_sort": "amount"}
    done = frame.post(html.unescape(form.group(1)).split("?")[0], {"plan_id": str(dec), **kept})
    assert done.status_code == 303, done.text[:300]
    assert "status=P" in done.headers["Location"] and "sort=amount" in done.headers["Location"]
    assert plan_of(user, deal) == dec
    assert waiting(installed) == {}
    after = frame.get(done.headers["Location"]).text
    assert 'id="to-decide"' not in after
    # the person's choice stands: reconcile and later updates leave it
    quiet(sandbox, installed)
    run_reconcile(installed)
    assert plan_of(user, deal) == dec


def test_a_persons_unlink_in_the_card_survives_reconcile_and_the_next_update(user, installed, sandbox):
    company = new_company(user)
    q4 = plan_for(user, company, "2026-10-01", "2026-12-31")
    quiet(sandbox, installed)
    deal = client_deal(user, company, 900, "2026-11-05")
    quiet(sandbox, installed)
    assert plan_of(user, deal) == q4
    user.update(2, deal, **{user.parent: 0})  # a person clears the plan in Bitrix24's deal card
    quiet(sandbox, installed)
    assert plan_of(user, deal) == 0
    run_reconcile(installed)
    assert plan_of(user, deal) == 0
    user.update(2, deal, closedate="2026-11-06", opportunity=950)
    quiet(sandbox, installed)
    assert plan_of(user, deal) == 0 and waiting(installed) == {}
    db = installed.live.db()
    try:
        assert linkstore.decision(db, installed.member_id, deal)["source"] == "card"
    finally:
        db.close()


def test_an_unlink_in_the_deal_tab_is_a_persons_decision(user, installed, sandbox):
    company = new_company(user)
    q4 = plan_for(user, company, "2026-10-01", "2026-12-31")
    quiet(sandbox, installed)
    deal = client_deal(user, company, 900, "2026-11-05")
    quiet(sandbox, installed)
    assert plan_of(user, deal) == q4
    frame = Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": str(deal)})
    assert frame.post(f"/placements/deal/{deal}/unlink", {}).status_code == 303
    quiet(sandbox, installed)
    run_reconcile(installed)
    assert plan_of(user, deal) == 0
    page = Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": str(deal)}).page.text
    assert 'id="decided"' in page and "ya no la vincula por sí sola" in page
    assert 'id="waiting"' not in page


def test_lost_events_are_caught_by_reconcile(user, installed, sandbox):
    company = new_company(user)
    q4 = plan_for(user, company, "2026-10-01", "2026-12-31", 4000)
    q1 = plan_for(user, company, "2027-01-01", "2027-03-31", 4000)
    dec = plan_for(user, company, "2027-01-01", "2027-01-31", 4000)
    quiet(sandbox, installed)
    faults(sandbox, drop_events=1)
    one = client_deal(user, company, 1200, "2026-11-20", stage="WON")
    two = client_deal(user, company, 300, "2027-01-15")  # Q1 and January: to decide
    assert settle(sandbox, installed).claimed == 0
    faults(sandbox, drop_events=0)
    assert plan_of(user, one) == 0
    run_reconcile(installed)
    assert plan_of(user, one) == q4 and plan_of(user, two) == 0
    assert user.figures(q4)["EXECUTED"] == money(1200)
    assert waiting(installed) == {two: [q1, dec]}
    # the deal is lost: it leaves the list at the next reconcile even if its event is lost too
    faults(sandbox, drop_events=1)
    user.update(2, two, stageId="LOSE")
    settle(sandbox, installed)
    faults(sandbox, drop_events=0)
    run_reconcile(installed)
    assert waiting(installed) == {}


class TestSettingOff:
    @pytest.fixture
    def live_app_config(self):
        return {"AUTO_LINK": False}

    def test_nothing_is_linked(self, user, installed, sandbox):
        company = new_company(user)
        plan_for(user, company, "2026-10-01", "2026-12-31")
        quiet(sandbox, installed)
        deal = client_deal(user, company, 900, "2026-11-05")
        quiet(sandbox, installed)
        run_reconcile(installed)
        assert plan_of(user, deal) == 0 and waiting(installed) == {}
        assert drain(installed).claimed == 0
        settings = Frame(installed, "/").get("/settings").text
        assert "No (B24_AUTO_LINK)" in settings[settings.index('id="auto-link"'):]


def selected_option(page: str) -> str:
    select = re.search(r'<select name="plan_id" id="plan_id">(.*?)</select>', page, re.S).group(1)
    return re.search(r'<option value="(\d+)" selected>', select).group(1)


def test_the_deal_tab_preselects_the_plan_holding_the_close_date_and_warns_otherwise(user, installed, sandbox):
    """Issue 16 item 5: a deal closing 30 Dec 2026 was offered the newest plan (Q1 2027) first."""
    company = new_company(user)
    q4 = plan_for(user, company, "2026-10-01", "2026-12-31")
    q1 = plan_for(user, company, "2027-01-01", "2027-03-31")
    deal = client_deal(user, company, 500, "2026-12-30")  # the worker does not run: the deal stays unlinked

    def tab() -> str:
        return Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB",
                     options={"ID": str(deal)}).page.text

    page = tab()
    assert selected_option(page) == str(q4) and 'id="preselect-warning"' not in page
    user.update(2, deal, closedate="2027-06-15")  # no plan holds it: the nearest, with a warning
    page = tab()
    assert selected_option(page) == str(q1) and 'id="preselect-warning"' in page
    assert "fuera de la fecha de cierre" in page
    dec = plan_for(user, company, "2026-12-01", "2026-12-31", currencyId="EUR")
    user.update(2, deal, closedate="2026-12-30", currencyId="EUR")  # two hold it: the deal's currency first
    page = tab()
    assert selected_option(page) == str(dec) and "Varios planes activos" in page
    quiet(sandbox, installed)  # now the worker runs: two candidates, so it waits
    page = tab()
    assert 'id="waiting"' in page and plan_of(user, deal) == 0


def test_a_new_plan_for_a_waiting_deals_date_links_it(user, installed, sandbox):
    company = new_company(user)
    q4 = plan_for(user, company, "2026-10-01", "2026-12-31")
    quiet(sandbox, installed)
    deal = client_deal(user, company, 800, "2027-02-10")  # no plan holds February: it waits
    quiet(sandbox, installed)
    assert waiting(installed) == {deal: [q4]} and plan_of(user, deal) == 0
    q1 = plan_for(user, company, "2027-01-01", "2027-03-31")  # next quarter's plan: the one for its date
    quiet(sandbox, installed)
    assert plan_of(user, deal) == q1 and waiting(installed) == {}
