"""Auto-linking in headless Chromium through the sandbox shell: a deal whose client has two plans for its date
waits in the plans page's "to decide" list, and one click links it."""

from __future__ import annotations

import pytest
from test_ui_browser import app_frame, text_of

from b24app.rest import B24Client

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 360])
def test_one_click_links_a_deal_to_decide(installed, running_worker, page, shot, width):
    sandbox = installed.live.sandbox
    inst = installed.installation
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    company = int(hook.call("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Tomás Analítica"}})["item"]["id"])
    plans = [int(hook.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
        "title": title, "companyId": company, "begindate": begin, "closedate": end, "opportunity": 4000,
        "currencyId": "USD", "isManualOpportunity": "Y"}})["item"]["id"])
        for title, begin, end in (("Tomás · T4 2026", "2026-10-01", "2026-12-31"),
                                  ("Tomás · dic 2026", "2026-12-01", "2026-12-31"))]
    deal = int(hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Panel navideño", "companyId": company, "opportunity": 650, "currencyId": "USD",
        "stageId": "NEW", "categoryId": 0, "closedate": "2026-12-20"}})["item"]["id"])

    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("h1", has_text="Planes de ventas").wait_for()
    row = frame.locator(f'#to-decide tr[data-deal="{deal}"]')
    for _ in range(50):  # the worker puts the deal in the list within a drain or two; reload until it shows
        if row.count():
            break
        page.wait_for_timeout(200)
        page.reload()
        frame = app_frame(page)
        frame.locator("h1", has_text="Planes de ventas").wait_for()
        row = frame.locator(f'#to-decide tr[data-deal="{deal}"]')
    assert "Tomás Analítica" in text_of(row) and "Varios planes incluyen esta fecha" in text_of(row)
    assert frame.locator("body").evaluate("b => b.scrollWidth") <= width + 2
    shot(f"autolink-to-decide-{width}px")
    row.locator("select").select_option(str(plans[1]))
    row.locator("button").click()
    frame.locator("#notice").wait_for()
    assert f"La negociación {deal} quedó vinculada al plan elegido." in text_of(frame.locator("#notice"))
    assert frame.locator("#to-decide").count() == 0
    item = hook.call("crm.item.get", {"entityTypeId": 2, "id": deal})["item"]
    assert int(item[f"parentId{inst.entity_type_id}"]) == plans[1]
    shot(f"autolink-linked-{width}px")


TAB = {"la": "Plan de ventas", "en": "Sales plan", "ru": "План продаж"}
OUTSIDE = {"la": "fuera de la fecha de cierre", "en": "outside the deal's close date", "ru": "вне даты закрытия сделки"}
WARNING = {"la": "Ningún plan activo incluye", "en": "No active plan holds", "ru": "Ни один активный план не включает"}


@pytest.mark.parametrize("width", [1280, 360])
@pytest.mark.parametrize("lang", ["la", "en", "ru"])
def test_the_deal_tab_preselects_the_plan_for_the_close_date(installed, page, shot, lang, width):
    """Issue 16 item 5: a deal closing 30 Dec 2026 is offered Q4 2026 first, not the newest plan (Q1 2027); a
    deal whose date no plan holds gets the nearest one and a warning."""
    sandbox = installed.live.sandbox
    inst = installed.installation
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    company = int(hook.call("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Bajío Datos"}})["item"]["id"])
    plans = {}
    for key, begin, end in (("q4", "2026-10-01", "2026-12-31"), ("q1", "2027-01-01", "2027-03-31")):
        plans[key] = int(hook.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
            "title": f"Bajío · {key}", "companyId": company, "begindate": begin, "closedate": end,
            "opportunity": 4000, "currencyId": "USD", "isManualOpportunity": "Y"}})["item"]["id"])
    deal = int(hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Cierre de año", "companyId": company, "opportunity": 650, "currencyId": "USD",
        "stageId": "NEW", "categoryId": 0, "closedate": "2026-12-30"}})["item"]["id"])  # no worker: stays unlinked

    page.set_viewport_size({"width": width, "height": 800})
    page.context.add_cookies([{"name": "b24sb_lang", "value": lang, "url": sandbox.url}])

    def open_tab():
        page.goto(f"{sandbox.url}/crm/deal/details/{deal}/")
        page.locator("a.app-tab", has_text=TAB[lang]).click()
        tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
        tab.locator("#link-form").wait_for()
        return tab

    tab = open_tab()
    assert tab.locator("#plan_id").input_value() == str(plans["q4"])
    assert tab.locator("#preselect-warning").count() == 0
    assert OUTSIDE[lang] in text_of(tab.locator(f'#plan_id option[value="{plans["q1"]}"]'))
    hook.call("crm.item.update", {"entityTypeId": 2, "id": deal, "fields": {"closedate": "2027-06-15"}})
    tab = open_tab()
    assert tab.locator("#plan_id").input_value() == str(plans["q1"])
    assert WARNING[lang] in text_of(tab.locator("#preselect-warning"))
    width_now = tab.locator("body").evaluate("b => [b.scrollWidth, b.clientWidth]")
    assert width_now[0] <= width_now[1] + 2, width_now
    shot(f"autolink-deal-tab-{lang}-{width}px")
