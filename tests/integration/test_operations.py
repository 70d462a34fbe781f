"""Operations against the sandbox over real HTTP: ``b24plans doctor`` finds what is wrong and says what to do,
``--fix`` repairs it; ``b24plans backup`` copies a database the app is using; pruning keeps the tables bounded."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from b24app.cli import cli


@pytest.fixture
def env(installed, monkeypatch):
    """The CLI's settings: the live app's (the commands read ``B24_*`` like the app does)."""
    monkeypatch.setenv("B24_ENV", "development")
    for name in ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "PUBLIC_URL", "SECRET_KEY"):
        monkeypatch.setenv(f"B24_{name}", str(installed.live.config[name]))
    monkeypatch.setenv("B24_RATE_BURST", "1000")
    return installed


def app_call(installed, method, params=None):
    status, body = installed.live.sandbox.portal.call(method, params or {}, installed.installation.access_token)
    assert status == 200 and "error" not in body, body
    return body["result"]


def test_doctor_says_a_fresh_install_is_healthy(env):
    CliRunner().invoke(cli, ["reconcile"])
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "healthy" in result.output and "FAIL" not in result.output
    for what in ("tokens", "smart process", "fields", "stages", "placements", "events", "reconcile", "inbox",
                 "database"):
        assert f"ok   {what}:" in result.output, what


def test_doctor_names_an_unbound_event_and_fix_binds_it_again(env):
    installed = env
    handler = installed.live.url + "/events"
    app_call(installed, "event.unbind", {"event": "ONCRMDEALUPDATE", "handler": handler})
    result = CliRunner().invoke(cli, ["doctor", "--member-id", installed.member_id])
    assert result.exit_code == 1
    assert "FAIL events: ONCRMDEALUPDATE not bound to " + handler in result.output
    assert "b24plans doctor --fix" in result.output
    fixed = CliRunner().invoke(cli, ["doctor", "--fix", "--member-id", installed.member_id])
    assert "ok   events:" in fixed.output, fixed.output
    bound = {e["event"].upper() for e in app_call(installed, "event.get") if e["handler"] == handler}
    assert "ONCRMDEALUPDATE" in bound


def test_doctor_reports_refused_tokens_and_a_stuck_inbox(env):
    installed = env
    db = installed.live.db()
    try:
        db.execute("INSERT INTO inbox (member_id, event, entity_type_id, object_id, data, received_at, status) "
                   "VALUES (?, 'ONCRMDEALUPDATE', 2, 7, '{}', '2026-01-01T00:00:00+00:00', 'pending')",
                   [installed.member_id])
        db.execute("UPDATE installations SET access_token = 'dead-token-000000', expires_at = 1")
    finally:
        db.close()
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL tokens:" in result.output and "an administrator must open the app" in result.output
    assert "FAIL inbox: 1 event(s) pending, the oldest since 2026-01-01 00:00 UTC" in result.output
    assert "start the jobs (`b24plans jobs`" in result.output


@pytest.mark.sqlite_only
def test_backup_copies_the_live_database(env, tmp_path):
    target = tmp_path / "backups" / "plans.db"
    missing = CliRunner().invoke(cli, ["backup", str(target)])
    assert missing.exit_code != 0 and "create it first" in missing.output and not target.parent.exists()
    target.parent.mkdir()
    result = CliRunner().invoke(cli, ["backup", str(target)])
    assert result.exit_code == 0, result.output
    copy = sqlite3.connect(target)
    try:
        members = [r[0] for r in copy.execute("SELECT member_id FROM installations")]
        assert members == [env.member_id]
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        copy.close()
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    again = CliRunner().invoke(cli, ["backup", str(target)])
    assert again.exit_code != 0 and "exists" in again.output  # never overwrites a backup by accident


def test_the_settings_page_says_in_words_whether_the_app_is_healthy_and_repairs_it(installed):
    from test_ui_support import Frame

    admin = Frame(installed, path="/")
    page = admin.get("/settings")
    assert page.status_code == 200
    assert "Acceso a Bitrix24" in page.text and "Pestañas en las fichas del CRM" in page.text
    assert "entityTypeId" not in page.text.split('id="checks"')[0]  # words first, not a dump of ids
    handler = installed.live.url + "/events"
    app_call(installed, "event.unbind", {"event": "ONCRMDEALUPDATE", "handler": handler})
    broken = admin.get("/settings")
    assert "Algo requiere su atención" in broken.text and "ONCRMDEALUPDATE" in broken.text
    answer = admin.post("/settings/provision", {})
    assert answer.status_code == 303
    fixed = admin.get(answer.headers["Location"])
    assert "La configuración se ejecutó de nuevo" in fixed.text
    assert "La aplicación está instalada y funciona" in fixed.text
    assert admin.post("/settings/provision", {}, csrf=False).status_code == 403


def test_doctor_fails_when_the_sweeps_stopped_running(env):
    installed = env
    assert CliRunner().invoke(cli, ["reconcile"]).exit_code == 0
    db = installed.live.db()
    try:
        db.execute("UPDATE job_runs SET at = '2026-11-20T20:00:00+00:00'")
    finally:
        db.close()
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1 and "FAIL reconcile: last run 2026-11-20 20:00 UTC" in result.output
    assert "b24plans jobs" in result.output
