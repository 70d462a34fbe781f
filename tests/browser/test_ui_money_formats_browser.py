"""Issue 16 item 13 in headless Chromium through the sandbox shell: the plans page writes a ruble amount the way
the portal's currency settings say for the person's language (es, en, ru; 1280 and 360 px)."""

from __future__ import annotations

import pytest
from test_ui_browser import app_frame

from b24app.rest import B24Client
from placements import reference_data

pytestmark = pytest.mark.browser
HEADING = {"la": "Planes de ventas", "en": "Sales plans", "ru": "Планы продаж"}
FORMATS = {  # what an admin set in the portal's currency settings, per language
    "la": {"FORMAT_STRING": "#&nbsp;₽", "DEC_POINT": ",", "THOUSANDS_VARIANT": "S", "HIDE_ZERO": "Y"},
    "en": {"FORMAT_STRING": "RUB #", "DEC_POINT": ".", "THOUSANDS_VARIANT": "C", "HIDE_ZERO": "N"},
    "ru": {"FORMAT_STRING": "#&nbsp;руб.", "DEC_POINT": ",", "THOUSANDS_VARIANT": "B", "HIDE_ZERO": "Y"},
}
SHOWN = {"la": "1 234 567\xa0₽", "en": "RUB 1,234,567.00", "ru": "1\xa0234\xa0567\xa0руб."}


@pytest.mark.parametrize("width", [1280, 360])
@pytest.mark.parametrize("lang", ["la", "en", "ru"])
def test_a_ruble_amount_is_written_as_the_portal_writes_it(installed, page, shot, lang, width):
    sandbox = installed.live.sandbox
    inst = installed.installation
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    plan = int(hook.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
        "title": "Plan en rublos", "companyId": 1, "begindate": "2026-11-01", "closedate": "2026-11-30",
        "opportunity": 1234567, "currencyId": "RUB", "isManualOpportunity": "Y"}})["item"]["id"])
    hook.call("crm.currency.update", {"id": "RUB", "fields": {"LANG": FORMATS}})
    reference_data.reference_cache._data.clear()  # as after the 5 minutes the currencies are kept

    page.set_viewport_size({"width": width, "height": 800})
    page.context.add_cookies([{"name": "b24sb_lang", "value": lang, "url": sandbox.url}])
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("h1", has_text=HEADING[lang]).wait_for()
    cell = frame.locator(f'#plans tr[data-plan="{plan}"] td.col-amount')
    assert cell.inner_text().strip() == SHOWN[lang]
    assert frame.locator("body").evaluate("b => b.scrollWidth") <= width + 2
    shot(f"money-format-{lang}-{width}px")
