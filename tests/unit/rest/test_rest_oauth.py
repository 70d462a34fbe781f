"""Token refresh (``settings/oauth/auto-renewal.md``): only on expired_token, saved before use, re-read on
invalid_grant."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from conftest import ACCESS, ENDPOINT, MEMBER, OAUTH_URL, REFRESH, SECRET

from b24app import db as appdb
from b24app.installations import NEEDS_REAUTH, InstallationStore
from b24app.rest import AuthError, ReauthRequired

URL = ENDPOINT + "profile.json"
EXPIRED = {"error": "expired_token", "error_description": "The access token provided has expired."}


@pytest.fixture
def app_database(database):
    """This module runs on both engines (tests/conftest.py ``database``)."""
    return database


def token_answer(access="access-NEW-2222", refresh="refresh-NEW-2222", endpoint=ENDPOINT):
    return {"access_token": access, "refresh_token": refresh, "expires": 1_800_007_200, "expires_in": 3600,
            "client_endpoint": endpoint, "server_endpoint": "https://oauth.bitrix.info/rest/",
            "member_id": MEMBER, "domain": "oauth.bitrix.info", "status": "L", "scope": "crm"}


def stored(config):
    database = appdb.connect(config["DATABASE"])
    try:
        return InstallationStore(database).find(MEMBER)
    finally:
        database.close()


def rotate(config, access, refresh):
    """What another process does: store a new pair."""
    database = appdb.connect(config["DATABASE"])
    try:
        InstallationStore(database).save_tokens(MEMBER, access, refresh, 1_800_009_000)
    finally:
        database.close()


def test_expired_token_refreshes_saves_then_retries(rsps, make_client, config):
    seen_in_store_at_retry = []

    def portal(request):
        auth = json.loads(request.body)["auth"]
        if auth == ACCESS:
            return 401, {}, json.dumps(EXPIRED)
        seen_in_store_at_retry.append(stored(config).access_token)
        return 200, {}, json.dumps({"result": {"ID": "1"}})

    rsps.add_callback(responses.POST, URL, callback=portal)
    rsps.add(responses.GET, OAUTH_URL, json=token_answer())
    assert make_client().call("profile") == {"ID": "1"}
    oauth = [c for c in rsps.calls if c.request.url.startswith(OAUTH_URL)]
    assert len(oauth) == 1
    query = parse_qs(urlsplit(oauth[0].request.url).query)
    assert query == {"grant_type": ["refresh_token"], "client_id": ["local.test.app"],
                     "client_secret": [SECRET], "refresh_token": [REFRESH]}
    assert seen_in_store_at_retry == ["access-NEW-2222"]  # saved before it was used
    saved = stored(config)
    assert (saved.refresh_token, saved.expires_at) == ("refresh-NEW-2222", 1_800_007_200)


def test_no_refresh_without_expired_token(rsps, make_client):
    rsps.add(responses.POST, URL, json={"error": "NO_AUTH_FOUND", "error_description": "Wrong auth"}, status=401)
    with pytest.raises(AuthError) as info:
        make_client().call("profile")
    assert info.value.code == "NO_AUTH_FOUND"
    assert not any(c.request.url.startswith(OAUTH_URL) for c in rsps.calls)


def test_token_answer_moves_the_endpoint(rsps, make_client, config):
    new = "https://renamed.example/rest/"
    rsps.add(responses.POST, URL, json=EXPIRED, status=401)
    rsps.add(responses.GET, OAUTH_URL, json=token_answer(endpoint=new))
    rsps.add(responses.POST, new + "profile.json", json={"result": {"ID": "1"}})
    assert make_client().call("profile") == {"ID": "1"}
    assert stored(config).client_endpoint == new


def test_token_already_rotated_by_another_worker_is_used_without_refreshing(rsps, make_client, config):
    client = make_client()  # holds the old token
    rotate(config, "access-OTHER-3333", "refresh-OTHER-3333")

    def portal(request):
        ok = json.loads(request.body)["auth"] == "access-OTHER-3333"
        return (200, {}, json.dumps({"result": 1})) if ok else (401, {}, json.dumps(EXPIRED))

    rsps.add_callback(responses.POST, URL, callback=portal)
    assert client.call("profile") == 1
    assert not any(c.request.url.startswith(OAUTH_URL) for c in rsps.calls)


def test_invalid_grant_after_another_process_rotated(rsps, make_client, config):
    def oauth(_request):
        # meanwhile the install handler (or a worker without our lock) stored a new pair
        rotate(config, "access-OTHER-4444", "refresh-OTHER-4444")
        return 400, {}, json.dumps({"error": "invalid_grant", "error_description": "Invalid grant"})

    def portal(request):
        ok = json.loads(request.body)["auth"] == "access-OTHER-4444"
        return (200, {}, json.dumps({"result": 1})) if ok else (401, {}, json.dumps(EXPIRED))

    rsps.add_callback(responses.POST, URL, callback=portal)
    rsps.add_callback(responses.GET, OAUTH_URL, callback=oauth)
    assert make_client().call("profile") == 1
    assert stored(config).status == "active"


def test_invalid_grant_marks_needs_reauth(rsps, make_client, config):
    rsps.add(responses.POST, URL, json=EXPIRED, status=401)
    rsps.add(responses.GET, OAUTH_URL, json={"error": "invalid_grant", "error_description": "x"}, status=400)
    with pytest.raises(ReauthRequired):
        make_client().call("profile")
    assert stored(config).status == NEEDS_REAUTH
    with pytest.raises(ReauthRequired):
        make_client()


def test_refresh_happens_at_most_twice_per_call(rsps, make_client):
    rsps.add(responses.POST, URL, json=EXPIRED, status=401)
    rsps.add(responses.GET, OAUTH_URL, json=token_answer("a-1111111", "r-1111111"))
    rsps.add(responses.GET, OAUTH_URL, json=token_answer("a-2222222", "r-2222222"))
    with pytest.raises(AuthError):
        make_client().call("profile")
    assert len([c for c in rsps.calls if c.request.url.startswith(OAUTH_URL)]) == 2


def test_oauth_answer_for_another_portal_is_refused(rsps, make_client, config):
    answer = token_answer()
    answer["member_id"] = "someone-else"
    rsps.add(responses.POST, URL, json=EXPIRED, status=401)
    rsps.add(responses.GET, OAUTH_URL, json=answer)
    with pytest.raises(AuthError, match="another portal"):
        make_client().call("profile")
    assert stored(config).access_token == ACCESS


def test_clients_whose_token_expired_at_once_refresh_it_once(rsps, make_client, config):
    """Four clients (each its own connection to the store, as four processes on one or many machines) meet
    expired_token at the same moment: one exchanges the refresh token, the others wait for it and use the new pair
    (the refresh lock: a file lock on SQLite, an advisory lock on PostgreSQL)."""
    import threading

    def oauth(_request):
        return 200, {}, json.dumps(token_answer())

    def portal(request):
        ok = json.loads(request.body)["auth"] == "access-NEW-2222"
        return (200, {}, json.dumps({"result": 1})) if ok else (401, {}, json.dumps(EXPIRED))

    rsps.add_callback(responses.POST, URL, callback=portal)
    rsps.add_callback(responses.GET, OAUTH_URL, callback=oauth)
    clients = [make_client() for _ in range(4)]
    start = threading.Barrier(len(clients))
    results: list[object] = []

    def work(client):
        start.wait()
        results.append(client.call("profile"))

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1, 1, 1, 1]
    assert sum(1 for c in rsps.calls if c.request.url.startswith(OAUTH_URL)) == 1
    assert stored(config).access_token == "access-NEW-2222"
