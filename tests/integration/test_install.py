"""Install, events and uninstall between the app and the sandbox portal over real HTTP."""

from __future__ import annotations

import json
import time

import pytest
import requests

from b24app import phpquery
from b24app.manifest import load_manifest
from b24sandbox.installer import install_app

pytestmark = pytest.mark.integration


def portal_call(sandbox, method, params=None):
    """A call through the always-open inbound webhook (admin user 1), like a user's script."""
    response = requests.post(sandbox.webhook_url + method + ".json", json=params or {}, timeout=30)
    body = response.json()
    assert "error" not in body, body
    return body["result"]


def app_call(sandbox, installed, method, params=None):
    """An app-context call with the app's stored admin token (placement.get, event.get, app.option.get)."""
    status, body = sandbox.portal.call(method, params or {}, installed.installation.access_token)
    assert status == 200 and "error" not in body, body
    return body["result"]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def snapshot(sandbox, installed):
    """What exists in the portal for the app: types, fields, stages, tabs, event handlers."""
    inst = installed.installation
    types = portal_call(sandbox, "crm.type.list", {"filter": {"title": "Planes de ventas"}})["types"]
    fields = portal_call(sandbox, "userfieldconfig.list", {"moduleId": "crm",
                                                           "filter": {"entityId": f"CRM_{inst.type_id}"}})["fields"]
    stages = portal_call(sandbox, "crm.status.list", {
        "filter": {"ENTITY_ID": f"DYNAMIC_{inst.entity_type_id}_STAGE_{inst.category_id}"}})
    placements = app_call(sandbox, installed, "placement.get")
    events = app_call(sandbox, installed, "event.get")
    return {"types": [t["id"] for t in types], "fields": sorted(f["fieldName"] for f in fields),
            "stages": sorted((s["STATUS_ID"], s["NAME"]) for s in stages),
            "placements": sorted((p["placement"], p["handler"]) for p in placements),
            "events": sorted((e["event"], e["handler"]) for e in events)}


def test_install_provisions_the_portal(installed, sandbox):
    inst = installed.installation
    assert inst.is_active and inst.is_provisioned
    assert inst.client_endpoint == sandbox.url + "/rest/" and inst.user_id == 1 and inst.lang == "la"
    seen = snapshot(sandbox, installed)
    assert seen["types"] == [inst.type_id]
    declared = load_manifest()  # what app.yaml declares is what the portal must have
    assert seen["fields"] == sorted(uf.field_name(inst.type_id) for uf in declared.smart_process.fields)
    names = {status_id: name for status_id, name in seen["stages"]}
    assert names[inst.stage_map["P"]] == "Activo"
    assert names[inst.stage_map["S"]] == "Cumplido"
    assert names[inst.stage_map["F"]] == "No cumplido"
    url = installed.live.url
    assert {(p.code, url + p.handler) for p in declared.placements} <= set(seen["placements"])
    assert ("CRM_DEAL_DETAIL_TAB", url + "/placements/deal") in seen["placements"]
    assert {e for e, _ in seen["events"]} >= set(declared.events) | {"ONAPPUNINSTALL", "ONAPPUPDATE"}
    assert {h for _, h in seen["events"]} == {url + "/events"}
    options = app_call(sandbox, installed, "app.option.get")
    assert int(options["plans_entity_type_id"]) == inst.entity_type_id
    # The REST names the worker writes are the ones the portal reports for the plans' items.
    item_fields = portal_call(sandbox, "crm.item.fields", {"entityTypeId": inst.entity_type_id})["fields"]
    assert set(inst.field_map.values()) <= set(item_fields)
    # The deal tab shows up in the portal (installFinish was called by the page).
    assert any(p["handler"] == url + "/placements/deal" for p in sandbox.portal.placements_for("CRM_DEAL_DETAIL_TAB"))


def test_installing_twice_creates_nothing_twice(installed, sandbox):
    before = snapshot(sandbox, installed)
    again = install_app(sandbox.portal, installed.live.client_id, user_id=1, lang="en")
    assert again.status == 200 and again.installed
    assert snapshot(sandbox, installed) == before
    rows = installed.live.rows("SELECT detail FROM audit_log WHERE action = 'provision' ORDER BY id")
    assert len(rows) == 2 and json.loads(rows[-1]["detail"])["created"] == []


def test_provision_command_finds_everything(installed, sandbox):
    from b24app.provisioning.provision import provision_all
    from b24app.provisioning.report import CREATED

    before = snapshot(sandbox, installed)
    reports = provision_all(installed.live.config)
    assert reports[installed.member_id].ok and reports[installed.member_id].count(CREATED) == 0
    assert snapshot(sandbox, installed) == before


def test_provision_command_refreshes_expired_tokens(installed, sandbox):
    from b24app.provisioning.provision import provision_all
    from b24app.provisioning.report import CREATED

    before = installed.installation
    sandbox.portal.set_faults({"expire_tokens": True})
    reports = provision_all(installed.live.config, member_id=installed.member_id)
    assert reports[installed.member_id].ok and reports[installed.member_id].count(CREATED) == 0
    after = installed.installation
    assert after.refresh_token and after.refresh_token != before.refresh_token  # rotated and kept


def deal_event(member_id, token, deal_id="5"):
    return phpquery.encode({"event": "ONCRMDEALUPDATE", "data": {"FIELDS": {"ID": deal_id}}, "ts": "1",
                            "auth": {"member_id": member_id, "application_token": token, "domain": "x"}})


def post_event(live, body):
    return requests.post(live.url + "/events", data=body, timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_forged_and_malformed_events_are_refused_and_not_stored(installed):
    live = installed.live
    forged = post_event(live, deal_event(installed.member_id, "0" * 32))
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_application_token"
    unknown = post_event(live, deal_event("f" * 32, installed.installation.application_token))
    assert unknown.status_code == 401
    malformed = post_event(live, "event=ONCRMDEALUPDATE&data[FIELDS][ID]=5")
    assert malformed.status_code == 400 and "auth" in malformed.json()["error_description"]
    assert live.rows("SELECT * FROM inbox") == []
    good = post_event(live, deal_event(installed.member_id, installed.installation.application_token))
    assert good.status_code == 200
    assert [(r["event"], r["object_id"]) for r in live.rows("SELECT * FROM inbox")] == [("ONCRMDEALUPDATE", 5)]


def test_a_deal_changed_in_the_portal_reaches_the_inbox(installed, sandbox):
    deal = portal_call(sandbox, "crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Estudio de mercado", "opportunity": 3000, "currencyId": "USD"}})["item"]
    rows = wait_for(lambda: installed.live.rows(
        "SELECT * FROM inbox WHERE entity_type_id = 2 AND object_id = ?", [deal["id"]]))
    assert rows and rows[0]["event"] == "ONCRMDEALADD"
    assert "application_token" not in rows[0]["data"] and "access_token" not in rows[0]["data"]


def drain(installed):
    from sync.worker import drain_once

    db = installed.live.db()
    try:
        return drain_once(installed.live.config, db)
    finally:
        db.close()


def test_an_app_update_queues_reprovisioning(installed, sandbox):
    sandbox.portal.update_app(installed.live.client_id, 2, rotate_token=False)
    assert wait_for(lambda: installed.live.rows("SELECT event FROM inbox")) == [{"event": "APP.PROVISION"}]
    # The worker asks the portal for the version and re-runs provisioning: it finds everything, creates nothing.
    before = snapshot(sandbox, installed)
    drain(installed)
    assert installed.installation.app_version == "2"
    assert installed.live.rows("SELECT status FROM inbox WHERE event = 'APP.PROVISION'") == [{"status": "done"}]
    audits = installed.live.rows("SELECT detail FROM audit_log WHERE action = 'provision' ORDER BY id")
    assert len(audits) == 2 and json.loads(audits[-1]["detail"])["created"] == []
    assert snapshot(sandbox, installed) == before


def test_a_new_application_token_is_adopted_only_from_the_admins_reinstall(installed, sandbox):
    """An update event cannot vouch for a new token (anyone who opens the app knows the old one and has a
    refresh token of this portal); the admin-checked install POST can."""
    old = installed.installation.application_token
    sandbox.portal.update_app(installed.live.client_id, 2)  # rotates the token
    assert sandbox.portal.dispatcher.wait_idle(10)
    inst = installed.installation
    assert inst.application_token == old and inst.app_version != "2"
    assert [d["status"] for d in sandbox.portal.deliveries if d["event"] == "ONAPPUPDATE"] == [401]
    new = sandbox.portal.app(installed.live.client_id)["application_token"]
    assert post_event(installed.live, deal_event(installed.member_id, new)).status_code == 401
    assert install_app(sandbox.portal, installed.live.client_id, user_id=1).installed  # "Reinstall"
    assert installed.installation.application_token == new
    assert post_event(installed.live, deal_event(installed.member_id, new)).status_code == 200
    assert post_event(installed.live, deal_event(installed.member_id, old)).status_code == 401


def test_an_ordinary_users_forged_update_and_uninstall_change_nothing(installed, sandbox):
    """Luis (no CRM rights) has what every frame POST gives him: the app's token and his own REFRESH_ID."""
    frame = sandbox.portal.frame_fields(installed.live.client_id, user_id=2)
    token, his_refresh = frame.form["APPLICATION_TOKEN"], frame.form["REFRESH_ID"]
    before = installed.installation
    forged_update = phpquery.encode({"event": "ONAPPUPDATE", "data": {"VERSION": "9"}, "ts": "1", "auth": {
        "member_id": installed.member_id, "application_token": "f" * 32, "refresh_token": his_refresh}})
    assert post_event(installed.live, forged_update).status_code == 401
    forged_uninstall = phpquery.encode({"event": "ONAPPUNINSTALL", "data": {"CLEAN": "1"}, "ts": "1", "auth": {
        "member_id": installed.member_id, "application_token": token}})
    assert post_event(installed.live, forged_uninstall).status_code == 200  # queued: the portal will say
    drain(installed)
    after = installed.installation
    assert after.is_active and after.application_token == before.application_token
    assert after.refresh_token and after.app_version == before.app_version
    assert "uninstall_refused" in [r["action"] for r in installed.live.rows("SELECT action FROM audit_log")]
    # the admin's frames still open and genuine events still flow
    admin = sandbox.portal.frame_fields(installed.live.client_id, user_id=1)
    page = requests.post(admin.url, data=admin.form, params=admin.query, allow_redirects=False, timeout=30)
    assert page.status_code == 303
    deal = portal_call(sandbox, "crm.item.add", {"entityTypeId": 2, "fields": {"title": "Sigue", "opportunity": 10}})
    assert wait_for(lambda: installed.live.rows("SELECT 1 FROM inbox WHERE object_id = ? AND event = 'ONCRMDEALADD'",
                                                [deal["item"]["id"]]))


def test_uninstall_drops_the_tokens(installed, sandbox):
    token = installed.installation.application_token
    sandbox.portal.uninstall_app(installed.live.client_id, clean=False)
    assert sandbox.portal.dispatcher.wait_idle(10)
    assert installed.installation.is_active  # queued until the portal confirms it
    assert drain(installed).done == 1
    inst = installed.live.installation()
    assert inst.status == "uninstalled"
    assert inst and inst.access_token == "" and inst.refresh_token == ""
    assert inst.entity_type_id  # our ids stay: a reinstall finds the same smart process
    assert post_event(installed.live, deal_event(installed.member_id, token)).status_code == 401
    # Opening the app again installs it again, on the same smart process.
    type_id = inst.type_id
    again = install_app(sandbox.portal, installed.live.client_id, user_id=1)
    assert again.installed
    back = installed.live.installation()
    assert back.is_active and back.type_id == type_id and back.refresh_token
    assert portal_call(sandbox, "crm.type.list", {"filter": {"title": "Planes de ventas"}})["types"][0]["id"] == type_id


def test_the_install_page_speaks_english_and_russian(live_app, sandbox):
    for lang, text in (("en", "The application is installed"), ("ru", "Приложение установлено")):
        frame = sandbox.portal.frame_fields(live_app.client_id, user_id=1, lang=lang)
        if not frame.installing:
            from b24sandbox.installer import mark_for_reinstall

            mark_for_reinstall(sandbox.portal, live_app.client_id)
            frame = sandbox.portal.frame_fields(live_app.client_id, user_id=1, lang=lang)
        page = requests.post(frame.action, data=frame.form, timeout=60)
        assert page.status_code == 200 and text in page.text
        sandbox.portal.finish_install(live_app.client_id)


def test_a_non_admins_install_post_is_refused_and_keeps_the_admins_tokens(installed, sandbox):
    """The portal shows the install page to admins only; a non-admin's real tokens POSTed there by hand
    are exchanged at the OAuth server, user.admin says no, and nothing is replaced."""
    before = installed.installation
    frame = sandbox.portal.frame_fields(installed.live.client_id, user_id=2)  # Luis: not an admin
    assert frame.blocked is None and not frame.installing
    page = requests.post(installed.live.url + "/install", params=frame.query, data=frame.form, timeout=60)
    assert page.status_code == 403 and 'data-reason="not_admin"' in page.text
    after = installed.installation
    assert (after.user_id, after.refresh_token, after.application_token) == (
        before.user_id, before.refresh_token, before.application_token)


def test_a_new_smart_process_shows_only_the_apps_three_stages(live_app, sandbox):
    """The first install creates the smart process and removes the default in-progress stages the portal
    added (Preparación, Con el cliente); the install page says so. A reinstall finds the type and its
    stages and deletes nothing — not even a stage a person added since."""
    frame = sandbox.portal.frame_fields(live_app.client_id, user_id=1, lang="en")
    page = requests.post(frame.action, data=frame.form, timeout=60)
    assert page.status_code == 200 and "The application is installed" in page.text
    assert page.text.count('data-outcome="removed"') == 2 and "removed (the app does not use it)" in page.text
    sandbox.portal.finish_install(live_app.client_id)
    inst = live_app.installation()
    directory = f"DYNAMIC_{inst.entity_type_id}_STAGE_{inst.category_id}"
    stages = portal_call(sandbox, "crm.status.list", {"filter": {"ENTITY_ID": directory}, "order": {"SORT": "ASC"}})
    assert [s["STATUS_ID"].rsplit(":", 1)[-1] for s in stages] == ["NEW", "SUCCESS", "FAIL"]
    portal_call(sandbox, "crm.status.add", {"fields": {"ENTITY_ID": directory, "STATUS_ID": "REVIEW",
                                                       "NAME": "En revisión", "SORT": 15}})
    again = install_app(sandbox.portal, live_app.client_id, user_id=1, lang="la")
    assert again.installed
    stages = portal_call(sandbox, "crm.status.list", {"filter": {"ENTITY_ID": directory}, "order": {"SORT": "ASC"}})
    assert [s["STATUS_ID"].rsplit(":", 1)[-1] for s in stages] == ["NEW", "REVIEW", "SUCCESS", "FAIL"]
