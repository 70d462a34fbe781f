"""The burn-up chart in the deal tab, in headless Chromium through the sandbox shell: five days of snapshots
draw five points, and the chart fits a 360 px phone and a 1280 px laptop. Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from b24app import planstore
from b24app.rest import B24Client

pytestmark = pytest.mark.browser


def plan_with_history(installed) -> int:
    """A plan of a company with a deal, and snapshots on five days of its period (as the daily job leaves)."""
    hook = B24Client.for_webhook(installed.live.sandbox.webhook_url, installed.live.config)
    inst = installed.installation
    today = datetime.now(UTC).date()
    begin = today - timedelta(days=10)
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"], "order": {"id": "ASC"}})["items"][0]
    plan = hook.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
        "title": "Plan con historial", "companyId": company["id"], "opportunity": 10000, "currencyId": "USD",
        "begindate": begin.isoformat(), "closedate": (today + timedelta(days=19)).isoformat(),
        inst.field_map["PROBABILITY"]: 50}})["item"]["id"]
    deal = hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Negociación del plan", "companyId": company["id"], "opportunity": 4000, "currencyId": "USD",
        f"parentId{inst.entity_type_id}": plan, "probability": 50}})["item"]["id"]
    db = installed.live.db()
    try:
        for n in range(5):
            planstore.add_snapshot(db, installed.member_id, plan, amount="10000", currency="USD",
                                   won=str(400 * n), remainder=str(10000 - 400 * n), execution="0", probable="0",
                                   status="P", forecast=str(2000 + 400 * n), open_pipeline="4000",
                                   at_risk=True, day=(begin + timedelta(days=2 * n)).isoformat(),
                                   kind=planstore.DAILY)
    finally:
        db.close()
    return int(deal)


@pytest.mark.parametrize("width", [360, 1280])
def test_the_burn_up_fits_the_screen_and_draws_one_point_a_day(installed, page, shot, width):
    sandbox = installed.live.sandbox
    deal = plan_with_history(installed)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{sandbox.url}/crm/deal/details/{deal}/")
    page.locator("a.app-tab", has_text="Plan de ventas").click()
    tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
    chart = tab.locator("#burnup svg.burnup")
    chart.wait_for()
    assert chart.locator("circle.won-point").count() == 5
    assert tab.locator("#burnup-title").text_content().startswith("Avance del plan")
    box = chart.bounding_box()
    body = tab.locator("body").evaluate("b => b.clientWidth")
    assert box is not None and 0.5 * body < box["width"] <= body, (box, body)
    wide = tab.locator("body").evaluate(
        "b => [...b.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > b.clientWidth + 2)"
        ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)")
    assert tab.locator("body").evaluate("b => b.scrollWidth") <= body + 2, wide
    tab.locator("#burnup-table summary").click()
    assert tab.locator("#burnup-table tbody tr").count() == 5  # the text alternative
    tab.locator("#outlook").scroll_into_view_if_needed()
    shot(f"20-burnup-{width}px")
