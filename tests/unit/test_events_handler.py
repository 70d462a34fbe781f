"""POST /events: verification (401), malformed payloads (400), the inbox write, uninstall and update."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from b24app import phpquery
from b24app.db import connect
from b24app.installations import Installation, InstallationStore

MEMBER = "a223c6b3710f85df22e9377d6c4f7553"
TOKEN = "51856fefc120afa4b628cc82d3935cce"
OAUTH = "http://oauth.test/oauth/token/"


@pytest.fixture
def app(app):
    app.config["OAUTH_URL"] = OAUTH
    return app


@pytest.fixture
def db(app):
    database = connect(app.config["DATABASE"])
    InstallationStore(database).save(Installation(
        member_id=MEMBER, domain="portal.test", client_endpoint="https://portal.test/rest/",
        access_token="admin-access-token", refresh_token="admin-refresh-token", expires_at=1,
        application_token=TOKEN, type_id=7, entity_type_id=1030, category_id=5,
        field_map={"EXECUTED": "ufCrm7Executed"}, stage_map={"P": "DT1030_5:NEW"}))
    yield database
    database.close()


def event(name, data=None, member_id=MEMBER, token=TOKEN, **auth):
    payload = {"event": name, "event_handler_id": "201", "data": data or {}, "ts": "1736405807",
               "auth": {"access_token": "user-access-token", "expires_in": "3600", "scope": "crm",
                        "domain": "evil.example", "server_endpoint": "https://oauth.bitrix.info/rest/",
                        "status": "L", "client_endpoint": "https://evil.example/rest/",
                        "member_id": member_id, "application_token": token, **auth}}
    return phpquery.encode(payload)


def post(client, body):
    return client.post("/events", data=body, content_type="application/x-www-form-urlencoded")


def inbox_rows(db):
    return list(db.query("SELECT * FROM inbox ORDER BY id"))


def test_a_deal_event_is_queued_without_its_auth_block(client, db):
    response = post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "759"}}))
    assert response.status_code == 200 and response.json["status"] == "ok"
    (row,) = inbox_rows(db)
    assert (row["member_id"], row["event"], row["entity_type_id"], row["object_id"], row["ts"]) == (
        MEMBER, "ONCRMDEALUPDATE", 2, 759, 1736405807)
    assert json.loads(row["data"]) == {"FIELDS": {"ID": "759"}}
    assert "token" not in row["data"] and "user-access-token" not in json.dumps(row)


def test_repeated_updates_of_one_deal_coalesce(client, db):
    for _ in range(3):
        assert post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "759"}})).status_code == 200
    post(client, event("ONCRMDEALDELETE", {"FIELDS": {"ID": "759"}}))
    assert [r["event"] for r in inbox_rows(db)] == ["ONCRMDEALUPDATE", "ONCRMDEALDELETE"]


@pytest.mark.parametrize(("member_id", "token"), [
    (MEMBER, "0" * 32),              # forged token
    (MEMBER, TOKEN[:-1]),            # prefix of the right token
    ("f" * 32, TOKEN),               # unknown portal
])
def test_forged_events_get_401_and_nothing_is_stored(client, db, member_id, token):
    response = post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "1"}}, member_id, token))
    assert response.status_code == 401
    assert response.json == {"status": "error", "error": "invalid_application_token"}
    assert inbox_rows(db) == []


@pytest.mark.parametrize(("body", "named"), [
    ("", "missing event"),
    (phpquery.encode({"event": "ONCRMDEALUPDATE", "data": {"FIELDS": {"ID": "1"}}}), "missing auth block"),
    (phpquery.encode({"event": "ONCRMDEALUPDATE", "auth": {"member_id": MEMBER}}), "auth[application_token]"),
    (phpquery.encode({"event": "ONCRMDEALUPDATE", "auth": {"application_token": TOKEN}}), "auth[member_id]"),
    (event("ONCRMDEALUPDATE", {"FIELDS": {}}), "data[FIELDS][ID]"),
    (event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "12; drop"}}), "data[FIELDS][ID]"),
    (event("ONCRMDYNAMICITEMUPDATE", {"FIELDS": {"ID": "3"}}), "data[FIELDS][ENTITY_TYPE_ID]"),
    (event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "1"}}).replace("ts=1736405807", "ts=yesterday"), "ts must be"),
])
def test_malformed_events_get_400_naming_the_problem(client, db, body, named):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json["error"] == "malformed_event" and named in response.json["error_description"]
    assert inbox_rows(db) == []


def test_only_this_apps_smart_process_items_are_queued(client, db):
    post(client, event("ONCRMDYNAMICITEMUPDATE", {"FIELDS": {"ID": "3", "ENTITY_TYPE_ID": "1032"}}))
    post(client, event("ONCRMDYNAMICITEMUPDATE", {"FIELDS": {"ID": "4", "ENTITY_TYPE_ID": "1030"}}))
    assert [(r["entity_type_id"], r["object_id"]) for r in inbox_rows(db)] == [(1030, 4)]


def test_portal_wide_events_are_queued_once(client, db):
    post(client, event("ONCRMCURRENCYUPDATE", {"FIELDS": {"ID": "EUR"}}))
    post(client, event("ONCRMCURRENCYUPDATE", {"FIELDS": {"ID": "USD"}}))
    assert [(r["event"], r["entity_type_id"], r["object_id"]) for r in inbox_rows(db)] == [
        ("ONCRMCURRENCYUPDATE", 0, 0)]


def test_an_uninstall_is_only_queued_for_the_portal_to_confirm(client, db):
    """The application token proves nothing about who sent it (every frame POST carries it): the handler
    changes nothing; the worker acts once the portal confirms (tests/unit/sync/test_sync_worker.py)."""
    body = phpquery.encode({"event": "ONAPPUNINSTALL", "data": {"LANGUAGE_ID": "la", "CLEAN": "0"},
                            "ts": "1", "auth": {"domain": "portal.test", "member_id": MEMBER,
                                                "application_token": TOKEN}})
    assert post(client, body).status_code == 200
    inst = InstallationStore(db).find(MEMBER)
    assert inst.status == "active" and inst.access_token == "admin-access-token"
    assert inst.refresh_token == "admin-refresh-token"
    assert [(r["event"], r["status"]) for r in inbox_rows(db)] == [("ONAPPUNINSTALL", "pending")]
    assert post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "1"}})).status_code == 200  # still installed
    assert [r["action"] for r in db.query("SELECT action FROM audit_log")] == ["uninstall_received"]


def test_a_forged_uninstall_changes_nothing(client, db):
    body = phpquery.encode({"event": "ONAPPUNINSTALL", "auth": {"member_id": MEMBER, "application_token": "x" * 32}})
    assert post(client, body).status_code == 401
    assert InstallationStore(db).find(MEMBER).refresh_token == "admin-refresh-token"
    assert inbox_rows(db) == []


def test_an_app_update_is_queued_for_the_worker_to_confirm_with_the_portal(client, db):
    """The version is not taken from the event (anyone with a frame can send one): the worker asks app.info."""
    for version in ("2", "999", "<img src=x onerror=alert(1)>"):
        response = post(client, event("ONAPPUPDATE", {"VERSION": version, "PREVIOUS_VERSION": "1"}))
        assert response.status_code == 200
    assert InstallationStore(db).find(MEMBER).app_version == ""
    assert [(r["event"], r["status"]) for r in inbox_rows(db)] == [("APP.PROVISION", "pending")]  # one row


@responses.activate
def test_an_app_update_never_adopts_a_new_token(client, db):
    """Any user's frame REFRESH_ID exchanges to this portal's member_id, so it cannot vouch for a token: an
    ONAPPUPDATE with another token is refused, asks the OAuth server nothing, and changes nothing."""
    new = "c" * 32
    response = post(client, event("ONAPPUPDATE", {"VERSION": "3"}, token=new, refresh_token="any-users-refresh"))
    assert response.status_code == 401
    assert len(responses.calls) == 0
    inst = InstallationStore(db).find(MEMBER)
    assert (inst.application_token, inst.app_version) == (TOKEN, "")
    assert inbox_rows(db) == []
    assert post(client, event("ONCRMDEALADD", {"FIELDS": {"ID": "9"}}, token=new)).status_code == 401
    assert post(client, event("ONCRMDEALADD", {"FIELDS": {"ID": "9"}})).status_code == 200  # the real one still works
    assert [r["action"] for r in db.query("SELECT action FROM audit_log")] == ["app_update_refused"]


def test_app_update_with_a_new_token_and_no_refresh_token_is_refused(client, db):
    body = phpquery.encode({"event": "ONAPPUPDATE", "data": {"VERSION": "3"},
                            "auth": {"member_id": MEMBER, "application_token": "c" * 32}})
    assert post(client, body).status_code == 401
    assert InstallationStore(db).find(MEMBER).app_version == ""


@pytest.mark.sqlite_only
def test_events_after_the_database_was_recreated_land_in_the_new_one(app, client, db):
    """A database deleted and created again (a reset demo) must not keep receiving events through a
    connection to the deleted file."""
    assert post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "1"}})).status_code == 200
    db.close()
    path = app.config["DATABASE"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    fresh = connect(path)
    try:
        InstallationStore(fresh).save(Installation(
            member_id=MEMBER, domain="portal.test", client_endpoint="https://portal.test/rest/",
            access_token="a", refresh_token="r", expires_at=1, application_token=TOKEN))
        assert post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "2"}})).status_code == 200
        assert [r["object_id"] for r in inbox_rows(fresh)] == [2]
    finally:
        fresh.close()


@pytest.mark.parametrize("body, status", [
    ("data[a][]=1&" * 20_000, 413),  # 20,000 appends: 240 KB
    ("a&" * 20_000, 400),  # 20,000 fields in 40 KB
    ("x=" + "a" * (1024 * 1024), 413),  # 1 MiB
    ("data" + "[a]" * 20_000 + "=1", 400),  # 20,000 levels
    ("data" + "[a]" * 7 + "=1&event=ONCRMDEALADD&auth[member_id]=" + MEMBER + "&auth[application_token]=" + TOKEN,
     400),
])
def test_oversized_or_deep_bodies_are_refused_before_parsing(client, db, body, status):
    """bench/events_hostile.py measures how fast (milliseconds; the unbounded parse took seconds)."""
    response = post(client, body)
    assert response.status_code == status
    assert inbox_rows(db) == []
    assert post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "4"}})).status_code == 200  # genuine ones flow


def test_log_masking_never_grows_from_unverified_input(client, db):
    from b24app import logsafe

    before = logsafe.secrets_count()
    for n in range(40):
        post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "1"}}, token=f"forged-token-{n:04d}-xxxxxxxx",
                           refresh_token=f"127.0.0.1-{n:04d}-refresh"))
    assert logsafe.secrets_count() == before
    assert logsafe.redact("from 127.0.0.1") == "from 127.0.0.1"


def test_a_newline_in_an_event_name_cannot_forge_a_log_line(client, db, caplog):
    import logging

    from b24app import logsafe

    caplog.set_level(logging.INFO)
    name = "ONCRMDEALUPDATE\n2026-12-01 00:00:00 WARNING b24app: admin token rotated"
    post(client, event(name, {"FIELDS": {"ID": "1"}}, member_id="nobody"))
    handler_logs = [r for r in caplog.records if r.name == "handlers.events"]
    assert handler_logs
    for record in handler_logs:
        logsafe.RedactingFilter().filter(record)
        assert "\n" not in record.getMessage()


@pytest.mark.sqlite_only
def test_an_event_that_cannot_be_stored_because_the_disk_is_full_gets_503_and_a_line_says_why(
        client, db, app, monkeypatch, caplog):
    """A real SQLITE_FULL: the request's connection may not grow the file (max_page_count at its size)."""
    import handlers.events as events_handler

    full = connect(app.config["DATABASE"])
    pages = full.execute("PRAGMA page_count").fetchone()[0]
    full.execute(f"PRAGMA max_page_count = {pages}")
    monkeypatch.setattr(events_handler, "get_db", lambda: full)
    body = event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "759", "TITLE": "x" * 20000}})  # needs new pages
    response = post(client, body)
    assert response.status_code == 503 and response.json["error"] == "storage_unavailable"
    assert inbox_rows(db) == []
    assert any("NOT stored" in r.getMessage() and "full" in r.getMessage() and r.levelname == "ERROR"
               for r in caplog.records)
    monkeypatch.setattr(events_handler, "get_db", lambda: db)
    assert post(client, body).status_code == 200 and len(inbox_rows(db)) == 1  # room again: stored
    full.close()


@pytest.mark.sqlite_only
def test_an_event_waits_for_another_writer_and_is_stored_when_it_lets_go(client, db, app):
    import threading

    holder = connect(app.config["DATABASE"])
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO audit_log (member_id, at, actor, action) VALUES ('x', 'now', 'test', 'lock')")
    release = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
    release.start()
    response = post(client, event("ONCRMDEALUPDATE", {"FIELDS": {"ID": "759"}}))
    release.join()
    holder.close()
    assert response.status_code == 200 and [r["object_id"] for r in inbox_rows(db)] == [759]
