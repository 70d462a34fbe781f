"""Scopes per app, admin-only methods, and a user's token seeing what that user may see
(api-reference/scopes/permissions.md)."""

from __future__ import annotations

import requests

from tests.sandbox.conftest import open_app


def test_missing_scope_is_403_insufficient_scope(sb):
    session = open_app(sb, ["crm"])
    response = session.rest.raw("user.current")
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert session.rest.raw("placement.list").json()["error"] == "insufficient_scope"
    assert session.rest.result("method.get", {"name": "user.current"}) == {"isExisting": True,
                                                                           "isAvailable": False}
    assert session.rest.result("profile")["ID"] == "1"  # basic needs no scope
    assert session.rest.result("scope") == ["crm"] and "user" in session.rest.result("scope", {"full": True})


def test_admin_only_methods_refuse_other_users(sb):
    session = open_app(sb, ["crm", "placement"], user_id=2)
    assert session.rest.result("user.admin") is False
    bind = session.rest.raw("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": "http://a.b/x"})
    assert bind.status_code == 403 and bind.json()["error"] == "ACCESS_DENIED"
    crm_admin = session.rest.raw("crm.type.add", {"fields": {"title": "X"}})
    assert crm_admin.status_code == 400 and crm_admin.json()["error"] == "ACCESS_DENIED"
    offline = session.rest.raw("event.bind", {"event": "ONCRMDEALADD", "event_type": "offline"})
    assert offline.status_code == 403 and offline.json()["error"] == "ACCESS_DENIED"
    assert session.rest.raw("app.option.set", {"options": {"a": 1}}).status_code == 403
    assert session.rest.raw("crm.type.list").json()["error"] == "ACCESS_DENIED"


def test_a_users_token_sees_only_what_the_user_may_see(sb, hook):
    for owner in (3, 3, 4, 2):
        hook.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": f"of {owner}", "assignedById": owner}})
    maria = open_app(sb, ["crm"], user_id=3)
    listed = maria.rest.call("crm.item.list", {"entityTypeId": 2, "select": ["id", "assignedById"]})
    assert [i["assignedById"] for i in listed["result"]["items"]] == [3, 3] and listed["total"] == 2
    foreign = maria.rest.raw("crm.item.get", {"entityTypeId": 2, "id": 3})
    assert foreign.status_code == 400 and foreign.json()["error"] == "ACCESS_DENIED"
    manager = sb.portal.frame_fields(maria.app["client_id"], 2).form["AUTH_ID"]
    from tests.sandbox.conftest import Rest

    assert Rest(sb.rest_url, manager).call("crm.item.list", {"entityTypeId": 2})["total"] == 4
    accountant = Rest(sb.rest_url, sb.portal.frame_fields(maria.app["client_id"], 5).form["AUTH_ID"])
    denied = accountant.raw("crm.item.list", {"entityTypeId": 2})
    assert denied.status_code == 400 and denied.json()["error"] == "ACCESS_DENIED"


def test_webhook_of_a_limited_user(sb, hook):
    hook.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "admin's", "assignedById": 1}})
    from tests.sandbox.conftest import Rest

    maria = Rest(sb.portal.add_webhook(3, ["crm"]))
    assert maria.call("crm.item.list", {"entityTypeId": 2})["total"] == 0
    assert maria.raw("user.get").json()["error"] == "insufficient_scope"


def test_system_notifications_reach_the_user(sb, app_session):
    new_id = app_session.rest.result("im.notify.system.add", {"USER_ID": 3, "MESSAGE": "Plan cumplido"})
    assert isinstance(new_id, int)
    assert [n["message"] for n in sb.portal.notifications(3)] == ["Plan cumplido"]
    missing = app_session.rest.raw("im.notify.system.add", {"USER_ID": 3})
    assert missing.status_code == 400
    no_scope = open_app(sb, ["crm"]).rest.raw("im.notify.system.add", {"USER_ID": 3, "MESSAGE": "x"})
    assert no_scope.status_code == 403 and no_scope.json()["error"] == "insufficient_scope"


def test_userfieldconfig_needs_the_module_scope_too(sb):
    session = open_app(sb, ["userfieldconfig"])
    response = session.rest.raw("userfieldconfig.list", {"moduleId": "crm"})
    assert response.status_code == 400
    assert response.json() == {"error": "", "error_description": "The current method required more scopes. (crm)"}


def test_the_shell_bell_lists_the_acting_persons_notifications_with_their_link(sb, app_session):
    app_session.rest.result("im.notify.system.add", {
        "USER_ID": 3, "MESSAGE": f"Plan en riesgo. Abrir el plan: {sb.url}/marketplace/app/x/?PARAMS=%7B%7D"})
    app_session.rest.result("im.notify.system.add", {"USER_ID": 1, "MESSAGE": "Para el administrador"})
    page = requests.get(f"{sb.url}/crm/deal/list/", cookies={"b24sb_user": "3"}, timeout=10).text
    bell = page[page.index('id="bell"'):page.index("</details>", page.index('id="bell"'))]
    assert 'id="bell-count">1<' in bell and "Plan en riesgo. Abrir el plan:" in bell
    assert 'href="/marketplace/app/x/?PARAMS=%7B%7D"' in bell and "Para el administrador" not in bell
    empty = requests.get(f"{sb.url}/crm/deal/list/", cookies={"b24sb_user": "2"}, timeout=10).text
    assert 'id="bell-count">0<' in empty
