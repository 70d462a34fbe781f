"""The REST wire format: paths, bodies, envelopes, errors and their HTTP statuses."""

from __future__ import annotations

import requests

from b24app import phpquery


def test_method_names_are_case_insensitive_with_optional_json_and_slash(sb):
    for path in ("user.admin", "USER.Admin.json", "user.admin/", "user.admin.json/"):
        response = requests.get(sb.webhook_url + path, timeout=5)
        assert response.status_code == 200, path
        assert response.json()["result"] is True


def test_time_block_has_the_documented_keys(hook):
    body = hook.call("profile")
    assert set(body["time"]) == {"start", "finish", "duration", "processing", "date_start", "date_finish",
                                 "operating_reset_at", "operating"}
    assert body["time"]["finish"] >= body["time"]["start"]
    assert body["time"]["date_start"][10] == "T" and body["time"]["date_start"][-6] in "+-"


def test_php_bracket_form_body_and_query_string_are_read(sb, hook):
    hook.call("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Acme"}})
    form = phpquery.encode({"entityTypeId": 4, "filter": {"%title": "acm"}, "select": ["id", "title"]})
    by_form = requests.post(sb.webhook_url + "crm.item.list", data=form, timeout=5,
                            headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
    by_query = requests.get(sb.webhook_url + "crm.item.list?" + form, timeout=5).json()
    assert by_form["result"]["items"] == [{"id": 1, "title": "Acme"}]
    assert by_query["result"] == by_form["result"]


def test_unknown_parameters_are_tolerated(hook):
    body = hook.call("crm.item.list", {"entityTypeId": 2, "whatever": {"x": 1}, "select": ["id"]})
    assert body["result"] == {"items": []}


def test_empty_maps_are_encoded_as_php_empty_arrays(sb, app_session):
    response = requests.post(sb.rest_url + "app.option.get", json={"auth": app_session.frame.form["AUTH_ID"]})
    assert response.json()["result"] == []


def test_unknown_method_is_404_error_method_not_found(sb):
    response = requests.post(sb.webhook_url + "crm.item.frobnicate", json={}, timeout=5)
    assert response.status_code == 404
    assert response.json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_missing_or_wrong_auth_is_401_no_auth_found(sb):
    for url in (sb.rest_url + "profile", sb.rest_url + "profile?auth=nope", sb.url + "/rest/1/wrong/profile"):
        response = requests.get(url, timeout=5)
        assert response.status_code == 401
        assert response.json()["error"] == "NO_AUTH_FOUND"


def test_webhook_cannot_use_app_context_methods(sb):
    info = requests.get(sb.webhook_url + "app.info", timeout=5)
    assert info.status_code == 400 and info.json()["error"] == "ACCESS_DENIED"
    bind = requests.post(sb.webhook_url + "placement.bind", json={"PLACEMENT": "CRM_DEAL_DETAIL_TAB"})
    assert bind.status_code == 403 and bind.json()["error"] == "WRONG_AUTH_TYPE"
    event = requests.post(sb.webhook_url + "event.bind", json={"event": "ONCRMDEALADD", "handler": "http://x/"})
    assert event.status_code == 403 and event.json()["error"] == "WRONG_AUTH_TYPE"


def test_state_survives_a_restart(tmp_path):
    from b24sandbox.server import SandboxServer

    with SandboxServer(tmp_path / "p.db", rate_limit=False) as first:
        member_id = first.portal.member_id
        requests.post(first.webhook_url + "crm.item.add", json={"entityTypeId": 2, "fields": {"title": "Kept"}})
    with SandboxServer(tmp_path / "p.db", rate_limit=False) as second:
        assert second.portal.member_id == member_id
        items = requests.post(second.webhook_url + "crm.item.list",
                              json={"entityTypeId": 2, "select": ["title"]}).json()["result"]["items"]
        assert [i["title"] for i in items] == ["Kept"]


def test_new_portal_has_standard_pipeline_currencies_and_users(hook):
    stages = hook.result("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}})
    assert [s["STATUS_ID"] for s in stages] == ["NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING",
                                                "FINAL_INVOICE", "WON", "LOSE", "APOLOGY"]
    semantics = {s["STATUS_ID"]: (s["SEMANTICS"], s["EXTRA"]["SEMANTICS"]) for s in stages}
    assert semantics["WON"] == ("S", "success") and semantics["LOSE"] == ("F", "failure")
    assert semantics["APOLOGY"] == ("F", "apology") and semantics["NEW"] == (None, "process")
    currencies = {c["CURRENCY"]: c for c in hook.result("crm.currency.list")}
    assert set(currencies) >= {"USD", "EUR", "MXN", "RUB"}
    assert currencies["USD"]["BASE"] == "Y" and currencies["USD"]["AMOUNT"] == "1.0000"
    assert currencies["EUR"]["AMOUNT"] == "1.0800" and currencies["EUR"]["AMOUNT_CNT"] == "1"
    assert hook.result("crm.currency.base.get") == "USD"
    users = hook.call("user.get", {"FILTER": {"ID": [1, 3]}})
    assert [u["ID"] for u in users["result"]] == ["1", "3"] and users["total"] == 2
    assert "ADMIN" not in users["result"][0]


def test_demo_seed_has_clients_deals_pipelines_and_state(tmp_path):
    from b24sandbox.server import SandboxServer

    with SandboxServer(tmp_path / "demo.db", seed="demo", rate_limit=False) as sb:
        hook = sb.webhook_url
        companies = requests.post(hook + "crm.company.list", json={"select": ["ID", "TITLE", "PHONE", "EMAIL"]}).json()
        assert companies["total"] >= 5 and all(c["PHONE"] and c["EMAIL"] for c in companies["result"])
        contacts = requests.post(hook + "crm.item.list", json={"entityTypeId": 3, "select": ["*"]}).json()
        assert contacts["total"] >= 10 and all(c["fm"] for c in contacts["result"]["items"])
        deals = requests.post(hook + "crm.item.list", json={
            "entityTypeId": 2, "select": ["categoryId", "stageSemanticId", "currencyId"]}).json()["result"]["items"]
        assert {d["categoryId"] for d in deals} == {0, 1}
        assert {d["stageSemanticId"] for d in deals} == {"P", "S", "F"}
        assert len({d["currencyId"] for d in deals}) >= 3
        state = requests.get(sb.url + "/sandbox/state", timeout=5).json()
        assert state["member_id"] == sb.portal.member_id and state["client_endpoint"] == sb.rest_url
