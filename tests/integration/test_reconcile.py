"""Lost events, expired tokens and uninstalls over real HTTP: reconcile repairs, refresh recovers, skip is clean."""

from __future__ import annotations

from datetime import date

import pytest
import requests
from click.testing import CliRunner
from test_plan_truth import won_on
from test_worker import money, wait_for

from b24app.cli import cli
from b24app.installations import InstallationStore
from sync import inbox, periods, reconcile, worker

pytestmark = pytest.mark.integration



def faults(sandbox, **changes) -> dict:
    response = requests.post(f"{sandbox.url}/sandbox/faults", json=changes, timeout=10)
    response.raise_for_status()
    return response.json()


def drain(installed) -> worker.DrainStats:
    db = installed.live.db()
    try:
        return worker.drain_once(installed.live.config, db)
    finally:
        db.close()


def settle(sandbox, installed) -> worker.DrainStats:
    """Let the portal deliver what it will, then process the inbox once."""
    assert sandbox.portal.dispatcher.wait_idle(15)
    return drain(installed)


def quiet(sandbox, installed) -> None:
    """Process until no event is left (the app's own writes come back as events once)."""
    wait_for(lambda: settle(sandbox, installed).claimed, lambda n: n == 0, "portal and inbox quiet")


def test_dropped_events_are_recovered_by_reconcile(user, installed, sandbox, monkeypatch):
    plan = user.add_plan(10000, probability=60)
    deal = user.add_deal(plan, 3000)
    quiet(sandbox, installed)
    assert user.figures(plan)["REMAINDER"] == 10000
    faults(sandbox, drop_events=1)
    user.update(2, deal, stageId="WON")
    user.update(user.eti, plan, **{user.fields["PROBABILITY"]: 50})
    stats = settle(sandbox, installed)
    assert stats.claimed == 0  # every event was lost on the way
    assert any(d.get("error") == "dropped (fault)" for d in sandbox.portal.deliveries)
    assert user.figures(plan)["EXECUTED"] == 0  # nobody told the app
    faults(sandbox, drop_events=0)

    monkeypatch.setenv("B24_ENV", "development")
    for name in ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "PUBLIC_URL", "SECRET_KEY"):
        monkeypatch.setenv(f"B24_{name}", str(installed.live.config[name]))
    monkeypatch.setenv("B24_RATE_BURST", "1000")
    result = CliRunner().invoke(cli, ["reconcile", "--member-id", installed.member_id])
    assert result.exit_code == 0, result.output
    assert f"portal {installed.member_id}:" in result.output and "1 updated" in result.output
    got = user.figures(plan)
    assert (got["EXECUTED"], got["REMAINDER"], got["PROBABLE"]) == (money(3000), money(7000), money(5000))


def test_reconcile_rebuilds_the_deal_index_so_a_later_delete_still_recomputes(user, installed, sandbox):
    plan = user.add_plan(5000)
    quiet(sandbox, installed)
    faults(sandbox, drop_events=1)
    deal = user.add_deal(plan, 1000, stage="WON")  # ONCRMDEALADD lost: the app never heard of the deal
    assert sandbox.portal.dispatcher.wait_idle(15)
    faults(sandbox, drop_events=0)
    db = installed.live.db()
    try:
        outcome = reconcile.reconcile_all(installed.live.config, db)[installed.member_id]
    finally:
        db.close()
    assert outcome.error is None and plan in outcome.updated
    assert installed.live.rows("SELECT plan_id FROM deal_plan WHERE deal_id = ?", [deal]) == [{"plan_id": plan}]
    user.hook.call("crm.item.delete", {"entityTypeId": 2, "id": deal})
    settle(sandbox, installed)  # the delete event names only the deal; the index names its plan
    assert user.figures(plan)["EXECUTED"] == 0


def test_expired_tokens_are_refreshed_and_work_continues(user, installed, sandbox):
    plan = user.add_plan(4000)
    deal = user.add_deal(plan, 1000)
    quiet(sandbox, installed)
    before = installed.installation
    faults(sandbox, expire_tokens=True)
    user.update(2, deal, stageId="WON")
    stats = settle(sandbox, installed)
    assert stats.done >= 1 and stats.failed == 0
    assert user.figures(plan)["EXECUTED"] == 1000
    after = installed.installation
    assert after.access_token != before.access_token and after.refresh_token != before.refresh_token
    assert after.is_active


def test_uninstalled_portal_is_skipped(user, installed, sandbox):
    plan = user.add_plan(4000)
    deal = user.add_deal(plan, 1000)
    settle(sandbox, installed)
    user.update(2, deal, stageId="WON")
    assert sandbox.portal.dispatcher.wait_idle(15)  # the event waits in the inbox
    sandbox.portal.uninstall_app(installed.live.client_id)
    assert sandbox.portal.dispatcher.wait_idle(15)
    db = installed.live.db()
    try:
        assert inbox.pending_count(db, installed.member_id) >= 2  # the deal event and the uninstall
    finally:
        db.close()
    stats = drain(installed)  # the portal confirms the uninstall: the deal event is skipped
    assert installed.installation.status == "uninstalled"
    assert stats.skipped >= 1 and stats.done == 1
    rows = installed.live.rows("SELECT status, error FROM inbox WHERE event = 'ONCRMDEALUPDATE' AND object_id = ?",
                               [deal])
    assert rows and all(r["status"] == "failed" and "uninstalled" in r["error"] for r in rows)
    assert user.figures(plan)["EXECUTED"] == 0  # nothing written with dropped tokens
    db = installed.live.db()
    try:
        assert reconcile.reconcile_all(installed.live.config, db) == {}  # not reconciled either
    finally:
        db.close()


def test_close_periods_moves_ended_plans_to_no_cumplido(user, installed, sandbox):
    ended = user.add_plan(4000, closedate="2026-03-31")
    fulfilled = user.add_plan(1000, closedate="2026-03-31")
    won_on(sandbox, user.add_deal(fulfilled, 1000, stage="WON"), "2026-03-20T10:00:00+01:00")  # within its period
    running = user.add_plan(4000, closedate="2026-12-31")
    settle(sandbox, installed)
    db = installed.live.db()
    try:
        periods.close_periods(installed.live.config, db, today=date(2026, 4, 1))
        store = InstallationStore(db)
        assert store.find(installed.member_id).is_active
    finally:
        db.close()
    assert (user.stage_semantics(ended), user.stage_semantics(fulfilled), user.stage_semantics(running)) \
        == ("F", "S", "P")


def test_an_app_update_reprovisions_through_the_worker(user, installed, sandbox):
    quiet(sandbox, installed)
    provisions = len(installed.live.rows("SELECT id FROM audit_log WHERE action = 'provision'"))
    sandbox.portal.update_app(installed.live.client_id, 2, rotate_token=False)  # a new token: see test_install
    assert sandbox.portal.dispatcher.wait_idle(15)
    stats = drain(installed)
    assert stats.done >= 1 and stats.failed == 0
    assert len(installed.live.rows("SELECT id FROM audit_log WHERE action = 'provision'")) == provisions + 1
    assert installed.installation.is_provisioned
    plan = user.add_plan(3000)  # the portal still delivers events to the updated app
    user.add_deal(plan, 1000, stage="WON")
    settle(sandbox, installed)
    assert user.figures(plan)["EXECUTED"] == 1000


def test_refused_refresh_token_marks_the_portal_and_the_worker_skips_it(user, installed, sandbox):
    plan = user.add_plan(4000)
    deal = user.add_deal(plan, 1000)
    quiet(sandbox, installed)
    db = installed.live.db()
    try:  # the stored refresh token no longer works (revoked, or unused for too long)
        inst = InstallationStore(db).find(installed.member_id)
        InstallationStore(db).save_tokens(inst.member_id, inst.access_token, "revoked-refresh-token", inst.expires_at)
    finally:
        db.close()
    faults(sandbox, expire_tokens=True)
    user.update(2, deal, stageId="WON")
    stats = settle(sandbox, installed)
    assert stats.skipped >= 1 and stats.done == 0
    assert installed.installation.status == "needs_reauth"
    rows = installed.live.rows("SELECT status, error FROM inbox WHERE event = 'ONCRMDEALUPDATE' AND object_id = ?",
                               [deal])
    assert rows and all(r["status"] == "failed" and "admin must open the app" in r["error"] for r in rows)
    assert user.figures(plan)["EXECUTED"] == 0


def test_a_lost_unwin_of_a_fulfilled_plan_is_repaired_by_reconcile(user, installed, sandbox):
    plan = user.add_plan(5000, probability=80)
    big = user.add_deal(plan, 4000, stage="WON")
    user.add_deal(plan, 1500, stage="WON")
    quiet(sandbox, installed)
    assert user.stage_semantics(plan) == "S"  # Cumplido: 5500 won of 5000
    faults(sandbox, drop_events=1)
    user.update(2, big, stageId="NEW")  # un-won; the app never hears of it
    assert sandbox.portal.dispatcher.wait_idle(15)
    faults(sandbox, drop_events=0)
    assert drain(installed).claimed == 0
    assert user.stage_semantics(plan) == "S"  # still shown as fulfilled: wrong until reconciled
    db = installed.live.db()
    try:
        outcome = reconcile.reconcile_all(installed.live.config, db)[installed.member_id]
    finally:
        db.close()
    assert outcome.error is None and plan in outcome.updated
    assert user.stage_semantics(plan) == "P"  # back to Activo
    got = user.figures(plan)
    assert (got["EXECUTED"], got["REMAINDER"], got["EXECUTION"], got["PROBABLE"]) \
        == (money(1500), money(3500), money(30), money(4000))


def test_reconcile_leaves_a_plan_closed_by_hand_alone(user, installed, sandbox):
    plan = user.add_plan(5000)
    deal = user.add_deal(plan, 1000)
    quiet(sandbox, installed)
    closed = installed.installation.stage_map["F"]
    user.update(user.eti, plan, stageId=closed)  # a person closes it (No cumplido) before its period ends
    quiet(sandbox, installed)
    faults(sandbox, drop_events=1)
    user.update(2, deal, stageId="WON")
    assert sandbox.portal.dispatcher.wait_idle(15)
    faults(sandbox, drop_events=0)
    db = installed.live.db()
    try:
        reconcile.reconcile_all(installed.live.config, db)
    finally:
        db.close()
    assert user.plan(plan)["stageId"] == closed and user.figures(plan)["EXECUTED"] == 0


def test_close_periods_command_says_which_plans_it_closed(user, installed, sandbox, monkeypatch):
    ended = [user.add_plan(4000, title=f"Plan T1 {n}", closedate="2098-03-31") for n in range(7)]
    fulfilled = user.add_plan(1000, title="Plan cumplido", closedate="2098-03-31")
    user.add_deal(fulfilled, 1000, stage="WON")
    user.add_plan(4000, title="Plan en curso", closedate="2099-12-31")
    quiet(sandbox, installed)
    monkeypatch.setenv("B24_ENV", "development")
    for name in ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "PUBLIC_URL", "SECRET_KEY"):
        monkeypatch.setenv(f"B24_{name}", str(installed.live.config[name]))
    monkeypatch.setenv("B24_RATE_BURST", "1000")
    result = CliRunner().invoke(cli, ["close-periods", "--today", "2098-04-01"])
    assert result.exit_code == 0, result.output
    assert "7 plan(s) moved to No cumplido:" in result.output
    assert f'#{ended[0]} "Plan T1 0"' in result.output and "and 2 more" in result.output
    assert "Plan cumplido" not in result.output and "Plan en curso" not in result.output
    assert "updated" in result.output  # the reconcile summary stays
    assert {user.stage_semantics(p) for p in ended} == {"F"}
    again = CliRunner().invoke(cli, ["close-periods", "--today", "2098-04-01"])
    assert again.exit_code == 0 and "0 plan(s) moved to No cumplido" in again.output
