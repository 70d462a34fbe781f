"""B24Client against ``responses``: what goes over the wire, retries by error code, holds, redirects."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from conftest import ACCESS, ENDPOINT, MEMBER, OAUTH_URL
from fakeportal import time_block

from b24app.installations import NEEDS_REAUTH, UNINSTALLED
from b24app.rest import (
    AuthError,
    B24Client,
    BadRequest,
    OperationTimeLimit,
    Overloaded,
    RateLimited,
    ReauthRequired,
    ServerError,
    TransportError,
)

URL = ENDPOINT + "profile.json"
OK = {"result": {"ID": "1"}, "time": time_block(operating=1.0, reset_at=1_800_000_600)}
QLE = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}


def answers(rsps, url, *bodies):
    """Queue (status, body) answers for one URL in order; bodies may be dicts or raw text."""
    for status, body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        rsps.add(responses.POST, url, body=text, status=status, content_type="application/json")


def test_call_sends_json_with_auth_in_body(rsps, make_client):
    answers(rsps, URL, (200, OK))
    assert make_client().call("profile", {"flag": True}) == {"ID": "1"}
    request = rsps.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("b24plans/")
    assert json.loads(request.body) == {"flag": True, "auth": ACCESS}
    assert "auth" not in request.url


def test_call_raw_gives_total_next_and_time(rsps, make_client):
    answers(rsps, ENDPOINT + "crm.deal.list.json",
            (200, {"result": [{"ID": "1"}], "total": 120, "next": 50, "time": time_block()}))
    response = make_client().call_raw("crm.deal.list", {"start": 0})
    assert (response.total, response.next, response.time["duration"]) == (120, 50, 0.01)


def test_error_on_http_200_is_raised(rsps, make_client):
    answers(rsps, ENDPOINT + "placement.bind.json",
            (200, {"error": "ERROR_PLACEMENT_HANDLER", "error_description": "Handler already binded"}))
    with pytest.raises(BadRequest) as info:
        make_client().call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB"})
    assert info.value.code == "ERROR_PLACEMENT_HANDLER" and info.value.status == 200
    assert len(rsps.calls) == 1


def test_503_query_limit_then_success(rsps, make_client, clock):
    answers(rsps, URL, (503, QLE), (503, QLE), (200, OK))
    client = make_client()
    assert client.call("profile") == {"ID": "1"}
    assert len(rsps.calls) == 3
    assert len(clock.sleeps) >= 2 and all(s >= 0.5 for s in clock.sleeps)  # at least one drain interval
    assert client.gate.bucket.level() >= 39  # the local bucket was treated as full


def test_query_limit_gives_up_after_max_retries(rsps, make_client, config):
    config["MAX_RETRIES"] = 2
    answers(rsps, URL, *[(503, QLE)] * 3)
    with pytest.raises(RateLimited):
        make_client().call("profile")
    assert len(rsps.calls) == 3


def test_query_limit_retries_even_an_add(rsps, make_client):
    """QUERY_LIMIT_EXCEEDED means the portal did not run the call, so resending cannot duplicate it."""
    url = ENDPOINT + "crm.item.add.json"
    answers(rsps, url, (503, QLE), (200, {"result": {"item": {"id": 9}}}))
    assert make_client().call("crm.item.add", {"entityTypeId": 1030, "fields": {}}) == {"item": {"id": 9}}


def test_overload_limit_stops_without_retry(rsps, make_client):
    answers(rsps, URL, (503, {"error": "OVERLOAD_LIMIT", "error_description": "blocked"}), (200, OK))
    with pytest.raises(Overloaded):
        make_client().call("profile")
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("method,retried", [
    ("crm.item.get", True), ("crm.item.update", True), ("crm.item.add", False), ("userfieldconfig.add", False),
])
def test_5xx_retried_only_for_idempotent_calls(rsps, make_client, method, retried):
    url = ENDPOINT + method + ".json"
    answers(rsps, url, (500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "x"}), (200, OK))
    client = make_client()
    if retried:
        assert client.call(method, {"id": 1}) == {"ID": "1"}
        assert len(rsps.calls) == 2
    else:
        with pytest.raises(ServerError):
            client.call(method, {"fields": {}})
        assert len(rsps.calls) == 1


def test_batch_with_an_add_is_not_retried_on_5xx(rsps, make_client):
    answers(rsps, ENDPOINT + "batch.json", (502, "<html>Bad gateway</html>"), (200, {"result": {"result": []}}))
    with pytest.raises(ServerError):
        make_client().batch({"a": ("crm.item.get", {"id": 1}), "b": ("crm.item.add", {"fields": {}})})
    assert len(rsps.calls) == 1


def test_batch_of_reads_is_retried_on_5xx(rsps, make_client):
    answers(rsps, ENDPOINT + "batch.json", (502, "<html>Bad gateway</html>"),
            (200, {"result": {"result": {"a": {"ID": 1}}, "result_error": []}}))
    assert make_client().batch({"a": ("crm.item.get", {"id": 1})}).result == {"a": {"ID": 1}}


def test_connection_errors_retried_for_reads_only(rsps, make_client):
    rsps.add(responses.POST, URL, body=requests.ConnectionError("refused http://secret-host/rest/1/abc"))
    answers(rsps, URL, (200, OK))
    assert make_client().call("profile") == {"ID": "1"}
    add_url = ENDPOINT + "crm.item.add.json"
    rsps.add(responses.POST, add_url, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransportError) as info:
        make_client().call("crm.item.add", {"fields": {}})
    assert info.value.code == "TIMEOUT" and "secret-host" not in str(info.value)


def test_other_4xx_never_retried(rsps, make_client):
    answers(rsps, ENDPOINT + "crm.item.get.json", (400, {"error": "NOT_FOUND", "error_description": "no"}), (200, OK))
    with pytest.raises(Exception) as info:
        make_client().call("crm.item.get", {"id": 1})
    assert info.value.code == "NOT_FOUND" and len(rsps.calls) == 1


def test_html_error_body_is_a_clean_server_error(rsps, make_client, config):
    config["MAX_RETRIES"] = 1
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    answers(rsps, URL, (502, html), (502, html))
    with pytest.raises(ServerError) as info:
        make_client().call("profile")
    assert info.value.status == 502 and "not JSON" in info.value.description


def test_missing_time_block_is_fine(rsps, make_client):
    answers(rsps, URL, (200, {"result": {"ID": "1"}}))
    answers(rsps, ENDPOINT + "batch.json", (200, {"result": {"result": {"a": 1}, "result_time": []}}))
    client = make_client()
    assert client.call_raw("profile").time is None
    assert client.batch({"a": ("crm.item.get", {"id": 1})}).time == {}
    answers(rsps, ENDPOINT + "crm.item.get.json", (403, {"error": "ACCESS_DENIED", "error_description": "no"}))
    with pytest.raises(Exception, match="ACCESS_DENIED"):
        client.call("crm.item.get", {"id": 1})


def test_429_holds_the_method_until_reset_then_retries(rsps, make_client, clock):
    reset_at = clock.now + 120
    url = ENDPOINT + "crm.item.update.json"
    answers(rsps, url,
            (429, {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked",
                   "time": {"operating": 481.0, "operating_reset_at": reset_at}}),
            (200, {"result": {"item": {"id": 1}}, "time": time_block(operating=10, reset_at=clock.now + 700)}))
    answers(rsps, URL, (200, OK))
    client = make_client()
    assert client.call("crm.item.update", {"id": 1, "fields": {}}) == {"item": {"id": 1}}
    assert len(rsps.calls) == 2
    second = rsps.calls[1]
    assert clock.now >= reset_at  # the retry went out only after the reset time
    assert sum(clock.sleeps) >= 120
    assert second.request.url == url
    before = clock.now
    client.call("profile")  # other methods are not held
    assert clock.now == before


def test_429_without_reset_time_uses_the_last_known_one(rsps, make_client, clock):
    url = ENDPOINT + "crm.item.list.json"
    reset_at = clock.now + 45
    answers(rsps, url, (200, {"result": {"items": []}, "time": time_block(operating=300, reset_at=reset_at)}),
            (429, {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked"}),
            (200, {"result": {"items": []}}))
    client = make_client()
    client.call("crm.item.list", {})
    client.call("crm.item.list", {})
    assert clock.now >= reset_at and len(rsps.calls) == 3


def test_operating_near_the_limit_holds_before_sending(rsps, make_client, clock):
    url = ENDPOINT + "crm.item.list.json"
    reset_at = clock.now + 300
    answers(rsps, url, (200, {"result": {"items": []}, "time": time_block(operating=400, reset_at=reset_at)}),
            (200, {"result": {"items": []}}))
    client = make_client()
    client.call("crm.item.list", {})
    assert clock.now < reset_at
    client.call("crm.item.list", {})  # 400 s > 0.8 * 480 s: wait for the oldest basket to drop
    assert clock.now >= reset_at


def test_batch_sub_result_time_holds_that_method(rsps, make_client, clock):
    reset_at = clock.now + 200
    answers(rsps, ENDPOINT + "batch.json", (200, {"result": {
        "result": {"a": {"items": []}}, "result_time": {"a": time_block(operating=470, reset_at=reset_at)}}}))
    answers(rsps, ENDPOINT + "crm.item.list.json", (200, {"result": {"items": []}}))
    client = make_client()
    client.batch({"a": ("crm.item.list", {"entityTypeId": 2})})
    client.call("crm.item.list", {"entityTypeId": 2})
    assert clock.now >= reset_at


def test_long_hold_raises_instead_of_waiting(rsps, make_client, clock):
    url = ENDPOINT + "crm.item.list.json"
    answers(rsps, url, (200, {"result": {"items": []}, "time": time_block(operating=470, reset_at=clock.now + 500)}))
    client = make_client(max_hold=60)
    client.call("crm.item.list", {})
    with pytest.raises(OperationTimeLimit) as info:
        client.call("crm.item.list", {})
    assert info.value.reset_at == clock.now + 500 and len(rsps.calls) == 1


def test_a_renamed_portal_is_followed_once_the_oauth_server_confirms_it(rsps, make_client, store):
    new = "https://renamed.example/rest/"
    rsps.add(responses.POST, ENDPOINT + "crm.item.get.json", status=302,
             headers={"Location": new + "crm.item.get.json"})
    rsps.add(responses.GET, OAUTH_URL, json={"access_token": "access-token-NEW2222", "refresh_token": "refresh-NEW2",
                                             "expires_in": 3600, "member_id": MEMBER, "client_endpoint": new})
    answers(rsps, new + "crm.item.get.json", (200, {"result": {"item": {"id": 5}}}))
    client = make_client()
    assert client.call("crm.item.get", {"entityTypeId": 2, "id": 5}) == {"item": {"id": 5}}
    moved = rsps.calls[2].request
    assert moved.method == "POST" and moved.url == new + "crm.item.get.json"
    assert json.loads(moved.body) == {"entityTypeId": 2, "id": 5, "auth": "access-token-NEW2222"}
    assert store.find(MEMBER).client_endpoint == new
    answers(rsps, new + "profile.json", (200, OK))
    client.call("profile")
    assert rsps.calls[-1].request.url == new + "profile.json"


def test_a_redirect_to_a_host_the_oauth_server_does_not_confirm_is_not_followed(rsps, make_client, store):
    evil = "https://evil.example/rest/"
    rsps.add(responses.POST, ENDPOINT + "profile.json", status=302, headers={"Location": evil + "profile.json"})
    rsps.add(responses.GET, OAUTH_URL, json={"access_token": "access-token-NEW3333", "refresh_token": "refresh-NEW3",
                                             "expires_in": 3600, "member_id": MEMBER, "client_endpoint": ENDPOINT})
    with pytest.raises(ServerError, match="not confirmed"):
        make_client().call("profile")
    assert not any(call.request.url.startswith(evil) for call in rsps.calls)  # the token never went there
    assert store.find(MEMBER).client_endpoint == ENDPOINT


def test_a_frame_users_client_never_follows_a_redirect_to_another_host(rsps, config, installation, clock):
    from b24app.rest import B24Client

    rsps.add(responses.POST, ENDPOINT + "profile.json", status=302,
             headers={"Location": "https://evil.example/rest/profile.json"})
    client = B24Client.for_user_token(installation, "frame-user-token-2", config, sleep=clock.sleep, clock=clock)
    with pytest.raises(ServerError, match="not followed"):
        client.call("profile")
    assert len(rsps.calls) == 1


def test_redirect_to_plain_http_is_refused(rsps, make_client):
    rsps.add(responses.POST, URL, status=302, headers={"Location": "http://evil.example/rest/profile.json"})
    with pytest.raises(ServerError, match="https"):
        make_client().call("profile")


def test_webhook_mode_sends_no_auth(rsps, config, clock):
    hook = "https://portal.example/rest/1/hookcode123/"
    answers(rsps, hook + "profile.json", (200, OK))
    client = B24Client.for_webhook(hook, config, sleep=clock.sleep, clock=clock)
    assert client.call("profile") == {"ID": "1"}
    assert json.loads(rsps.calls[0].request.body) == {}
    assert "hookcode123" not in repr(client)


def test_webhook_expired_is_an_error_not_a_refresh(rsps, config, clock):
    hook = "https://portal.example/rest/1/hookcode123/"
    answers(rsps, hook + "profile.json", (401, {"error": "expired_token", "error_description": "expired"}))
    client = B24Client.for_webhook(hook, config, sleep=clock.sleep, clock=clock)
    with pytest.raises(AuthError):
        client.call("profile")
    assert len(rsps.calls) == 1


def test_user_token_uses_the_stored_endpoint_and_never_refreshes(rsps, config, installation, clock):
    answers(rsps, URL, (401, {"error": "expired_token", "error_description": "expired"}))
    client = B24Client.for_user_token(installation, "frame-user-token-1", config, sleep=clock.sleep, clock=clock)
    with pytest.raises(AuthError) as info:
        client.call("profile")
    assert info.value.code == "expired_token"
    assert json.loads(rsps.calls[0].request.body)["auth"] == "frame-user-token-1"
    assert len(rsps.calls) == 1  # nothing went to the OAuth server


@pytest.mark.parametrize("status,error", [(None, AuthError), (NEEDS_REAUTH, ReauthRequired),
                                          (UNINSTALLED, AuthError)])
def test_for_installation_refuses_unknown_or_inactive(config, store, installation, status, error):
    member = "no-such-member" if status is None else MEMBER
    if status:
        store.set_status(MEMBER, status)
    with pytest.raises(error):
        B24Client.for_installation(member, config)


def test_batch_limits_and_keys(make_client):
    client = make_client()
    with pytest.raises(ValueError):
        client.batch({f"k{i}": ("profile", None) for i in range(51)})
    with pytest.raises(ValueError):
        client.batch({"0": ("profile", None)})
    with pytest.raises(ValueError):
        client.call("../admin", {})


@pytest.mark.parametrize("empty", [[], {}], ids=["php-list", "object"])
def test_batch_results_and_errors_per_key(rsps, make_client, empty):
    answers(rsps, ENDPOINT + "batch.json", (200, {"result": {
        "result": {"ok": {"item": {"id": 1}}}, "result_error": {"bad": {"error": "NOT_FOUND",
                                                                       "error_description": "Not found"}},
        "result_total": empty, "result_next": empty, "result_time": empty}, "time": time_block()}))
    result = make_client().batch({"ok": ("crm.item.get", {"entityTypeId": 2, "id": 1}),
                                  "bad": ("crm.item.get", {"entityTypeId": 2, "id": 2})})
    assert result.result == {"ok": {"item": {"id": 1}}}
    assert result.errors["bad"].code == "NOT_FOUND" and result.errors["bad"].method == "crm.item.get"
    body = json.loads(rsps.calls[0].request.body)
    assert body["cmd"] == {"ok": "crm.item.get?entityTypeId=2&id=1", "bad": "crm.item.get?entityTypeId=2&id=2"}
    assert body["halt"] == 0 and body["auth"] == ACCESS


def test_batch_all_chunks_by_50(rsps, make_client):
    def reply(request):
        cmd = json.loads(request.body)["cmd"]
        return 200, {}, json.dumps({"result": {"result": {k: k for k in cmd}, "result_error": []}})

    rsps.add_callback(responses.POST, ENDPOINT + "batch.json", callback=reply)
    result = make_client().batch_all({f"c{i}": ("crm.item.get", {"id": i}) for i in range(120)})
    assert len(rsps.calls) == 3
    assert result.result == {f"c{i}": f"c{i}" for i in range(120)}


def test_429_on_a_whole_batch_waits_before_resending(rsps, make_client, clock):
    reset_at = clock.now + 90
    answers(rsps, ENDPOINT + "batch.json",
            (429, {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked",
                   "time": {"operating": 500, "operating_reset_at": reset_at}}),
            (200, {"result": {"result": {"a": 1}}}))
    assert make_client().batch({"a": ("crm.item.get", {"id": 1})}).result == {"a": 1}
    assert clock.now >= reset_at and len(rsps.calls) == 2


def test_blocked_sub_command_holds_its_method(rsps, make_client, clock):
    reset_at = clock.now + 75
    answers(rsps, ENDPOINT + "batch.json", (200, {"result": {"result": {"b": 1}, "result_error": {
        "a": {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked",
              "time": {"operating": 490, "operating_reset_at": reset_at}}}}}))
    answers(rsps, ENDPOINT + "crm.item.update.json", (200, {"result": True}))
    client = make_client()
    result = client.batch({"a": ("crm.item.update", {"id": 1}), "b": ("crm.item.get", {"id": 1})})
    assert isinstance(result.errors["a"], OperationTimeLimit)
    assert client.call("crm.item.update", {"id": 1, "fields": {}}) is True
    assert clock.now >= reset_at
