"""Plan forms reached the way people reach them: from the deal tab ("create a plan for this client"), editing
a plan, and the contact card's tab. Real HTTP against the sandbox portal."""

from __future__ import annotations

import html
import re

import pytest

from tests.integration.test_ui_support import Frame, seed_plans, webhook

pytestmark = pytest.mark.integration


def hidden_and_checked(page: str, form_id: str) -> dict[str, list[str]]:
    start = page.find(f'id="{form_id}"')
    form = page[start:page.find("</form>", start)]
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or not value:
            continue
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        fields.setdefault(name.group(1), []).append(html.unescape(value.group(1)))
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.findall(r'<option value="([^"]*)"\s*selected', options)
        if chosen:
            fields[name] = [html.unescape(chosen[0])]
    return fields


def test_create_a_plan_from_the_deal_tab_links_that_deal(installed):
    hook = webhook(installed)
    inst = installed.installation
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"],
                                          "order": {"id": "DESC"}})["items"][0]
    deal_id = int(hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Negociación sin plan", "companyId": company["id"], "opportunity": 900, "currencyId": "USD",
        "stageId": "NEW", "categoryId": 0}})["item"]["id"])
    frame = Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": str(deal_id)})
    link = re.search(r'id="create-plan" href="([^"]+)"', frame.page.text).group(1)
    form_page = frame.get(html.unescape(link)).text
    assert html.escape(company["title"]) in form_page
    fields = hidden_and_checked(form_page, "plan-form")
    assert fields["deals"] == [str(deal_id)] and fields["client"] == [f"CO_{company['id']}"]
    fields.update({"amount": ["15000"], "currency": ["USD"], "probability": ["75"], "assigned_by_id": ["3"],
                   "period": ["month"], "begindate": ["2026-12-01"]})
    saved = frame.http.post(installed.live.url + "/plans/save", data=fields, allow_redirects=False, timeout=60)
    assert saved.status_code == 303 and f"/placements/deal/{deal_id}" in saved.headers["Location"]
    deal = hook.call("crm.item.get", {"entityTypeId": 2, "id": deal_id})["item"]
    plan_id = int(deal[f"parentId{inst.entity_type_id}"])
    plan = hook.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": plan_id})["item"]
    assert plan["opportunity"] == 15000 and plan["assignedById"] == 3 and plan["companyId"] == company["id"]
    assert plan["title"].endswith(" · dic 2026") and plan["closedate"][:10] == "2026-12-31"  # Spanish user
    back = frame.get(saved.headers["Location"]).text.replace("\xa0", " ")
    assert "15.000,00 US$" in back and "María López" in back and "11.250,00 US$" in back  # probable = 75 %


def test_edit_a_plan_changes_it_and_unlinks_unticked_deals(installed):
    hook = webhook(installed)
    inst = installed.installation
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"], "order": {"id": "ASC"}})["items"][1]
    [plan_id] = seed_plans(hook, inst, [{"title": "Plan a editar", "companyId": company["id"], "opportunity": 5000,
                                         "currencyId": "USD", "assignedById": 1, "begindate": "2026-11-01",
                                         "closedate": "2026-11-30", inst.field_map["PROBABILITY"]: 30}])
    deals = [int(hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": f"Deal {n}", "companyId": company["id"], "opportunity": 100, "currencyId": "USD",
        "stageId": "NEW", "categoryId": 0, f"parentId{inst.entity_type_id}": plan_id}})["item"]["id"]) for n in (1, 2)]
    frame = Frame(installed)
    page = frame.get(f"/plans/{plan_id}/edit").text
    fields = hidden_and_checked(page, "plan-form")
    assert sorted(fields["deals"]) == sorted(str(d) for d in deals)
    assert 'value="5000"' in page and 'value="30"' in page
    # a whole calendar month reopens as the month preset (issue 16, item 6)
    assert fields["currency"] == ["USD"] and fields["assigned_by_id"] == ["1"] and fields["period"] == ["month"]
    fields.update({"amount": ["6500,25"], "deals": [str(deals[0])], "probability": ["45"]})
    saved = frame.http.post(installed.live.url + "/plans/save", data=fields, allow_redirects=False, timeout=60)
    assert saved.status_code == 303
    plan = hook.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": plan_id})["item"]
    assert plan["opportunity"] == 6500.25 and plan[inst.field_map["PROBABILITY"]] == 45
    parents = {d: hook.call("crm.item.get", {"entityTypeId": 2, "id": d})["item"][f"parentId{inst.entity_type_id}"]
               for d in deals}
    assert int(parents[deals[0]]) == plan_id and not parents[deals[1]]


def test_contact_tab_lists_the_contacts_plans(installed):
    hook = webhook(installed)
    inst = installed.installation
    contact = hook.call("crm.item.list", {"entityTypeId": 3, "select": ["id", "name", "lastName"],
                                          "order": {"id": "ASC"}})["items"][0]
    seed_plans(hook, inst, [{"title": f"Plan de contacto {m}", "contactId": contact["id"], "opportunity": 100 * m,
                             "currencyId": "EUR", "assignedById": 2, "begindate": f"2026-0{m}-01",
                             "closedate": f"2026-0{m}-28"} for m in (1, 2, 3)])
    frame = Frame(installed, "/placements/client", placement="CRM_CONTACT_DETAIL_TAB",
                  options={"ID": str(contact["id"])})
    page = frame.page.text
    assert f"{contact['name']} {contact['lastName']}" in html.unescape(page)
    titles = re.findall(r"Plan de contacto (\d)", page)
    assert titles == ["3", "2", "1"]  # newest period first
    assert page.count('class="bar-plan"') == 3
    assert f"client=C_{contact['id']}" in page  # "new plan" is prefilled with this contact


def test_a_user_without_crm_rights_sees_no_plans(installed):
    hook = webhook(installed)
    inst = installed.installation
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"]})["items"][0]
    seed_plans(hook, inst, [{"title": "Plan reservado", "companyId": company["id"], "opportunity": 100,
                             "currencyId": "USD", "assignedById": 1, "begindate": "2026-11-01",
                             "closedate": "2026-11-30"}])
    # user 5 (Sofía, accountant) has no CRM access in the sandbox portal: the portal applies that, not the app
    frame = Frame(installed, user_id=5)
    assert frame.page.status_code == 403 and "Bitrix24 no le permite ver esto" in frame.page.text
    assert "Plan reservado" not in frame.page.text and html.escape(company["title"]) not in frame.page.text
    assert frame.get("/settings").status_code == 403  # not a portal admin
    manager = Frame(installed, user_id=3)  # "own" CRM access: sees the page, not Ana's plan
    assert manager.page.status_code == 200 and "Plan reservado" not in manager.page.text
    assert manager.get("/settings").status_code == 403


def test_editing_a_plan_that_was_deleted_says_it_no_longer_exists(installed):
    hook = webhook(installed)
    inst = installed.installation
    [plan_id] = seed_plans(hook, inst, [{"title": "Plan borrado", "opportunity": 1000, "currencyId": "USD",
                                         "assignedById": 1, "begindate": "2026-11-01", "closedate": "2026-11-30"}])
    hook.call("crm.item.delete", {"entityTypeId": inst.entity_type_id, "id": plan_id})
    response = Frame(installed).get(f"/plans/{plan_id}/edit")
    assert response.status_code == 404
    assert "ya no existe en Bitrix24" in response.text
    assert "no respondió a tiempo" not in response.text
