"""The OAuth stand-in and the frame fields (settings/oauth/auto-renewal.md, settings/oauth/simple-way.md)."""

from __future__ import annotations

import json

import requests

from tests.sandbox.conftest import Rest, open_app


def _refresh(sb, app, refresh_token, method="get"):
    params = {"grant_type": "refresh_token", "client_id": app["client_id"], "client_secret": app["client_secret"],
              "refresh_token": refresh_token}
    if method == "get":
        return requests.get(sb.oauth_url, params=params, timeout=5)
    return requests.post(sb.oauth_url, data=params, timeout=5)


def test_frame_fields_are_what_bitrix24_posts(sb, app_session):
    sb.portal.finish_install(app_session.app["client_id"])
    frame = sb.portal.frame_fields(app_session.app["client_id"], 2, "CRM_DEAL_DETAIL_TAB",
                                   {"ID": "8", "URI": "/crm/deal/details/8/"}, "en")
    assert set(frame.form) == {"AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "SERVER_ENDPOINT", "APPLICATION_TOKEN",
                               "APPLICATION_SCOPE", "member_id", "status", "PLACEMENT", "PLACEMENT_OPTIONS"}
    assert frame.form["status"] == "L" and frame.form["AUTH_EXPIRES"] == "3600"
    assert frame.form["member_id"] == sb.portal.member_id and frame.form["PLACEMENT"] == "CRM_DEAL_DETAIL_TAB"
    assert frame.form["PLACEMENT_OPTIONS"] == '{"ID":"8","URI":"\\/crm\\/deal\\/details\\/8\\/"}'
    assert json.loads(frame.form["PLACEMENT_OPTIONS"]) == {"ID": "8", "URI": "/crm/deal/details/8/"}
    main = sb.portal.frame_fields(app_session.app["client_id"], 1)
    assert main.form["PLACEMENT"] == "DEFAULT" and json.loads(main.form["PLACEMENT_OPTIONS"]) == {
        "any": f"{app_session.app['id']}/"}
    assert frame.query["DOMAIN"] == sb.portal.domain and frame.query["LANG"] == "en"
    assert frame.query["PROTOCOL"] == "0" and frame.query["APP_SID"]
    assert frame.form["APPLICATION_SCOPE"] == "crm,im,placement,user_brief,userfieldconfig"
    me = Rest(sb.rest_url, frame.form["AUTH_ID"]).result("profile")
    assert me["ID"] == "2" and me["ADMIN"] is False


def test_refresh_rotates_and_the_old_refresh_token_dies(sb, app_session):
    app = app_session.app
    first = _refresh(sb, app, app_session.frame.form["REFRESH_ID"])
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"access_token", "client_endpoint", "domain", "expires", "expires_in", "member_id",
                         "refresh_token", "scope", "server_endpoint", "status", "user_id"}
    assert body["client_endpoint"] == sb.url + "/rest/" and body["member_id"] == sb.portal.member_id
    assert body["expires_in"] == 3600 and body["user_id"] == 1 and body["domain"] != sb.portal.domain
    assert body["refresh_token"] != app_session.frame.form["REFRESH_ID"]
    again = _refresh(sb, app, app_session.frame.form["REFRESH_ID"], method="post")
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert _refresh(sb, app, body["refresh_token"], method="post").status_code == 200
    assert Rest(sb.rest_url, body["access_token"]).result("user.admin") is True


def test_wrong_client_secret_is_invalid_client(sb, app_session):
    app = {**app_session.app, "client_secret": "nope"}
    response = _refresh(sb, app, app_session.frame.form["REFRESH_ID"])
    assert response.json()["error"] == "invalid_client"


def test_expired_tokens_answer_401_and_refresh_recovers(sb, app_session):
    assert app_session.rest.raw("user.admin").status_code == 200
    requests.post(sb.url + "/sandbox/faults", json={"expire_tokens": True}, timeout=5)
    expired = app_session.rest.raw("user.admin")
    assert expired.status_code == 401 and expired.json()["error"] == "expired_token"
    fresh = _refresh(sb, app_session.app, app_session.frame.form["REFRESH_ID"]).json()
    assert Rest(sb.rest_url, fresh["access_token"]).result("user.admin") is True


def test_token_lifetime_is_configurable(sb):
    state = requests.post(sb.url + "/sandbox/faults", json={"token_lifetime": 1}, timeout=5).json()
    assert state["token_lifetime"] == 1
    session = open_app(sb, ["crm"])
    assert session.frame.form["AUTH_EXPIRES"] == "1"
    import time

    time.sleep(1.2)
    assert session.rest.raw("user.admin").json()["error"] == "expired_token"
