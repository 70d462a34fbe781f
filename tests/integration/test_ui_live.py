"""Pages that follow the numbers: figures right after a save (F22), the change poll of open pages (F21)."""

from __future__ import annotations

import html
import re

import pytest

from b24app.db import connect
from b24app.rest import B24Client
from sync import recompute
from tests.integration.test_ui_forms import hidden_and_checked
from tests.integration.test_ui_support import Frame, companies, seed_plans, webhook

pytestmark = pytest.mark.integration


def plain(text: str) -> str:
    return html.unescape(text).replace("\xa0", " ").replace("\u202f", " ")


def row_of(page: str, plan_id: int) -> str:
    found = re.search(rf'<tr[^>]*data-plan="{plan_id}".*?</tr>', page, re.S)
    assert found, "plan row not on the page"
    return plain(re.sub(r"<[^>]+>", " ", found.group(0)))


def worker_recompute(installed, plan_ids: list[int]) -> recompute.Outcome:
    """What the worker does after an event: recompute with the admin tokens, write what changed."""
    inst = installed.installation
    db = connect(installed.live.config["DATABASE"])
    try:
        with B24Client.for_installation(inst.member_id, installed.live.config) as client:
            return recompute.recompute_plans(client, db, inst, plan_ids)
    finally:
        db.close()


@pytest.fixture
def plan_with_won_deal(installed):
    hook = webhook(installed)
    inst = installed.installation
    company = companies(hook)[0]
    [plan_id] = seed_plans(hook, inst, [{"title": "Plan vivo", "companyId": company["id"], "opportunity": 10000,
                                         "currencyId": "USD", "assignedById": 1, "begindate": "2026-10-01",
                                         "closedate": "2026-12-31", inst.field_map["PROBABILITY"]: 50}])
    deal_id = int(hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Ganada", "companyId": company["id"], "opportunity": 4000, "currencyId": "USD",
        "stageId": "WON", "categoryId": 0, f"parentId{inst.entity_type_id}": plan_id}})["item"]["id"])
    worker_recompute(installed, [plan_id])
    return plan_id, deal_id


def test_after_saving_a_plan_the_page_shows_the_new_probable_and_remainder(installed, plan_with_won_deal):
    plan_id, _ = plan_with_won_deal
    frame = Frame(installed)
    before = row_of(frame.page.text, plan_id)
    assert "5.000,00 US$" in before and "6.000,00 US$" in before  # probable 50 % of 10.000; 10.000 - 4.000 won

    fields = hidden_and_checked(frame.get(f"/plans/{plan_id}/edit").text, "plan-form")
    fields.update({"amount": ["18000"], "probability": ["25"]})
    saved = frame.post("/plans/save", {k: v for k, v in fields.items() if k not in ("_s", "csrf_token")})
    assert saved.status_code == 303
    after = row_of(frame.get(saved.headers["Location"]).text, plan_id)
    assert "18.000,00 US$" in after
    assert "4.500,00 US$" in after    # probable: 25 % of 18.000, not the old 5.000
    assert "14.000,00 US$" in after   # remainder: 18.000 - 4.000, not the old 6.000
    assert "22,2" in after            # execution 4.000 / 18.000


def test_the_change_poll_reports_a_recompute_by_the_worker(installed, plan_with_won_deal):
    plan_id, deal_id = plan_with_won_deal
    hook = webhook(installed)
    frame = Frame(installed)
    src = re.search(r'data-live-src="([^"]+)"', frame.page.text)
    assert src, "the plans page does not poll"
    poll = html.unescape(src.group(1))
    assert frame.get(poll).json() == {"changed": False}

    hook.call("crm.item.update", {"entityTypeId": 2, "id": deal_id, "fields": {"opportunity": 7000}})
    assert frame.get(poll).json() == {"changed": False}  # the portal changed, the worker has not run yet
    outcome = worker_recompute(installed, [plan_id])
    assert outcome.updated == [plan_id]
    assert frame.get(poll).json() == {"changed": True}
    reload_url = html.unescape(re.search(r'data-live-reload="([^"]+)"', frame.page.text).group(1))
    assert "7.000,00 US$" in row_of(frame.get(reload_url).text, plan_id)


def test_the_deal_tab_polls_for_its_plan(installed, plan_with_won_deal):
    plan_id, deal_id = plan_with_won_deal
    hook = webhook(installed)
    frame = Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": str(deal_id)})
    poll = html.unescape(re.search(r'data-live-src="([^"]+)"', frame.page.text).group(1))
    assert frame.get(poll).json() == {"changed": False}
    hook.call("crm.item.update", {"entityTypeId": 2, "id": deal_id, "fields": {"stageId": "LOSE"}})
    worker_recompute(installed, [plan_id])
    assert frame.get(poll).json() == {"changed": True}


def test_the_change_poll_needs_a_session(installed):
    import requests

    answer = requests.get(installed.live.url + "/api/changes", params={"plans": "1", "after": "0"}, timeout=30)
    assert answer.status_code == 401 and "changed" not in answer.text
