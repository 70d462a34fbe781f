"""No token or secret reaches a log record, an exception message or a repr, even at DEBUG."""

from __future__ import annotations

import json
import logging

import pytest
import requests
import responses
from conftest import ACCESS, APP_TOKEN, ENDPOINT, OAUTH_URL, REFRESH, SECRET

from b24app.rest import B24Client, B24Error

NEW_ACCESS, NEW_REFRESH = "access-ROTATED-777777", "refresh-ROTATED-777777"
HOOK_CODE = "hooksecret9876"
USER_TOKEN = "frame-user-AUTHID-5555"
SECRETS = [ACCESS, REFRESH, APP_TOKEN, SECRET, NEW_ACCESS, NEW_REFRESH, HOOK_CODE, USER_TOKEN]


def test_debug_logs_never_show_tokens(rsps, make_client, config, installation, clock, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[B24Error] = []

    def portal(request):
        auth = json.loads(request.body).get("auth")
        if auth == ACCESS:
            return 401, {}, json.dumps({"error": "expired_token", "error_description": f"token {auth} expired"})
        return 200, {}, json.dumps({"result": {"ID": "1"}})

    rsps.add_callback(responses.POST, ENDPOINT + "profile.json", callback=portal)
    rsps.add(responses.GET, OAUTH_URL, json={"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH,
                                             "expires_in": 3600, "client_endpoint": ENDPOINT})
    rsps.add(responses.POST, ENDPOINT + "batch.json", json={"result": {"result": {"a": 1}, "result_error": {
        "b": {"error": "INVALID", "error_description": f"bad auth={NEW_ACCESS}"}}}})
    rsps.add(responses.POST, ENDPOINT + "crm.item.add.json",
             body=requests.ConnectionError(f"cannot reach {ENDPOINT}?auth={NEW_ACCESS}"))
    hook = f"https://portal.example/rest/1/{HOOK_CODE}/"
    rsps.add(responses.POST, hook + "profile.json", status=503,
             json={"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})
    rsps.add(responses.POST, hook + "profile.json", json={"result": 1})
    rsps.add(responses.POST, ENDPOINT + "app.info.json", status=401,
             json={"error": "NO_AUTH_FOUND", "error_description": f"Wrong token {USER_TOKEN}"})

    client = make_client()
    assert client.call("profile") == {"ID": "1"}  # expired -> refresh -> retry
    result = client.batch({"a": ("crm.item.get", {"id": 1}), "b": ("crm.item.update", {"id": 1})})
    errors.extend(result.errors.values())
    with pytest.raises(B24Error) as info:
        client.call("crm.item.add", {"fields": {"title": "x"}})
    errors.append(info.value)
    hook_client = B24Client.for_webhook(hook, config, sleep=clock.sleep, clock=clock)
    assert hook_client.call("profile") == 1
    user_client = B24Client.for_user_token(installation, USER_TOKEN, config, sleep=clock.sleep, clock=clock)
    with pytest.raises(B24Error) as info:
        user_client.call("app.info")
    errors.append(info.value)

    texts = [record.getMessage() for record in caplog.records]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(client), repr(hook_client), repr(user_client), repr(installation)]
    assert any("POST profile -> HTTP 401" in t for t in texts)  # DEBUG lines were really captured
    assert any("refreshed tokens" in t for t in texts)
    leaks = [(secret, text) for text in texts for secret in SECRETS if secret in text]
    assert leaks == []
    hook_client.close()
    user_client.close()


def test_real_http_debug_lines_are_masked(config, caplog):
    """urllib3 logs request lines, including the OAuth query string and webhook paths, at DEBUG."""
    from stubserver import StubPortal

    from b24app import db as appdb
    from b24app.installations import Installation, InstallationStore

    caplog.set_level(logging.DEBUG)
    old_access, old_refresh = "access-before-R1R1R1", "refresh-before-R1R1R1"
    with StubPortal(access="access-now-0000", refresh=old_refresh, member_id="m-real") as stub:
        config["OAUTH_URL"] = stub.base + "/oauth/token/"
        database = appdb.connect(config["DATABASE"])
        InstallationStore(database).save(Installation(member_id="m-real", domain="127.0.0.1",
                                                      client_endpoint=stub.base + "/rest/",
                                                      access_token=old_access, refresh_token=old_refresh))
        database.close()
        with B24Client.for_installation("m-real", config) as client:
            assert client.call("profile") == {"ID": "1"}
        with B24Client.for_webhook(stub.base + f"/rest/1/{HOOK_CODE}/", config) as hook:
            hook.call("profile")
    texts = [record.getMessage() for record in caplog.records]
    assert any("/oauth/token/?" in t for t in texts)  # urllib3's request line was captured
    secrets = [SECRET, old_access, old_refresh, "access-rotated-0001", "refresh-rotated-0001", HOOK_CODE]
    assert [(s, t) for t in texts for s in secrets if s in t] == []
