"""The whole product in headless Chromium through the sandbox shell, framed exactly as Bitrix24 frames it:
open the plans page, create a plan, link a deal from the deal tab, win the deal, watch the remainder change.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import time

import pytest

from b24app.rest import B24Client

pytestmark = pytest.mark.browser
NBSP = "\xa0"


def text_of(locator) -> str:
    return locator.inner_text().replace(NBSP, " ").replace("\u202f", " ").replace("\u2009", " ")


def app_frame(page):
    return page.frame_locator(".app-frame iframe").first


def test_plan_deal_and_remainder_in_the_portal(installed, running_worker, page, shot):
    sandbox = installed.live.sandbox
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"],
                                          "order": {"id": "ASC"}})["items"][0]
    deal_id = int(hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Estudio de mercado navegador", "companyId": company["id"], "opportunity": 4000,
        "currencyId": "USD", "stageId": "NEW", "categoryId": 0}})["item"]["id"])

    # 1. The plans page inside the portal (PLACEMENT=DEFAULT), in Spanish.
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("h1", has_text="Planes de ventas").wait_for()
    assert "Ningún plan coincide" in text_of(frame.locator("#plans"))
    shot("01-plans-page-empty")

    # 2. Create a plan: client picker (search as you type), amount, currency, probability.
    frame.locator("#new-plan").click()
    frame.locator("#client-search").fill(company["title"][:6])
    frame.locator(f'[data-client="CO_{company["id"]}"]').click()
    frame.locator("#amount").fill("10000")
    frame.locator("#currency").select_option("USD")
    frame.locator("#probability").fill("60")
    frame.locator("#period").select_option("year")
    frame.locator("#amount").fill("0")
    frame.locator("#save-plan").click()
    error = frame.locator(".alert-error")
    error.wait_for()
    assert "El importe debe ser mayor que cero." in text_of(error)
    shot("02-plan-form-error")
    frame.locator("#amount").fill("10000")
    frame.locator("#save-plan").click()
    row = frame.locator("#plans tr[data-plan]").first
    row.wait_for()
    assert "Plan guardado." in text_of(frame.locator("#notice"))
    assert "just-saved" in row.get_attribute("class")
    assert company["title"] in text_of(row) and "10.000,00 US$" in text_of(row) and "Activo" in text_of(row)
    assert "6000,00 US$" in text_of(row).replace(".", "")
    frame.locator("#totals tr[data-currency='USD']").wait_for()  # totals arrive with a second request
    assert "10.000,00 US$" in text_of(frame.locator("#totals tr[data-currency='USD']"))
    shot("03-plans-page-with-plan")

    # 3. The deal card's tab: not in a plan yet -> link it to the client's active plan.
    page.goto(f"{sandbox.url}/crm/deal/details/{deal_id}/")
    page.locator("a.app-tab", has_text="Plan de ventas").click()
    tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
    tab.locator("#no-plan").wait_for()
    assert "Esta negociación no está en ningún plan de ventas" in text_of(tab.locator("#no-plan"))
    shot("04-deal-tab-no-plan")
    tab.locator("#link").click()
    tab.locator("#deal-plan").wait_for()
    assert "10.000,00 US$" in text_of(tab.locator("#kpi-remainder"))
    assert "6000,00 US$" in text_of(tab.locator("#kpi-probable")).replace(".", "")
    assert "Ana García" in text_of(tab.locator("#responsible"))
    assert tab.locator("#contacts a[href^='tel:']").count() > 0
    shot("05-deal-tab-linked")

    # 4. Win the deal in the portal (the card's own stage field), then watch the remainder change.
    page.locator("a[data-tab='main']").click()
    page.locator("#f-stage").select_option("WON")
    page.locator(".deal-fields button[type=submit]").click()
    page.wait_for_load_state()
    deadline = time.monotonic() + 30
    remainder = ""
    while time.monotonic() < deadline:
        page.locator("a.app-tab", has_text="Plan de ventas").click()
        tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
        tab.locator("#kpi-remainder").wait_for()
        remainder = text_of(tab.locator("#kpi-remainder"))
        if "6.000,00 US$" in remainder:
            break
        time.sleep(1)
        page.reload()
    assert "6.000,00 US$" in remainder, remainder
    assert "4000,00 US$" in text_of(tab.locator("#kpi-won")).replace(".", "")
    assert re.search(r"40\s?%", text_of(tab.locator("#kpi-execution")))
    shot("06-deal-tab-after-win")

    # 5. The plans page shows the same figures; the company tab lists the plan with its chart.
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    row = app_frame(page).locator("#plans tr[data-plan]").first
    row.wait_for()
    assert "6.000,00 US$" in text_of(row)
    shot("07-plans-page-after-win")
    page.goto(f"{sandbox.url}/crm/company/details/{company['id']}/")
    page.locator("a.app-tab").first.click()
    client_tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
    client_tab.locator("#history tr[data-plan]").first.wait_for()
    assert client_tab.locator("#chart svg .bar-won").count() == 1
    shot("08-company-tab")


def test_plans_page_fits_a_phone(installed, page, shot):
    sandbox = installed.live.sandbox
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("h1", has_text="Planes de ventas").wait_for()
    width = frame.locator("body").evaluate("b => b.scrollWidth")
    assert width <= 360 + 2, f"the page is {width}px wide on a 360px phone"
    shot("09-plans-page-360px")


def test_deal_tab_fits_a_phone(installed, page, shot):
    sandbox = installed.live.sandbox
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    deal = hook.call("crm.item.list", {"entityTypeId": 2, "select": ["id"], "filter": {">companyId": 0}})["items"][0]
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{sandbox.url}/crm/deal/details/{deal['id']}/")
    page.locator("a.app-tab", has_text="Plan de ventas").click()
    tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
    tab.locator("#contacts").wait_for()
    width = tab.locator("body").evaluate("b => b.scrollWidth")
    client_width = tab.locator("body").evaluate("b => b.clientWidth")
    assert width <= client_width + 2, f"the deal tab scrolls sideways ({width}px in {client_width}px)"
    shot("10-deal-tab-360px")


def seed_wide_plans(installed) -> None:
    """Plans with the longest demo names, big amounts in three currencies and every status."""
    from tests.integration.test_ui_support import seed_plans

    hook = B24Client.for_webhook(installed.live.sandbox.webhook_url, installed.live.config)
    inst = installed.installation
    companies = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"], "order": {"id": "ASC"}})["items"]
    specs = []
    for n, (currency, amount) in enumerate((("MXN", 3420000), ("EUR", 19000), ("USD", 1234567.89),
                                            ("USD", 17000), ("MXN", 95000), ("EUR", 2500))):
        specs.append({"title": f"Plan {n}", "companyId": companies[n % len(companies)]["id"], "opportunity": amount,
                      "currencyId": currency, "assignedById": 1 + n % 4, "begindate": "2026-10-01",
                      "closedate": "2026-12-31", "stageId": inst.stage_map["PSF"[n % 3]],
                      inst.field_map["PROBABILITY"]: 60})
    seed_plans(hook, inst, specs)


@pytest.mark.parametrize(("lang", "period_text"), [("la", "1 oct – 31 dic 2026"), ("en", "Oct 1 – Dec 31, 2026"),
                                                   ("ru", "1 окт. — 31 дек. 2026 г.")])
def test_plans_row_fits_a_1280px_laptop(installed, page, shot, lang, period_text):
    sandbox = installed.live.sandbox
    seed_wide_plans(installed)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.add_cookies([{"name": "b24sb_lang", "value": lang, "url": sandbox.url}])
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#plans tr[data-plan]").first.wait_for()
    iframe = page.locator(".app-frame iframe").first.bounding_box()
    right = min(iframe["x"] + iframe["width"], 1280)
    shot(f"11-plans-page-1280px-{lang}")
    wrap = frame.locator("#plans").locator("xpath=..")
    sizes = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
    assert sizes[0] <= sizes[1], f"the plans table scrolls sideways at 1280 px: {sizes}"
    for row in frame.locator("#plans tr[data-plan]").all():
        for cell in (".col-status .badge", ".col-actions .btn", ".col-actions .icon-link", ".col-client a"):
            box = row.locator(cell).bounding_box()
            assert box is not None and box["x"] >= iframe["x"] and box["x"] + box["width"] <= right, (cell, box)
        period = row.locator(".col-period")
        assert period_text in text_of(period)
        lines = period.evaluate("""c => { const r = document.createRange(); r.selectNodeContents(c);
            return Math.round(r.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight)); }""")
        assert lines <= 2, f"the period takes {lines} lines"


def test_removing_a_deal_from_its_plan_asks_for_confirmation(installed, page, shot):
    from tests.integration.test_ui_support import seed_plans

    sandbox = installed.live.sandbox
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    inst = installed.installation
    deal = hook.call("crm.item.list", {"entityTypeId": 2, "select": ["id", "companyId"],
                                       "filter": {">companyId": 0}})["items"][0]
    plan_id = seed_plans(hook, inst, [{"title": "Plan confirmación", "companyId": deal["companyId"],
                                       "opportunity": 1000, "currencyId": "USD", "assignedById": 1,
                                       "begindate": "2026-10-01", "closedate": "2026-12-31"}])[0]
    parent = f"parentId{inst.entity_type_id}"
    hook.call("crm.item.update", {"entityTypeId": 2, "id": deal["id"], "fields": {parent: plan_id}})
    page.goto(f"{sandbox.url}/crm/deal/details/{deal['id']}/")
    page.locator("a.app-tab", has_text="Plan de ventas").click()
    tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
    tab.locator("#deal-plan").wait_for()
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    tab.locator("#unlink").click()
    tab.locator("#deal-plan").wait_for()
    assert questions and questions[0].startswith("¿Quitar esta negociación del plan?")
    linked = hook.call("crm.item.get", {"entityTypeId": 2, "id": deal["id"]})["item"]
    assert int(linked.get(parent) or 0) == plan_id  # "Cancel" changes nothing
    page.once("dialog", lambda d: answer(d, True))
    tab.locator("#unlink").click()
    tab.locator("#notice").wait_for()
    assert "Negociación quitada del plan." in text_of(tab.locator("#notice"))
    assert tab.locator("#no-plan").count() == 1 and len(questions) == 2
    assert not hook.call("crm.item.get", {"entityTypeId": 2, "id": deal["id"]})["item"].get(parent)
    shot("12-deal-tab-unlinked-notice")


def test_totals_fit_a_phone_as_cards(installed, page, shot):
    sandbox = installed.live.sandbox
    seed_wide_plans(installed)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#rollup tr[data-user]").first.wait_for()  # the totals arrive with a second request
    for table in ("#totals-by-currency", "#rollup"):
        wrap = frame.locator(table).locator("xpath=..")
        sizes = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
        assert sizes[0] <= sizes[1], f"{table} scrolls sideways on a 360 px phone: {sizes}"
    card = frame.locator("#totals-by-currency tr[data-currency='MXN']")
    label = card.locator(".t-probable").evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Importe probable"'  # every figure of a card is labelled
    pending = card.locator(".t-remainder").bounding_box()
    body = frame.locator("body").bounding_box()
    assert pending["x"] + pending["width"] <= body["x"] + body["width"]
    shot("13-totals-360px")
