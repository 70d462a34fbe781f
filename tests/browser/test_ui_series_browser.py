"""'Plan the next period' in headless Chromium through the sandbox shell: from a monthly plan's row to the
pre-filled form with its checkable sum, saved, and both plans linked. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from b24app.rest import B24Client

pytestmark = pytest.mark.browser
NBSP = "\xa0"


def text_of(locator) -> str:
    return locator.inner_text().replace(NBSP, " ").replace("\u202f", " ").replace("\u2009", " ")


def test_plan_the_next_period_from_the_plans_page(installed, page, shot):
    sandbox = installed.live.sandbox
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    inst = installed.installation
    f, enums = inst.field_map, inst.enum_map
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"],
                                          "order": {"id": "ASC"}})["items"][0]
    plan_id = int(hook.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
        "title": "Serie mensual", "companyId": company["id"], "opportunity": 4000, "currencyId": "USD",
        "isManualOpportunity": "Y", "assignedById": 1, "begindate": "2026-03-01", "closedate": "2026-03-31",
        f["PROBABILITY"]: 60, f["EXECUTED"]: 1000, f["RECURRENCE"]: enums["RECURRENCE"]["MONTHLY"],
        f["CARRYOVER"]: enums["CARRYOVER"]["SHORTFALL"], f["GROWTH"]: 5}})["item"]["id"])

    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = page.frame_locator(".app-frame iframe").first
    row = frame.locator(f'#plans tr[data-plan="{plan_id}"]')
    row.wait_for()
    assert row.locator(".next-not-yet").get_attribute("title") == "Siguiente período aún sin planificar"
    row.locator(f'[data-plan-next="{plan_id}"]').click()
    frame.locator("#series-sum").wait_for()
    shot("series-01-next-period-form")
    assert frame.locator("#begindate").input_value() == "2026-04-01"
    assert frame.locator("#closedate").input_value() == "2026-04-30"
    assert frame.locator("#amount").input_value() == "7200"
    total = text_of(frame.locator('#series-sum [data-part="total"]'))
    assert total.startswith("7.200,00")
    frame.locator("#growth").fill("5000")
    frame.locator("#save-plan").click()
    frame.locator(".alert-error").wait_for()
    assert "El crecimiento debe estar entre -100 % y 1000 %." in text_of(frame.locator("#series"))
    frame.locator("#growth").fill("5")
    frame.locator("#save-plan").click()
    frame.locator("#notice").wait_for()
    assert "Plan guardado." in text_of(frame.locator("#notice"))
    shot("series-02-saved")
    previous = hook.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": plan_id})["item"]
    successor = int(previous[f["SUCCESSOR"]])
    item = hook.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": successor})["item"]
    assert item["opportunity"] == 7200 and int(item[f["PREDECESSOR"]]) == plan_id
    planned = frame.locator(f'#plans tr[data-plan="{plan_id}"] .next-planned')
    assert planned.get_attribute("title") == "Siguiente período planificado"
    assert planned.get_attribute("data-next") == str(successor)
