"""Every implemented method answers junk parameters with a documented-style error, never a crash (HTTP 500)."""

from __future__ import annotations

import logging

from b24sandbox.portal import Portal, Webhook

JUNK = [{}, {"id": "x"}, {"id": 1}, {"entityTypeId": 2}, {"entityTypeId": "x"}, {"fields": "x"},
        {"fields": {"x": 1}}, {"entityTypeId": 2, "fields": {"title": ["a"], "opportunity": "abc"}},
        {"filter": "x", "order": "y", "select": "z", "start": "q"}, {"entityTypeId": 3, "id": 1, "fields": {"fm": "x"}},
        {"cmd": "x"}, {"cmd": {"a": ""}}, {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": "ftp://x"},
        {"event": "ONCRMDEALADD", "handler": "nope"}, {"moduleId": "crm", "field": "x"},
        {"options": "x"}, {"entityTypeId": 2, "filter": {"0": "x"}}]


def test_no_method_crashes_on_junk(tmp_path, caplog):
    caplog.set_level(logging.CRITICAL)
    portal = Portal(tmp_path / "p.db", seed_name="demo", rate_limit=False)
    try:
        app = portal.register_app("http://127.0.0.1:9/a", "http://127.0.0.1:9/i",
                                  ["crm", "placement", "userfieldconfig", "user", "im"], "T")
        token = portal.frame_fields(app["client_id"], 1).form["AUTH_ID"]
        crashes = [(name, params) for name in sorted(portal.methods) for params in JUNK
                   for auth in (token, Webhook(1, "sandbox")) if portal.call(name, params, auth)[0] >= 500]
        assert crashes == []
    finally:
        portal.close()
