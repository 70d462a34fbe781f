"""Frame verification against the stored installation, the signed session, CSRF and the frame headers.

The portal is faked with ``responses`` (an unregistered URL is an error), so these tests also prove that the
user's token is checked at the STORED client_endpoint and never at the posted DOMAIN.
"""

from __future__ import annotations

import json

import pytest
import responses

from tests.unit.placements.conftest import APP_TOKEN, USER_TOKEN, frame_form

PROFILE_URL = "https://portal.example/rest/profile.json"


@pytest.fixture
def portal():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def profile_ok(portal, admin=True):
    portal.add(responses.POST, PROFILE_URL, json={"result": {"ID": "3", "ADMIN": admin, "NAME": "Eva"}})


def test_valid_frame_post_starts_a_session_checked_at_the_stored_endpoint(client, inst, portal):
    profile_ok(portal)
    response = client.post("/?DOMAIN=evil.example&LANG=la", data=frame_form())
    assert response.status_code == 303
    assert "_s=" in response.headers["Location"]
    assert [c.request.url for c in portal.calls] == [PROFILE_URL]
    sent = json.loads(portal.calls[0].request.body)
    assert sent["auth"] == USER_TOKEN
    assert response.headers["Content-Security-Policy"].split("; ")[0] == "frame-ancestors 'self' https://portal.example"
    assert "X-Frame-Options" not in response.headers
    assert USER_TOKEN not in response.get_data(as_text=True)
    assert USER_TOKEN not in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("changes, status", [
    ({"APPLICATION_TOKEN": "forged-token-000000"}, 403),
    ({"APPLICATION_TOKEN": ""}, 403),
    ({"member_id": "someone-else"}, 403),
    ({"member_id": ""}, 401),
    ({"AUTH_ID": ""}, 401),
])
def test_forged_frame_posts_get_nothing_and_never_reach_the_portal(client, inst, portal, changes, status):
    response = client.post("/?DOMAIN=portal.example", data=frame_form(**changes))
    assert response.status_code == status
    assert len(portal.calls) == 0  # no token was tried anywhere
    body = response.get_data(as_text=True)
    assert 'data-session=""' in body and "_s=" not in response.headers.get("Location", "")
    assert response.headers["Content-Security-Policy"].split("; ")[0] == "frame-ancestors 'none'"


def test_an_auth_id_the_portal_rejects_is_refused(client, inst, portal):
    portal.add(responses.POST, PROFILE_URL, status=401,
               json={"error": "invalid_token", "error_description": "The access token provided is invalid."})
    response = client.post("/", data=frame_form(AUTH_ID="stolen-or-made-up-token"))
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert len(portal.calls) == 1 and portal.calls[0].request.url == PROFILE_URL


def test_uninstalled_portal_is_refused(client, inst, portal, app):
    from b24app.db import connect
    from b24app.installations import InstallationStore

    db = connect(app.config["DATABASE"])
    InstallationStore(db).mark_uninstalled("member-1")
    db.close()
    assert client.post("/", data=frame_form()).status_code == 403
    assert len(portal.calls) == 0


def test_later_requests_need_the_session(client, inst, portal):
    assert client.get("/").status_code == 401
    assert client.get("/?_s=not-a-signed-token").status_code == 401
    assert client.get("/settings").status_code == 401


def test_signed_token_carries_the_session_when_cookies_are_dropped(app, inst, portal):
    profile_ok(portal)
    first = app.test_client()
    location = first.post("/", data=frame_form()).headers["Location"]
    token = location.split("_s=")[1]
    cookieless = app.test_client(use_cookies=False)
    assert cookieless.get(f"/settings?_s={token}").status_code == 200
    assert cookieless.get("/settings").status_code == 401
    assert cookieless.get(f"/settings?_s={token[:-2]}xx").status_code == 401


def test_settings_are_for_portal_admins_only(app, inst, portal):
    portal.add(responses.POST, PROFILE_URL, json={"result": {"ID": "8", "ADMIN": False}})
    client = app.test_client()
    location = client.post("/", data=frame_form()).headers["Location"]
    token = location.split("_s=")[1]
    assert client.get(f"/settings?_s={token}").status_code == 403


def test_forms_without_a_csrf_token_are_refused(client, inst, portal):
    profile_ok(portal)
    token = client.post("/", data=frame_form()).headers["Location"].split("_s=")[1]
    calls_before = len(portal.calls)
    for data in ({"status": "S", "_s": token}, {"status": "S", "_s": token, "csrf_token": "forged"}):
        response = client.post("/plans/9/status", data=data)
        assert response.status_code == 403
    response = client.post("/placements/deal/4/unlink", data={"_s": token})
    assert response.status_code == 403
    assert len(portal.calls) == calls_before  # nothing reached the portal


def test_the_application_token_is_compared_in_constant_time(monkeypatch, client, inst, portal):
    import hmac

    seen = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: seen.append((a, b)) or real(a, b))
    client.post("/", data=frame_form(APPLICATION_TOKEN="wrong"))
    assert (APP_TOKEN.encode(), b"wrong") in seen


def test_session_cookie_flags_follow_the_public_url(tmp_path, inst, portal, client):
    from b24app import create_app

    profile_ok(portal)
    cookie = client.post("/", data=frame_form()).headers["Set-Cookie"]
    assert cookie.startswith("b24plans_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain-http test server: the signed _s parameter carries the session
    https = create_app({"ENV": "test", "TESTING": True, "DATABASE": str(tmp_path / "https.db"), "SECRET_KEY": "k",
                        "PUBLIC_URL": "https://plans.example.com", "SCHEDULER": False})
    assert https.config["SESSION_COOKIE_SAMESITE"] == "None" and https.config["SESSION_COOKIE_SECURE"] is True


def test_admin_flag_is_read_strictly(app, inst, portal):
    portal.add(responses.POST, PROFILE_URL, json={"result": {"ID": "4", "ADMIN": "false"}})
    client = app.test_client()
    token = client.post("/", data=frame_form()).headers["Location"].split("_s=")[1]
    assert client.get(f"/settings?_s={token}").status_code == 403
