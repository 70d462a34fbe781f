"""The frame inside the sandbox portal when its session runs out (F18), and when its content shrinks (F16)."""

from __future__ import annotations

import time

import pytest

from tests.integration.test_ui_support import companies, seed_plans, webhook

pytestmark = pytest.mark.browser
NBSP = "\xa0"


def app_frame(page):
    return page.frame_locator(".app-frame iframe").first


def expire_sessions(installed) -> int:
    """What an hour of inactivity does: every frame session of the app is past its expiry."""
    db = installed.live.db()
    try:
        with db.transaction():
            cursor = db.execute("UPDATE frame_sessions SET expires_at = ?", [time.time() - 5])
        return cursor.rowcount
    finally:
        db.close()


def test_an_expired_session_recovers_inside_the_portal(installed, page, shot):
    hook = webhook(installed)
    inst = installed.installation
    company = companies(hook)[0]
    seed_plans(hook, inst, [{"title": "Plan caducidad", "companyId": company["id"], "opportunity": 7000,
                             "currencyId": "USD", "begindate": "2026-10-01", "closedate": "2026-12-31"}])
    sandbox = installed.live.sandbox
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#plans tr[data-plan]").first.wait_for()
    assert expire_sessions(installed) >= 1

    frame.locator("a[data-sort='amount']").click()
    # The frame must not show the browser's "refused to connect": it reloads itself through BX24 and
    # the portal posts it again with a fresh AUTH_ID -> the plans are back, in the view that was asked for
    # (waiting for the sorted column, not for any row: the old page's rows are there until it navigates).
    frame.locator("#plans th.col-amount.sorted").wait_for()
    frame.locator("#plans tr[data-plan]").first.wait_for()
    frame.locator("h1", has_text="Planes de ventas").first.wait_for(state="attached")
    assert "Plan caducidad" in frame.locator("#plans").inner_text() or \
        company["title"] in frame.locator("#plans").inner_text()
    assert frame.locator("h1", has_text="Planes de ventas").count() == 1
    shot("f18-recovered-after-expiry")


def test_the_expired_page_is_shown_with_a_reopen_button_when_the_reload_was_already_tried(installed, page, shot):
    sandbox = installed.live.sandbox
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("h1", has_text="Planes de ventas").wait_for()
    # A reload was tried seconds ago (the loop guard): the page stays, readable and framed, with its button.
    frame.locator("body").evaluate("() => sessionStorage.setItem('b24plans-reopened-at', String(Date.now()))")
    expire_sessions(installed)
    frame.locator("a[data-sort='amount']").click()
    message = frame.locator(".refused[data-status='401']")
    message.wait_for()
    assert "Su sesión ha caducado" in message.inner_text()
    button = frame.locator("#reopen")
    assert button.is_visible() and button.text_content().strip() == "Volver a abrir"
    shot("f18-expired-page-framed")
    button.click()
    frame.locator("h1", has_text="Planes de ventas").wait_for()
    assert frame.locator("a[data-sort='amount']").count() == 1


def test_the_frame_shrinks_back_after_a_long_page(installed, page):
    hook = webhook(installed)
    inst = installed.installation
    company = companies(hook)[0]
    seed_plans(hook, inst, [{"title": f"Plan alto {n}", "companyId": company["id"], "opportunity": 1000 + n,
                             "currencyId": "USD", "begindate": "2026-10-01", "closedate": "2026-12-31"}
                            for n in range(30)])
    sandbox = installed.live.sandbox
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#plans tr[data-plan]").nth(29).wait_for()
    iframe = page.locator(".app-frame iframe").first
    page.wait_for_function("el => el.getBoundingClientRect().height > 1500", arg=iframe.element_handle())
    tall = iframe.bounding_box()["height"]

    frame.locator("#new-plan").click()
    frame.locator("#client-search").wait_for()
    page.wait_for_function("el => el.getBoundingClientRect().height < 1300", arg=iframe.element_handle())
    short = iframe.bounding_box()["height"]
    form_bottom = frame.locator("main").evaluate("el => el.getBoundingClientRect().bottom")
    assert short < tall
    assert short >= form_bottom  # nothing of the form is cut off


def test_the_export_button_says_preparing_until_the_file_arrives(installed, page):
    hook = webhook(installed)
    seed_plans(hook, installed.installation, [{"title": "Plan export", "companyId": companies(hook)[0]["id"],
                                               "opportunity": 3000, "currencyId": "USD"}])
    sandbox = installed.live.sandbox
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#plans tr[data-plan]").first.wait_for()
    button = frame.locator("#export-xlsx")
    assert button.text_content().strip() == "Exportar a Excel"
    seen: list[str] = []

    def while_preparing(route):  # the moment the app is asked for the file
        seen.append(button.text_content().strip())
        route.continue_()

    page.route("**/plans/export.xlsx*", while_preparing)
    with page.expect_download() as download:
        button.click()
    assert seen == ["Preparando…"]
    assert download.value.suggested_filename.endswith(".xlsx")
    frame.locator("#export-xlsx:not([aria-busy])").wait_for()
    assert button.text_content().strip() == "Exportar a Excel"


def test_the_deal_tab_follows_when_its_deal_is_won_elsewhere(installed, running_worker, page, shot):
    hook = webhook(installed)
    inst = installed.installation
    company = companies(hook)[0]
    [plan_id] = seed_plans(hook, inst, [{"title": "Plan que sigue", "companyId": company["id"], "opportunity": 10000,
                                         "currencyId": "USD", "begindate": "2026-10-01", "closedate": "2026-12-31"}])
    deal_id = int(hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Se ganará", "companyId": company["id"], "opportunity": 4000, "currencyId": "USD",
        "stageId": "NEW", "categoryId": 0, f"parentId{inst.entity_type_id}": plan_id}})["item"]["id"])
    sandbox = installed.live.sandbox
    page.goto(f"{sandbox.url}/crm/deal/details/{deal_id}/")
    page.locator("a.app-tab", has_text="Plan de ventas").click()
    tab = page.frame_locator(".tab-panel:not([hidden]) .app-frame iframe").first
    tab.locator("#kpi-remainder", has_text="10.000,00").wait_for()

    # Won while the card (and its tab) stay open: nobody reloads anything.
    hook.call("crm.item.update", {"entityTypeId": 2, "id": deal_id, "fields": {"stageId": "WON"}})
    tab.locator("#kpi-remainder", has_text="6.000,00").wait_for(timeout=30_000)
    assert "4.000,00" in tab.locator("#kpi-won").inner_text()
    shot("f21-deal-tab-followed-the-win")


def test_the_frames_xhr_send_the_session_in_a_header_never_in_the_url(installed, page):
    """...and the frames' CSP blocks none of what the pages run (BX24 library, app.js) inside the portal."""
    hook = webhook(installed)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    seed_plans(hook, installed.installation, [{"title": "Plan cabecera", "companyId": companies(hook)[0]["id"],
                                               "opportunity": 3000, "currencyId": "USD"}])
    app_url = installed.live.url
    xhr: list = []
    page.on("requestfinished", lambda r: xhr.append(r) if r.url.startswith(app_url)
            and r.resource_type in ("xhr", "fetch") else None)
    with page.expect_request_finished(lambda r: "/api/changes" in r.url, timeout=20_000):
        page.goto(f"{installed.live.sandbox.url}/marketplace/app/{installed.live.client_id}/")
        frame = app_frame(page)
        frame.locator("#plans tr[data-plan]").first.wait_for()
    with page.expect_download():
        frame.locator("#export-csv").click()
    frame.locator("#new-plan").click()
    with page.expect_request_finished(lambda r: "q=" in r.url, timeout=20_000):
        frame.locator("#client-search").fill(companies(hook)[0]["title"][:4])
    paths = sorted({r.url.split("?")[0][len(app_url):] for r in xhr})
    assert {"/api/changes", "/plans/totals", "/plans/export.csv"} <= set(paths), paths
    assert len(paths) >= 4, paths  # and the client search
    for request in xhr:
        assert "_s=" not in request.url, request.url
        assert request.headers.get("x-frame-session"), request.url
        assert request.response().status == 200, request.url
    assert blocked == []
