"""placement.bind/unbind/get/list (api-reference/widgets/placement-*.md), including the HTTP-200 errors."""

from __future__ import annotations

from tests.sandbox.conftest import open_app


def test_bind_rules_and_http_200_errors(sb):
    rest = open_app(sb, ["crm", "placement"]).rest
    missing = rest.raw("placement.bind", {"HANDLER": "http://127.0.0.1:9/tab"})
    assert missing.status_code == 200
    assert missing.json() == {"error": "ERROR_ARGUMENT", "error_description": "Argument 'PLACEMENT' is null or empty",
                              "argument": "PLACEMENT"}
    no_handler = rest.raw("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB"})
    assert no_handler.status_code == 200 and no_handler.json()["argument"] == "HANDLER"
    protocol = rest.raw("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": "ftp://host/x"})
    assert protocol.status_code == 400 and protocol.json()["error"] == "ERROR_UNSUPPORTED_PROTOCOL"
    no_host = rest.raw("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": "http:///x"})
    assert no_host.json()["error"] == "ERROR_WRONG_HANDLER_URL"
    unknown = rest.raw("placement.bind", {"PLACEMENT": "CRM_NOTHING_TAB", "HANDLER": "http://127.0.0.1:9/x"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "ERROR_PLACEMENT_NOT_FOUND"
    user_mode = rest.raw("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": "http://127.0.0.1:9/x",
                                            "USER_ID": 2})
    assert user_mode.status_code == 200 and user_mode.json()["error"] == "ERROR_PLACEMENT_USER_MODE"
    rest.call("placement.bind", {"PLACEMENT": "REST_APP_URI", "HANDLER": "http://127.0.0.1:9/uri"})
    twice = rest.raw("placement.bind", {"PLACEMENT": "REST_APP_URI", "HANDLER": "http://127.0.0.1:9/uri2"})
    assert twice.status_code == 200 and twice.json()["error"] == "ERROR_PLACEMENT_MAX_COUNT"


def test_crm_placements_need_the_crm_scope_and_dynamic_codes_appear(sb, hook):
    no_crm = open_app(sb, ["placement"]).rest
    refused = no_crm.raw("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": "http://127.0.0.1:9/x"})
    assert refused.json()["error"] == "ERROR_PLACEMENT_NOT_FOUND"
    assert "CRM_DEAL_DETAIL_TAB" not in no_crm.result("placement.list")
    rest = open_app(sb, ["crm", "placement"]).rest
    eti = hook.result("crm.type.add", {"fields": {"title": "Planes"}})["type"]["entityTypeId"]
    assert f"CRM_DYNAMIC_{eti}_DETAIL_TAB" in rest.result("placement.list")


def test_get_and_unbind(sb):
    rest = open_app(sb, ["crm", "placement"]).rest
    lang = {"la": {"TITLE": "Plan de ventas"}, "en": {"TITLE": "Sales plan"}}
    rest.call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": "http://127.0.0.1:9/deal",
                                 "TITLE": "Plan", "LANG_ALL": lang})
    rest.call("placement.bind", {"PLACEMENT": "CRM_COMPANY_DETAIL_TAB", "HANDLER": "http://127.0.0.1:9/client"})
    bound = rest.result("placement.get")
    assert bound[0] == {"placement": "CRM_DEAL_DETAIL_TAB", "userId": 0, "handler": "http://127.0.0.1:9/deal",
                        "options": [], "title": "Plan", "description": "", "langAll": lang}
    assert bound[1]["title"] == "Planes de ventas"  # the app's name when TITLE is left out
    assert rest.result("placement.unbind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB"}) == {"count": 2}
    assert [b["placement"] for b in rest.result("placement.get")] == ["CRM_COMPANY_DETAIL_TAB"]
    assert rest.raw("placement.unbind", {}).status_code == 400
