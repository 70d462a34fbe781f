"""POST /install: the posted data is verified at the OAuth server, then the admin sees what happened."""

from __future__ import annotations

import pytest
import responses
from test_provision import FakePortal

from b24app.db import connect
from b24app.installations import InstallationStore
from b24app.rest.clients import ClientsFrom

OAUTH = "http://oauth.test/oauth/token/"
MEMBER = "a223c6b3710f85df22e9377d6c4f7553"
ANSWER = {"access_token": "rotated-access", "refresh_token": "rotated-refresh", "expires": 1780319382,
          "expires_in": 3600, "member_id": MEMBER, "client_endpoint": "https://portal.bitrix24.es/rest/",
          "server_endpoint": "https://oauth.bitrix.info/rest/", "scope": "crm,placement,userfieldconfig,user_brief",
          "status": "L", "user_id": 1, "domain": "oauth.bitrix.info"}


def form(**changes):
    data = {"AUTH_ID": "posted-access", "AUTH_EXPIRES": "3600", "REFRESH_ID": "posted-refresh",
            "SERVER_ENDPOINT": "https://oauth.bitrix.info/rest/", "APPLICATION_TOKEN": "app-token-1",
            "APPLICATION_SCOPE": "crm,placement", "member_id": MEMBER, "status": "L", "PLACEMENT": "DEFAULT",
            "PLACEMENT_OPTIONS": "{}"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def app(app):
    app.config.update(OAUTH_URL=OAUTH, BX24_JS_URL="//api.bitrix24.com/api/v1/",
                      PUBLIC_URL="https://plans.example.com")
    return app


@pytest.fixture
def portal(app):
    fake = FakePortal()
    app.config["CLIENTS"] = ClientsFrom(lambda inst: fake)
    return fake


@pytest.fixture
def oauth():
    with responses.RequestsMock() as mock:
        mock.get(OAUTH, json=ANSWER)
        yield mock


def stored(app):
    db = connect(app.config["DATABASE"])
    try:
        return InstallationStore(db).find(MEMBER), [r["action"] for r in db.query("SELECT action FROM audit_log")]
    finally:
        db.close()


def install(client, lang="la", **changes):
    return client.post(f"/install?DOMAIN=evil.example&PROTOCOL=1&LANG={lang}&APP_SID=x", data=form(**changes))


def test_install_keeps_what_the_oauth_server_vouches_for_and_finishes(client, app, portal, oauth):
    response = install(client)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-status="installed"' in html and "BX24.installFinish()" in html
    assert '<script src="//api.bitrix24.com/api/v1/">' in html
    assert "Instalación nueva" in html and "Proceso inteligente" in html
    request = oauth.calls[0].request
    assert request.url.startswith(OAUTH) and "grant_type=refresh_token" in request.url
    assert "client_id=local.test.app" in request.url and "refresh_token=posted-refresh" in request.url
    inst, audit = stored(app)
    assert (inst.domain, inst.client_endpoint) == ("portal.bitrix24.es", "https://portal.bitrix24.es/rest/")
    assert (inst.access_token, inst.refresh_token, inst.expires_at) == ("rotated-access", "rotated-refresh",
                                                                       1780319382)
    assert (inst.application_token, inst.user_id, inst.lang, inst.app_version) == ("app-token-1", 1, "la", "1")
    assert inst.scopes == ANSWER["scope"] and inst.is_provisioned
    assert audit == ["install", "provision"]
    assert "frame-ancestors 'self' https://portal.bitrix24.es" in response.headers["Content-Security-Policy"]


def test_a_second_install_creates_nothing_and_says_so(client, app, portal, oauth):
    install(client)
    calls = {m: portal.calls[m] for m in ("crm.type.add", "userfieldconfig.add", "placement.bind", "event.bind")}
    again = install(client, APPLICATION_TOKEN="app-token-2")
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert "Reinstalación" in html and 'data-outcome="created"' not in html
    assert {m: portal.calls[m] for m in calls} == calls
    assert stored(app)[0].application_token == "app-token-2"


@pytest.mark.parametrize(("lang", "text"), [("en", "Reinstallation"), ("ru", "Переустановка"),
                                            ("es", "Reinstalación"), ("de", "Reinstallation")])
def test_the_page_speaks_the_admins_language(client, portal, oauth, lang, text):
    install(client)
    assert text in install(client, lang=lang).get_data(as_text=True)


def test_a_token_of_another_portal_is_refused(client, app, portal):
    with responses.RequestsMock() as mock:
        mock.get(OAUTH, json={**ANSWER, "member_id": "another-portal"})
        response = install(client)
    assert response.status_code == 403 and 'data-reason="member_mismatch"' in response.get_data(as_text=True)
    assert stored(app) == (None, [])
    assert portal.calls == {}


def test_a_refresh_token_the_oauth_server_rejects_is_refused(client, app, portal):
    with responses.RequestsMock() as mock:
        mock.get(OAUTH, status=400, json={"error": "invalid_grant", "error_description": "Invalid grant"})
        response = install(client)
    assert response.status_code == 403
    assert "invalid_grant" in response.get_data(as_text=True)
    assert stored(app)[0] is None


def test_missing_fields_are_named(client, app, portal):
    response = install(client, REFRESH_ID=None, member_id="")
    assert response.status_code == 400
    assert "member_id, REFRESH_ID" in response.get_data(as_text=True)


def test_only_an_admin_can_install(client, app, oauth):
    fake = FakePortal(admin=False)
    app.config["CLIENTS"] = ClientsFrom(lambda inst: fake)
    response = install(client)
    assert response.status_code == 403
    assert "Solo un administrador" in response.get_data(as_text=True)
    inst, audit = stored(app)
    assert inst is None and audit == ["install_refused"]


def test_a_portal_without_the_needed_methods_is_told_what_it_lacks(client, app, oauth):
    fake = FakePortal(missing=("crm.type.add", "userfieldconfig.add"))
    app.config["CLIENTS"] = ClientsFrom(lambda inst: fake)
    response = install(client, lang="en")
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "<code>crm.type.add</code>" in html and "<code>userfieldconfig.add</code>" in html
    assert "self-hosted" in html and "installFinish" not in html
    assert fake.calls["crm.type.add"] == 0
    inst, audit = stored(app)
    assert not inst.is_provisioned and audit == ["install", "install_incomplete"]


def test_get_explains_the_three_paths(client):
    html = client.get("/install?LANG=en").get_data(as_text=True)
    assert "https://plans.example.com/install" in html and "https://plans.example.com/events" in html
    assert "Handler path" in html


def test_a_verified_install_or_reinstall_ends_the_frame_sessions_opened_before_it(client, app, portal, oauth):
    install(client)
    first = stored(app)[0].sessions_from
    assert first > 0
    install(client, APPLICATION_TOKEN="app-token-2")  # Reinstall
    assert stored(app)[0].sessions_from > first
