"""The planning grid in headless Chromium through the sandbox shell: paste a 3 × 4 block copied from a Spanish
spreadsheet (tab-separated, decimal comma, thousands points) into the grid, save, see the change set, write it,
and find the twelve plans in the portal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from b24app.rest import B24Client

pytestmark = pytest.mark.browser
BLOCK = "1.234,50\t2.000\t15,5\t300\n10\t20\t30\t40\n7.000,25\t0\t1\t99,99\n"


def test_paste_a_block_into_the_grid_and_save_it(installed, page, shot):
    sandbox = installed.live.sandbox
    inst = installed.installation
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    ids = sandbox.portal.add_items(4, [{"title": f"AAA Rejilla {n}"} for n in range(3)])
    for company in ids:  # a January plan each, so the three clients are the grid's first rows
        hook.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
            "title": "enero", "companyId": company, "opportunity": 100, "currencyId": "EUR",
            "isManualOpportunity": "Y", "begindate": "2027-01-01", "closedate": "2027-01-31",
            "stageId": inst.stage_map["P"], "categoryId": inst.category_id}})

    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = page.frame_locator(".app-frame iframe").first
    frame.locator("h1", has_text="Planes de ventas").wait_for()
    frame.locator("#open-grid").click()
    frame.locator("#grid-filters input[name=year]").fill("2027")
    frame.locator("#grid-filters button[type=submit]").click()
    frame.locator("h1", has_text="Planificación 2027").wait_for()
    first = frame.locator("tr.grid-row").first
    assert "AAA Rejilla 0" in first.inner_text()

    february = first.locator("input.cell[data-period='2027-02']")
    february.click()
    february.evaluate("""(el, text) => {
        const data = new DataTransfer();
        data.setData('text/plain', text);
        el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
    }""", BLOCK)
    assert frame.locator("input.cell.dirty").count() == 12
    assert frame.locator("tr.grid-row").nth(2).locator("input.cell[data-period='2027-05']").input_value() == "99,99"
    shot("20-grid-pasted")

    frame.locator("#grid-save").click()
    report = frame.locator("#change-set")
    report.wait_for()
    assert report.get_attribute("data-create") == "12", report.inner_text()
    assert report.get_attribute("data-change") == "0"
    assert "12 por crear, 0 por cambiar" in report.inner_text()
    assert len(hook.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": ["id"],
                                                "filter": {">=begindate": "2027-02-01"}}, items_key="items")) == 0
    shot("21-grid-preview")
    frame.locator("#grid-confirm").click()
    frame.locator("#change-set[data-complete='yes']").wait_for()
    assert frame.locator("input.cell.dirty").count() == 0
    shot("22-grid-saved")

    written = hook.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id,
                                              "filter": {">=begindate": "2027-02-01"},
                                              "select": ["companyId", "begindate", "opportunity", "currencyId"]},
                            items_key="items")
    got = {(int(p["companyId"]), p["begindate"][:7]): Decimal(str(p["opportunity"])) for p in written}
    assert len(got) == 12
    assert got[(ids[0], "2027-02")] == Decimal("1234.5") and got[(ids[0], "2027-03")] == 2000
    assert got[(ids[2], "2027-02")] == Decimal("7000.25") and got[(ids[2], "2027-05")] == Decimal("99.99")
    assert {p["currencyId"] for p in written} == {"EUR"}  # the row's currency for its new cells
