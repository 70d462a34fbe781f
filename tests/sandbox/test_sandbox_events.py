"""Local apps, install gating and event delivery by real HTTP POSTs (api-reference/events/index.md)."""

from __future__ import annotations

import requests

from b24app import phpquery
from tests.sandbox.conftest import Rest, open_app


def _bind(rest: Rest, sink, *events):
    for event in events:
        rest.call("event.bind", {"event": event, "handler": sink.url + "/events"})


def _one_at_a_time(sb) -> None:
    """Deliver one event after the other, so the sink receives them in the order they were fired."""
    sb.portal.set_faults({"event_concurrency": 1})


def test_events_are_form_posts_that_parse_back(sb, sink):
    session = open_app(sb, ["crm"])
    _bind(session.rest, sink, "ONCRMDEALADD", "ONCRMDEALUPDATE")
    deal = session.rest.result("crm.item.add", {"entityTypeId": 2, "fields": {"title": "A"}})["item"]
    got = sink.wait_for(1)[0]
    assert got["content_type"] == "application/x-www-form-urlencoded"
    assert "data%5BFIELDS%5D%5BID%5D=" + str(deal["id"]) in got["body"]
    form = got["form"]
    assert form["event"] == "ONCRMDEALADD" and form["data"] == {"FIELDS": {"ID": str(deal["id"])}}
    assert form["event_handler_id"].isdigit() and form["ts"].isdigit()
    auth = form["auth"]
    assert auth["application_token"] == session.app["application_token"]
    assert auth["member_id"] == sb.portal.member_id and auth["client_endpoint"] == sb.url + "/rest/"
    assert list(auth) == ["access_token", "expires_in", "scope", "domain", "server_endpoint", "status",
                          "client_endpoint", "member_id", "refresh_token", "application_token"]
    assert auth["domain"] == sb.portal.domain and auth["expires_in"] == "3600" and auth["status"] == "L"
    assert Rest(sb.rest_url, auth["access_token"]).result("profile")["ID"] == "1"  # the acting user's token
    delivered = sb.portal.deliveries[-1]["payload"]
    assert phpquery.decode(phpquery.encode(delivered)) == form


def test_no_events_and_no_placements_before_install_finish(sb, sink):
    session = open_app(sb, ["crm", "placement"], finish=False)
    assert session.rest.result("app.info")["INSTALLED"] is False
    _bind(session.rest, sink, "ONCRMDEALADD")
    session.rest.call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": sink.url + "/tab"})
    assert sb.portal.placements_for("CRM_DEAL_DETAIL_TAB") == []
    session.rest.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "silent"}})
    assert sb.portal.dispatcher.wait_idle() and sink.received == []
    sid = session.frame.query["APP_SID"]
    assert requests.post(f"{sb.url}/sandbox/apps/{session.app['client_id']}/install-finish",
                         data={"APP_SID": "forged"}, timeout=5).status_code == 403
    finish = requests.post(f"{sb.url}/sandbox/apps/{session.app['client_id']}/install-finish",
                           data={"APP_SID": sid}, timeout=5)
    assert finish.status_code == 200
    assert session.rest.result("app.info")["INSTALLED"] is True
    assert [p["handler"] for p in sb.portal.placements_for("CRM_DEAL_DETAIL_TAB")] == [sink.url + "/tab"]
    session.rest.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "heard"}})
    assert sink.wait_for(1)[0]["form"]["data"]["FIELDS"]["ID"] == "2"


def test_non_admin_sees_not_installed_message(sb):
    session = open_app(sb, ["crm"], finish=False)
    frame = sb.portal.frame_fields(session.app["client_id"], 3)
    assert frame.blocked and not frame.form


def test_category_move_fires_only_move_event_and_no_change_fires_nothing(sb, sink, hook):
    _one_at_a_time(sb)
    session = open_app(sb, ["crm"])
    _bind(session.rest, sink, "ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY")
    pipeline = hook.result("crm.category.add", {"entityTypeId": 2, "fields": {"name": "Proyectos"}})["category"]
    hook.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "M", "opportunity": 5}})
    hook.call("crm.item.update", {"entityTypeId": 2, "id": 1, "fields": {"title": "M", "opportunity": 5}})
    hook.call("crm.item.update", {"entityTypeId": 2, "id": 1, "fields": {"categoryId": pipeline["id"]}})
    hook.call("crm.item.update", {"entityTypeId": 2, "id": 1, "fields": {"stageId": f"C{pipeline['id']}:WON"}})
    assert sb.portal.dispatcher.wait_idle()
    forms = [r["form"] for r in sink.wait_for(2)]
    assert [f["event"] for f in forms] == ["ONCRMDEALMOVETOCATEGORY", "ONCRMDEALUPDATE"]
    assert forms[0]["data"]["FIELDS"] == {"ID": "1", "CATEGORY_ID": str(pipeline["id"]),
                                          "STAGE_ID": f"C{pipeline['id']}:NEW"}
    assert "access_token" not in forms[0]["auth"] and "refresh_token" not in forms[0]["auth"]  # webhook: no tokens
    assert forms[0]["auth"]["application_token"] == session.app["application_token"]


def test_smart_process_item_events_carry_entity_type_id(sb, sink, hook):
    _one_at_a_time(sb)
    session = open_app(sb, ["crm"])
    eti = hook.result("crm.type.add", {"fields": {"title": "Planes"}})["type"]["entityTypeId"]
    _bind(session.rest, sink, "ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE")
    item = session.rest.result("crm.item.add", {"entityTypeId": eti, "fields": {"title": "p"}})["item"]
    session.rest.call("crm.item.update", {"entityTypeId": eti, "id": item["id"], "fields": {"title": "q"}})
    session.rest.call("crm.item.delete", {"entityTypeId": eti, "id": item["id"]})
    forms = [r["form"] for r in sink.wait_for(3)]
    assert [f["event"] for f in forms] == ["ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE",
                                           "ONCRMDYNAMICITEMDELETE"]
    assert all(f["data"]["FIELDS"] == {"ID": str(item["id"]), "ENTITY_TYPE_ID": str(eti)} for f in forms)


def test_contact_company_and_currency_events(sb, sink, hook):
    _one_at_a_time(sb)
    session = open_app(sb, ["crm"])
    _bind(session.rest, sink, "ONCRMCOMPANYADD", "ONCRMCONTACTDELETE", "ONCRMCURRENCYUPDATE")
    hook.call("crm.company.add", {"fields": {"TITLE": "X"}})
    contact = hook.result("crm.contact.add", {"fields": {"NAME": "Y"}})
    hook.call("crm.contact.delete", {"id": contact})
    hook.call("crm.currency.update", {"id": "EUR", "fields": {"AMOUNT": "1.1"}})
    forms = [r["form"] for r in sink.wait_for(3)]
    assert [(f["event"], f["data"]["FIELDS"]["ID"]) for f in forms] == [
        ("ONCRMCOMPANYADD", "1"), ("ONCRMCONTACTDELETE", str(contact)), ("ONCRMCURRENCYUPDATE", "EUR")]
    assert hook.result("crm.currency.get", {"id": "EUR"})["AMOUNT"] == "1.1000"


def test_uninstall_sends_onappuninstall_and_drops_bindings(sb, sink):
    session = open_app(sb, ["crm", "placement"])
    _bind(session.rest, sink, "ONAPPUNINSTALL", "ONCRMDEALADD")
    session.rest.call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": sink.url + "/tab"})
    response = requests.post(f"{sb.url}/sandbox/apps/{session.app['client_id']}/uninstall", json={}, timeout=5)
    assert response.status_code == 200
    form = sink.wait_for(1)[0]["form"]
    assert form["event"] == "ONAPPUNINSTALL" and form["data"] == {"LANGUAGE_ID": "la", "CLEAN": "1"}
    assert set(form["auth"]) == {"domain", "server_endpoint", "client_endpoint", "member_id", "application_token"}
    assert sb.portal.placements_for("CRM_DEAL_DETAIL_TAB") == []
    assert session.rest.raw("user.admin").status_code == 401
    requests.post(sb.webhook_url + "crm.item.add", json={"entityTypeId": 2, "fields": {"title": "after"}})
    assert sb.portal.dispatcher.wait_idle() and len(sink.received) == 1


def test_update_fires_onappupdate_with_new_application_token(sb, sink):
    session = open_app(sb, ["crm"])
    _bind(session.rest, sink, "ONAPPUPDATE")
    requests.post(f"{sb.url}/sandbox/apps/{session.app['client_id']}/update", json={"version": 2}, timeout=5)
    form = sink.wait_for(1)[0]["form"]
    assert form["data"]["VERSION"] == "2" and form["data"]["PREVIOUS_VERSION"] == "1"
    assert form["auth"]["application_token"] == sb.portal.app(session.app["client_id"])["application_token"]
    assert form["auth"]["application_token"] != session.app["application_token"]
    assert form["auth"]["refresh_token"]


def test_register_app_over_http_and_duplicate_event_bind(sb, sink):
    created = requests.post(sb.url + "/sandbox/apps", json={"handler_url": sink.url + "/", "title": "T",
                                                            "install_url": sink.url + "/install",
                                                            "scopes": ["crm"]}, timeout=5)
    assert created.status_code == 201
    app = created.json()
    assert app["client_id"].startswith("local.") and app["client_secret"] and app["installed"] is False
    outcome = requests.post(f"{sb.url}/sandbox/apps/{app['client_id']}/install", json={}, timeout=10).json()
    assert outcome["installed"] is True
    install = sink.wait_for(1)[0]
    assert install["path"] == "/install" and install["form"]["PLACEMENT"] == "DEFAULT"
    rest = Rest(sb.rest_url, install["form"]["AUTH_ID"])
    rest.call("event.bind", {"event": "ONCRMDEALADD", "handler": sink.url + "/e"})
    again = rest.raw("event.bind", {"event": "ONCRMDEALADD", "handler": sink.url + "/e"})
    assert again.status_code == 400 and again.json()["error"] == "ERROR_HANDLER_ALREADY_EXIST"
    unknown = rest.raw("event.bind", {"event": "ONNOTHING", "handler": sink.url + "/e"})
    assert unknown.json()["error"] == "ERROR_EVENT_NOT_FOUND"
    assert rest.result("event.unbind", {"event": "ONCRMDEALADD", "handler": sink.url + "/e"}) == {"count": 1}


def test_offline_queue_keeps_latest_state_per_object(sb):
    session = open_app(sb, ["crm"])
    session.rest.call("event.bind", {"event": "ONCRMDEALUPDATE", "event_type": "offline"})
    session.rest.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "o"}})
    for n in range(5):
        session.rest.call("crm.item.update", {"entityTypeId": 2, "id": 1, "fields": {"opportunity": n + 1}})
    listed = session.rest.call("event.offline.list")
    assert listed["total"] == 1 and listed["result"][0]["EVENT_NAME"] == "ONCRMDEALUPDATE"
    reserved = session.rest.result("event.offline.get", {"clear": 0})
    assert reserved["process_id"] and [e["EVENT_DATA"] for e in reserved["events"]] == [{"FIELDS": {"ID": 1}}]
    assert session.rest.result("event.offline.get")["events"] == []
    assert session.rest.result("event.offline.clear", {"process_id": reserved["process_id"]}) is True
    assert session.rest.call("event.offline.list")["total"] == 0


def test_event_tokens_belong_to_the_acting_user(sb, sink):
    session = open_app(sb, ["crm"])
    _bind(session.rest, sink, "ONCRMDEALADD")
    maria = Rest(sb.rest_url, sb.portal.frame_fields(session.app["client_id"], 3).form["AUTH_ID"])
    maria.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "mine"}})
    auth = sink.wait_for(1)[0]["form"]["auth"]
    assert Rest(sb.rest_url, auth["access_token"]).result("profile")["ID"] == "3"


def test_events_lists_what_the_scopes_allow(sb, sink):
    basic = open_app(sb, ["user_brief"])
    names = basic.rest.result("events")
    assert "ONAPPUNINSTALL" in names and "ONCRMDEALADD" not in names
    assert "ONCRMDEALADD" in basic.rest.result("events", {"FULL": True})
    assert basic.rest.result("events", {"SCOPE": "crm"})[0].startswith("ONCRM")
    refused = basic.rest.raw("event.bind", {"event": "ONCRMDEALADD", "handler": sink.url + "/e"})
    assert refused.status_code == 400 and refused.json()["error"] == "ERROR_EVENT_NOT_FOUND"


def test_onofflineevent_pings_when_the_queue_gets_rows(sb, sink):
    session = open_app(sb, ["crm"])
    session.rest.call("event.bind", {"event": "ONCRMDEALADD", "event_type": "offline"})
    session.rest.call("event.bind", {"event": "ONOFFLINEEVENT", "handler": sink.url + "/ping",
                                     "options": {"minTimeout": 30}})
    for n in range(3):
        session.rest.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": f"q{n}"}})
    assert sb.portal.dispatcher.wait_idle()
    pings = sink.wait_for(1)
    assert len(pings) == 1 and pings[0]["form"]["event"] == "ONOFFLINEEVENT"
    assert pings[0]["form"]["auth"]["refresh_token"]
    assert session.rest.call("event.offline.list")["total"] == 3


def test_unrounded_double_counts_as_a_change_and_is_stored_rounded(sb, sink, hook):
    session = open_app(sb, ["crm"])
    spa = hook.result("crm.type.add", {"fields": {"title": "Planes"}})["type"]
    hook.call("userfieldconfig.add", {"moduleId": "crm", "field": {
        "entityId": f"CRM_{spa['id']}", "fieldName": f"UF_CRM_{spa['id']}_EXECUTION", "userTypeId": "double",
        "settings": {"PRECISION": 2}}})
    eti, name = spa["entityTypeId"], f"ufCrm{spa['id']}Execution"
    item = hook.result("crm.item.add", {"entityTypeId": eti, "fields": {name: 10}})["item"]
    _bind(session.rest, sink, "ONCRMDYNAMICITEMUPDATE")
    for value in (33.3333, 33.3333, 33.33, "33.33"):
        stored = hook.result("crm.item.update", {"entityTypeId": eti, "id": item["id"], "fields": {name: value}})
        assert stored["item"][name] == 33.33
    assert sb.portal.dispatcher.wait_idle()
    # 10 -> 33.3333 (saved as 33.33) and 33.3333 again (differs from the stored 33.33) fire; 33.33 does not
    assert len(sink.received) == 2
