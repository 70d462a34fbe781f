"""The sandbox shell in headless Chromium: an app tab opened the Bitrix24 way, BX24 inside the frame,
and the install flow where the app's own JavaScript calls BX24.installFinish()."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests
from test_shell_support import ThrowawayApp, register

from b24sandbox.installer import install_app
from b24sandbox.server import SandboxServer

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest.fixture
def sandbox(tmp_path):
    with SandboxServer(tmp_path / "portal.db", seed="demo", rate_limit=False) as sb:
        yield sb


@pytest.fixture
def test_app(sandbox):
    with ThrowawayApp(f"{sandbox.url}/api/v1/") as app:
        yield app


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


def a_deal(sandbox) -> dict:
    answer = requests.post(f"{sandbox.webhook_url}crm.deal.list.json", timeout=30, json={
        "order": {"ID": "ASC"}, "filter": {">COMPANY_ID": 0}, "select": ["ID", "TITLE"]}).json()
    return answer["result"][0]


def test_deal_tab_gets_the_deal_through_bx24(sandbox, test_app, page):
    from playwright.sync_api import expect

    client_id = register(sandbox.portal, test_app)
    install_app(sandbox.url, client_id)
    deal = a_deal(sandbox)

    page.goto(f"{sandbox.url}/crm/deal/details/{deal['ID']}/")
    tab = page.locator(f".card-tabs a[data-client-id='{client_id}']")
    expect(tab).to_have_text("Plan de ventas")
    tab.click()

    frame = page.frame_locator(f".tab-panel[data-panel='{client_id}'] iframe")
    expect(frame.locator("#title")).to_have_text(deal["TITLE"])          # BX24.callMethod('crm.item.get')
    expect(frame.locator("#placement")).to_have_text("CRM_DEAL_DETAIL_TAB")  # BX24.placement.info()
    options = json.loads(frame.locator("#options").text_content())
    assert options == {"ID": str(deal["ID"]), "URI": f"/crm/deal/details/{deal['ID']}/"}
    expect(frame.locator("#lang")).to_have_text("la")
    expect(frame.locator("#admin")).to_have_text("admin")
    expect(frame.locator("#member")).to_have_text(sandbox.portal.member_id)
    expect(frame.locator("#error")).to_have_text("")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox-deal-tab.png"), full_page=True)


def test_first_opening_installs_when_the_app_calls_install_finish(sandbox, test_app, page):
    from playwright.sync_api import expect

    client_id = register(sandbox.portal, test_app)
    page.goto(f"{sandbox.url}/marketplace/app/{client_id}/")
    # the install page binds the tabs and calls BX24.installFinish(); the portal page reloads the app
    frame = page.frame_locator(".app-frame iframe")
    expect(frame.locator("h1")).to_have_text("Test app main page")
    expect(frame.locator("#placement")).to_have_text("DEFAULT")
    assert sandbox.portal.app(client_id)["installed"] is True
    assert len(test_app.install_posts) == 1

    deal = a_deal(sandbox)
    page.goto(f"{sandbox.url}/crm/deal/details/{deal['ID']}/#{client_id}")
    expect(page.frame_locator(f".tab-panel[data-panel='{client_id}'] iframe").locator("#title")).to_have_text(
        deal["TITLE"])


def test_a_sales_user_sees_the_not_installed_notice_on_a_phone(sandbox, test_app, page):
    from playwright.sync_api import expect

    client_id = register(sandbox.portal, test_app)
    page.set_viewport_size({"width": 360, "height": 740})
    page.context.add_cookies([{"name": "b24sb_user", "value": "2", "url": sandbox.url}])
    page.goto(f"{sandbox.url}/marketplace/app/{client_id}/")
    expect(page.locator(".not-installed")).to_contain_text("La aplicación aún no está completamente instalada")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert test_app.install_posts == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox-not-installed-360.png"), full_page=True)


def test_bx24_batch_refresh_and_open_path_from_a_tab(sandbox, test_app, page):
    from playwright.sync_api import expect

    client_id = register(sandbox.portal, test_app)
    install_app(sandbox.url, client_id)
    deal = requests.post(f"{sandbox.webhook_url}crm.deal.list.json", timeout=30, json={
        "order": {"ID": "ASC"}, "filter": {">COMPANY_ID": 0},
        "select": ["ID", "TITLE", "COMPANY_ID"]}).json()["result"][0]
    page.goto(f"{sandbox.url}/crm/deal/details/{deal['ID']}/#{client_id}")
    frame = page.frame_locator(f".tab-panel[data-panel='{client_id}'] iframe")
    expect(frame.locator("#batch")).to_have_text(f"{deal['TITLE']}|1|ok")      # BX24.callBatch
    expect(frame.locator("#refreshed")).to_have_text("new token")              # BX24.refreshAuth

    frame.locator("#open-company").click()                                     # BX24.openPath
    slider = page.locator("#b24-slider.open iframe")
    expect(slider).to_have_attribute("src", f"/crm/company/details/{deal['COMPANY_ID']}/"
                                            f"?from=rest_placement&from_app={client_id}&IFRAME=Y")
    company = requests.post(f"{sandbox.webhook_url}crm.company.get.json", timeout=30,
                            json={"id": deal["COMPANY_ID"]}).json()["result"]
    expect(page.frame_locator("#b24-slider iframe").locator("h1")).to_have_text(company["TITLE"])
    page.locator("#b24-slider .slider-close").click()
    expect(frame.locator("#path-result")).to_have_text("close")


def test_reload_data_refreshes_the_card_after_the_tab_edits_the_deal(sandbox, test_app, page):
    from playwright.sync_api import expect

    client_id = register(sandbox.portal, test_app)
    install_app(sandbox.url, client_id)
    deal = a_deal(sandbox)
    page.goto(f"{sandbox.url}/crm/deal/details/{deal['ID']}/#{client_id}")
    frame = page.frame_locator(f".tab-panel[data-panel='{client_id}'] iframe")
    expect(frame.locator("#title")).to_have_text(deal["TITLE"])
    frame.locator("#rename").click()            # crm.deal.update, then BX24.placement.call('reloadData')
    expect(frame.locator("#reloaded")).to_have_text("reloaded")
    expect(page.locator("#entity-data input[name=TITLE]")).to_have_value("Renamed from the tab")
    expect(frame.locator("#title")).to_have_text(deal["TITLE"])   # the tab itself is not reloaded


def test_the_portal_page_obeys_only_its_own_frames(sandbox, test_app, page):
    """Messages are checked for source window, origin and APP_SID (dispatched synchronously here)."""
    from playwright.sync_api import expect

    client_id = register(sandbox.portal, test_app)
    install_app(sandbox.url, client_id)
    page.goto(f"{sandbox.url}/marketplace/app/{client_id}/")
    expect(page.frame_locator(".app-frame iframe").locator("#placement")).to_have_text("DEFAULT")
    forge = """([origin, sidOverride, useFrame]) => {
        const el = document.querySelector('.app-frame');
        const sid = sidOverride || el.getAttribute('data-sid');
        const source = useFrame ? el.querySelector('iframe').contentWindow : window;
        window.dispatchEvent(new MessageEvent('message', {origin: origin, source: source,
            data: {bx24: 'frame', command: 'setTitle', params: {title: 'forged'}, appSid: sid}}));
        return document.title;
    }"""
    before = page.title()
    assert page.evaluate(forge, ["http://evil.example", None, True]) == before      # wrong origin
    assert page.evaluate(forge, [test_app.url, None, False]) == before               # not the app's frame
    assert page.evaluate(forge, [test_app.url, "another-sid", True]) == before       # wrong APP_SID
    assert page.evaluate(forge, [test_app.url, None, True]) == "forged"              # the frame itself


def test_bx24_refreshes_an_expired_token_and_repeats_the_call(sandbox, test_app, page):
    from playwright.sync_api import expect

    client_id = register(sandbox.portal, test_app)
    install_app(sandbox.url, client_id)
    deal = a_deal(sandbox)
    page.goto(f"{sandbox.url}/crm/deal/details/{deal['ID']}/#{client_id}")
    frame = page.frame_locator(f".tab-panel[data-panel='{client_id}'] iframe")
    expect(frame.locator("#refreshed")).to_have_text("new token")
    faults = requests.post(f"{sandbox.url}/sandbox/faults", json={"expire_tokens": True}, timeout=30)
    assert faults.status_code == 200
    with page.expect_request("**/sandbox/shell/frame-auth"):   # the frame asks the page for new tokens
        frame.locator("#rename").click()        # crm.deal.update answers expired_token first
    expect(frame.locator("#reloaded")).to_have_text("reloaded")
    renamed = requests.post(f"{sandbox.webhook_url}crm.deal.get.json", json={"id": deal["ID"]}, timeout=30).json()
    assert renamed["result"]["TITLE"] == "Renamed from the tab"


def test_open_application_in_a_slider_and_close_it_from_inside(sandbox, test_app, page):
    from playwright.sync_api import expect

    client_id = register(sandbox.portal, test_app)
    install_app(sandbox.url, client_id)
    page.goto(f"{sandbox.url}/marketplace/app/{client_id}/")
    outer = page.frame_locator(".app-frame iframe")
    expect(outer.locator("#placement")).to_have_text("DEFAULT")
    outer.locator("#open-app").click()                              # BX24.openApplication({from: 'test'})
    inner = page.frame_locator("#b24-slider iframe").frame_locator(".app-frame iframe")
    expect(inner.locator("#placement")).to_have_text("DEFAULT")
    expect(inner.locator("#options")).to_have_text('{"from":"test"}')
    inner.locator("#close-app").click()                             # BX24.closeApplication()
    expect(page.locator("#b24-slider")).not_to_have_class("open")
    expect(outer.locator("#app-closed")).to_have_text("closed")     # openApplication's close callback
