"""The 401 pages a user can meet: an expired frame session (F18) and the app's own address (F19)."""

from __future__ import annotations

import time

import requests

from tests.integration.test_ui_support import Frame, companies, seed_plans, webhook


def test_an_expired_session_page_is_framed_by_its_portal_and_shows_no_data(installed):
    hook = webhook(installed)
    client = companies(hook)[0]["title"]
    seed_plans(hook, installed.installation, [{"title": "Plan secreto", "companyId": companies(hook)[0]["id"],
                                               "opportunity": 5000, "currencyId": "USD"}])
    frame = Frame(installed)
    assert "data-plan=" in frame.page.text and client in frame.page.text
    db = installed.live.db()
    with db.transaction():
        db.execute("UPDATE frame_sessions SET expires_at = ?", [time.time() - 1])
    db.close()

    page = frame.get("/", sort="amount", dir="asc")
    assert page.status_code == 401
    assert "Su sesión ha caducado" in page.text and "Volver a abrir" in page.text
    assert "data-plan=" not in page.text and client not in page.text
    portal = installed.live.sandbox.url
    assert page.headers["Content-Security-Policy"].split("; ")[0] == f"frame-ancestors 'self' {portal}"
    assert "X-Frame-Options" not in page.headers
    assert "/bx24.js" in page.text  # the page can ask the portal to post the frame again


def test_the_apps_own_address_says_to_open_it_from_bitrix24_in_the_browsers_language(installed):
    url = installed.live.url + "/"
    spanish = requests.get(url, headers={"Accept-Language": "es-ES,es;q=0.9"}, timeout=30)
    assert spanish.status_code == 401
    assert "Abra esta aplicación desde Bitrix24 (menú Aplicaciones → Planes de ventas)" in spanish.text
    assert "caducado" not in spanish.text
    english = requests.get(url, headers={"Accept-Language": "en-US,en;q=0.8"}, timeout=30)
    assert english.status_code == 401 and "Open this app from Bitrix24" in english.text
    russian = requests.get(url, headers={"Accept-Language": "ru"}, timeout=30)
    assert russian.status_code == 401 and "Откройте это приложение из Битрикс24" in russian.text


def test_a_forged_session_token_gets_no_data(installed):
    page = requests.get(installed.live.url + "/", params={"_s": "forged.token.value"}, timeout=30)
    assert page.status_code == 401
    assert "data-plan" not in page.text
    assert "caducado" in page.text  # it named a session: the expiry text, framed by anyone, data-free


def test_a_frame_session_survives_neither_a_reinstall_nor_an_uninstall(installed):
    from b24sandbox.installer import install_app
    from tests.integration.test_install import drain

    portal, client_id = installed.live.sandbox.portal, installed.live.client_id
    frame = Frame(installed)
    assert frame.get("/").status_code == 200
    assert install_app(portal, client_id, user_id=1).installed  # the admin's "Reinstall"
    page = frame.get("/")
    assert page.status_code == 401 and "Su sesión ha caducado" in page.text and "data-plan" not in page.text
    again = Frame(installed)  # the portal posts the frame again: a new session
    assert again.get("/").status_code == 200

    portal.uninstall_app(client_id, clean=False)
    assert portal.dispatcher.wait_idle(10)
    assert drain(installed).done == 1  # the portal confirmed it
    assert again.get("/").status_code in (401, 403)
    assert install_app(portal, client_id, user_id=1).installed  # opened again later
    assert again.get("/").status_code == 401
