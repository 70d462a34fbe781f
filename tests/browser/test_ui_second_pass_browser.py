"""What a person sees in the second UI pass (issue 16): the form's dates are the dates saved, the client picker
ignores accents and says when nothing matched, money sorts across currencies by the base-currency value."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
NBSP = "\xa0"


def app_frame(page):
    return page.frame_locator(".app-frame iframe").first


def open_new_plan(installed, page, width: int = 1280, lang: str = "la"):
    sandbox = installed.live.sandbox
    page.set_viewport_size({"width": width, "height": 800})
    page.context.add_cookies([{"name": "b24sb_lang", "value": lang, "url": sandbox.url}])
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#new-plan").click()
    frame.locator("#plan-form").wait_for()
    return frame


@pytest.mark.parametrize("width", [360, 1280])
def test_a_preset_follows_a_new_start_date(installed, page, shot, width):
    """Periodo = Trimestre, Inicio changed to 01/01/2027: Fin shows 31/03/2027, the end that is saved."""
    frame = open_new_plan(installed, page, width)
    frame.locator("#period").select_option("quarter")
    frame.locator("#begindate").fill("2027-01-01")
    assert frame.locator("#closedate").input_value() == "2027-03-31"
    frame.locator("#begindate").fill("2027-05-17")  # a start inside a quarter: the quarter it is in
    assert frame.locator("#begindate").input_value() == "2027-04-01"
    assert frame.locator("#closedate").input_value() == "2027-06-30"
    frame.locator("#period").select_option("custom")
    frame.locator("#begindate").fill("2027-05-17")  # custom dates stay as typed
    assert frame.locator("#begindate").input_value() == "2027-05-17"
    assert frame.locator("#closedate").input_value() == "2027-06-30"
    shot(f"20-form-preset-dates-{width}px")


@pytest.mark.parametrize(("lang", "words"), [("la", "Ninguna empresa ni contacto"), ("en", "No company or contact"),
                                             ("ru", "Ни одна компания")])
def test_the_client_picker_ignores_accents_and_says_when_nothing_matched(installed, page, shot, lang, words):
    frame = open_new_plan(installed, page, 360, lang)
    frame.locator("#client-search").fill("bajio")
    frame.locator("#client-results button", has_text="Bajío").wait_for()
    frame.locator("#client-search").fill("zzqx")
    none = frame.locator("#client-none")
    none.wait_for()
    assert words in none.inner_text() and "zzqx" in none.inner_text()
    shot(f"21-client-picker-nothing-{lang}")


def test_a_client_picked_before_the_search_delay_leaves_no_stale_list(installed, page):
    frame = open_new_plan(installed, page)
    search = frame.locator("#client-search")
    search.fill("bajio")
    choice = frame.locator("#client-results button", has_text="Bajío")
    choice.wait_for()
    search.fill("baji")  # a new search is pending (the picker waits 250 ms) when the old entry is clicked
    choice.click()
    frame.locator("#client-chosen .chip", has_text="Bajío").wait_for()
    page.wait_for_timeout(1000)  # past the search delay and a loopback answer: a late list would be back by now
    assert frame.locator("#client-results li").count() == 0


def test_closing_a_plan_asks_first_and_says_so_in_the_same_view(installed, page, shot):
    from b24app.rest import B24Client
    from tests.integration.test_ui_support import seed_plans

    sandbox = installed.live.sandbox
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    inst = installed.installation
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    seed_plans(hook, inst, [{"title": f"Plan {n}", "companyId": company["id"], "opportunity": 1000 + n,
                             "currencyId": "USD", "assignedById": 1, "begindate": "2026-12-01",
                             "closedate": "2027-03-31"} for n in range(3)])
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#filters select[name=currency]").select_option("USD")
    frame.locator("#filters button[type=submit]").click()
    frame.locator("#filters select[name=currency] option[value=USD][selected]").wait_for(state="attached")
    frame.locator("#plans th.col-amount a").click()  # sort by amount, then filter by status: the sort stays
    frame.locator("#plans th.col-amount.sorted").wait_for()
    frame.locator("#filters select[name=status]").select_option("P")
    frame.locator("#filters button[type=submit]").click()
    frame.locator("#filters select[name=status] option[value=P][selected]").wait_for(state="attached")  # loaded
    assert frame.locator("#plans th.col-amount.sorted").count() == 1
    frame.locator("#plans tr[data-plan] .col-actions .btn").first.click()
    frame.locator("#status-form").wait_for()
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    frame.locator("[data-status-action=F]").click()
    assert questions and questions[0].startswith("¿Cerrar este plan como no cumplido?")
    assert frame.locator("#status-form").count() == 1  # "Cancel" stays on the form
    page.once("dialog", lambda d: answer(d, True))
    frame.locator("[data-status-action=F]").click()
    frame.locator("#notice").wait_for()
    assert "Plan cerrado como no cumplido." in frame.locator("#notice").inner_text()
    assert frame.locator("#filters select[name=status]").input_value() == "P"
    assert frame.locator("#filters select[name=currency]").input_value() == "USD"
    assert frame.locator("#plans th.col-amount.sorted").count() == 1
    shot("22-closed-back-in-the-same-view")


def expire_sessions(installed) -> int:
    import time

    db = installed.live.db()
    try:
        with db.transaction():
            return db.execute("UPDATE frame_sessions SET expires_at = ?", [time.time() - 5]).rowcount
    finally:
        db.close()


def test_a_session_expiry_keeps_the_view(installed, page, shot):
    sandbox = installed.live.sandbox
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#filters select[name=currency]").select_option("MXN")
    frame.locator("#filters button[type=submit]").click()
    frame.locator("#filters select[name=currency] option[value=MXN][selected]").wait_for(state="attached")
    assert expire_sessions(installed) >= 1
    frame.locator("a[data-sort='responsible']").click()  # refused: the portal posts the frame again
    frame.locator("#plans th.col-responsible.sorted").wait_for()
    assert frame.locator("#filters select[name=currency]").input_value() == "MXN"
    shot("23-view-kept-after-expiry")


def test_a_session_expiry_keeps_a_half_typed_plan(installed, page, shot):
    frame = open_new_plan(installed, page)
    frame.locator("#client-search").fill("bajio")
    frame.locator("#client-results button", has_text="Bajío").click()
    frame.locator("#period").select_option("quarter")
    frame.locator("#begindate").fill("2027-01-01")
    frame.locator("#amount").fill("48500,50")
    frame.locator("#probability").fill("70")
    frame.locator("#title").fill("Plan a medio escribir")
    assert expire_sessions(installed) >= 1
    frame.locator("#save-plan").click()  # refused: the portal posts the frame again, on its default view
    frame.locator("#draft-restored").wait_for()
    assert "Su sesión había caducado" in frame.locator("#draft-restored").inner_text()
    assert frame.locator("#amount").input_value() == "48500,50"
    assert frame.locator("#probability").input_value() == "70"
    assert frame.locator("#title").input_value() == "Plan a medio escribir"
    assert frame.locator("#period").input_value() == "quarter"
    assert frame.locator("#closedate").input_value() == "2027-03-31"
    assert "Bajío" in frame.locator("#client-chosen").inner_text()
    shot("24-draft-kept-after-expiry")
    frame.locator("#save-plan").click()  # the new session saves it
    frame.locator("#notice").wait_for()
    assert "Plan guardado." in frame.locator("#notice").inner_text()


def linked_deal(installed):
    from b24app.rest import B24Client
    from tests.integration.test_ui_support import seed_plans

    hook = B24Client.for_webhook(installed.live.sandbox.webhook_url, installed.live.config)
    inst = installed.installation
    deal = hook.call("crm.item.list", {"entityTypeId": 2, "select": ["id", "companyId"],
                                       "filter": {">companyId": 0}})["items"][0]
    plan_id = seed_plans(hook, inst, [{"title": "Plan de la pestaña", "companyId": deal["companyId"],
                                       "opportunity": 123456.78, "currencyId": "USD", "assignedById": 1,
                                       "begindate": "2026-12-01", "closedate": "2026-12-31"}])[0]
    hook.call("crm.item.update", {"entityTypeId": 2, "id": deal["id"],
                                  "fields": {f"parentId{inst.entity_type_id}": plan_id}})
    return deal


@pytest.mark.parametrize("width", [360, 1280])
def test_the_deal_tabs_figures_leave_none_alone_on_a_row(installed, page, shot, width):
    deal = linked_deal(installed)
    sandbox = installed.live.sandbox
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{sandbox.url}/crm/deal/details/{deal['id']}/")
    page.locator("a.app-tab", has_text="Plan de ventas").click()
    tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
    tab.locator("#deal-plan .kpi").first.wait_for()
    tops = tab.locator("#deal-plan .kpi").evaluate_all("ks => ks.map(k => Math.round(k.getBoundingClientRect().top))")
    rows: dict[int, int] = {}
    for top in tops:
        rows[top] = rows.get(top, 0) + 1
    assert len(tops) == 6 and min(rows.values()) >= 2, rows
    # the progress bar sits beside its percentage
    bar = tab.locator("#kpi-execution .progress").bounding_box()
    text = tab.locator("#kpi-execution .progress-text").bounding_box()
    assert 0 <= text["x"] - (bar["x"] + bar["width"]) <= 12, (bar, text)
    shot(f"25-deal-tab-figures-{width}px")


def test_on_a_phone_the_progress_bar_stays_beside_its_percentage(installed, page):
    from b24app.rest import B24Client
    from tests.integration.test_ui_support import seed_plans

    hook = B24Client.for_webhook(installed.live.sandbox.webhook_url, installed.live.config)
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    seed_plans(hook, installed.installation, [{"title": "Plan", "companyId": company["id"], "opportunity": 100,
                                               "currencyId": "USD", "assignedById": 1, "begindate": "2026-12-01",
                                               "closedate": "2026-12-31"}])
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{installed.live.sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    cell = frame.locator("#plans tr[data-plan] .col-execution").first
    cell.wait_for()
    bar, text = cell.locator(".progress").bounding_box(), cell.locator(".progress-text").bounding_box()
    gap = min(abs(text["x"] - (bar["x"] + bar["width"])), abs(text["y"] - (bar["y"] + bar["height"])))
    assert gap <= 12, (bar, text)


def test_edit_buttons_read_the_same_everywhere(installed, page):
    deal = linked_deal(installed)
    sandbox = installed.live.sandbox
    page.goto(f"{sandbox.url}/crm/company/details/{deal['companyId']}/")
    page.locator("a.app-tab", has_text="Planes de ventas").click()
    tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
    button = tab.locator("#history .btn-xs").first
    button.wait_for()
    assert button.inner_text() == "Editar"  # not EDITAR here and Editar in the list
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    listed = app_frame(page).locator("#plans .col-actions .btn-xs").first
    listed.wait_for()
    assert listed.inner_text() == "Editar"


def test_on_a_phone_the_list_is_compact_and_can_show_every_column(installed, page, shot):
    from b24app.rest import B24Client
    from tests.integration.test_ui_support import seed_plans

    hook = B24Client.for_webhook(installed.live.sandbox.webhook_url, installed.live.config)
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    seed_plans(hook, installed.installation, [
        {"title": f"Plan {n}", "companyId": company["id"], "opportunity": 100 + n, "currencyId": "USD",
         "assignedById": 1, "begindate": "2026-12-01", "closedate": "2026-12-31"} for n in range(50)])
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{installed.live.sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#plans tr[data-plan]").nth(49).wait_for()
    compact = frame.locator("#plans").evaluate("t => t.getBoundingClientRect().height")
    assert not frame.locator("#plans tr[data-plan] .col-probability").first.is_visible()
    assert frame.locator("#plans tr[data-plan] .col-amount").first.is_visible()
    assert compact <= 50 * 150, f"50 plans take {compact:.0f} px on a phone"
    shot("26-plans-compact-360px")
    frame.locator("#compact-toggle").click()
    assert frame.locator("#plans tr[data-plan] .col-probability").first.is_visible()
    full = frame.locator("#plans").evaluate("t => t.getBoundingClientRect().height")
    assert full > compact * 1.5
    page.reload()  # remembered
    frame = app_frame(page)
    frame.locator("#plans tr[data-plan]").first.wait_for()
    assert frame.locator("#plans tr[data-plan] .col-probability").first.is_visible()


def test_the_app_page_is_headed_once(installed, page):
    """The portal heads the app's page with its name; the frame does not repeat it (screen readers keep it)."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{installed.live.sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#plans").wait_for()
    portal = page.locator("h1", has_text="Planes de ventas").evaluate_all(
        "hs => hs.filter(h => h.getBoundingClientRect().height > 4).length")
    framed = frame.locator("h1", has_text="Planes de ventas").evaluate_all(
        "hs => hs.filter(h => h.getBoundingClientRect().height > 4).length")
    assert portal + framed == 1, (portal, framed)
    assert frame.locator("h1", has_text="Planes de ventas").count() == 1  # still there for screen readers
