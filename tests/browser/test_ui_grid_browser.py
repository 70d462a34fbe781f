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


def test_fill_right_copy_last_year_and_split_a_year(installed, page, shot):
    sandbox = installed.live.sandbox
    inst = installed.installation
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    company = sandbox.portal.add_items(4, [{"title": "AAA Estacional"}])[0]
    last_year = [100 * (m + 1) for m in range(12)]  # 100 in January ... 1200 in December: 7800 a year
    plans = [(f"2026-{m + 1:02d}", amount) for m, amount in enumerate(last_year)] + [("2027-01", 50)]
    for month, amount in plans:
        year, mm = int(month[:4]), int(month[5:])
        end = {2: 28}.get(mm, 30 if mm in (4, 6, 9, 11) else 31)
        hook.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
            "title": month, "companyId": company, "opportunity": amount, "currencyId": "USD",
            "isManualOpportunity": "Y", "begindate": f"{month}-01", "closedate": f"{year}-{mm:02d}-{end}",
            "stageId": inst.stage_map["P"], "categoryId": inst.category_id}})

    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = page.frame_locator(".app-frame iframe").first
    frame.locator("#open-grid").click()
    frame.locator("#grid-filters input[name=year]").fill("2027")
    frame.locator("#grid-filters button[type=submit]").click()
    frame.locator("h1", has_text="Planificación 2027").wait_for()
    row = frame.locator("tr.grid-row", has_text="AAA Estacional")
    cells = row.locator("input.cell")

    def values():
        return [cells.nth(i).input_value() for i in range(12)]

    january = cells.nth(0)
    january.fill("1.500,5")
    frame.locator("#fill-right").click()
    assert values() == ["1.500,5"] * 12
    january.click()
    frame.locator("#copy-pct").fill("10")
    frame.locator("#copy-last").click()
    assert values() == ["110", "220", "330", "440", "550", "660", "770", "880", "990", "1100", "1210", "1320"]
    frame.locator("#split-total").fill("7.800")
    frame.locator("#split-season").click()
    assert values() == [str(a) for a in last_year]  # last year's shape, this year's total
    frame.locator("#split-total").fill("1.000")
    frame.locator("#split-even").click()
    assert values() == ["83,33"] * 11 + ["83,37"]  # the cents left over go to the last period
    shot("23-grid-filled")
    frame.locator("#grid-save").click()
    report = frame.locator("#change-set")
    report.wait_for()
    assert report.get_attribute("data-create") == "11" and report.get_attribute("data-change") == "1"
    frame.locator("#grid-confirm").click()
    frame.locator("#change-set[data-complete='yes']").wait_for()
    written = hook.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id,
                                              "filter": {"companyId": company, ">=begindate": "2027-01-01"},
                                              "select": ["begindate", "opportunity", "currencyId"]}, items_key="items")
    amounts = sorted((p["begindate"][:7], Decimal(str(p["opportunity"]))) for p in written)
    assert amounts == [(f"2027-{m:02d}", Decimal("83.33")) for m in range(1, 12)] + [("2027-12", Decimal("83.37"))]
    assert {p["currencyId"] for p in written} == {"USD"}
