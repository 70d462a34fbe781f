"""The core scenarios on both storage engines (SQLite and a real PostgreSQL server, tests/pgcluster.py): the
install, a deal event through the inbox and the worker to the plan's figures, and a reconcile that repairs a lost
event. The rest of the integration suite runs on SQLite; what differs between the engines lives in
b24app/storage.py, which tests/unit/test_state.py, test_inbox.py and the limiter's and refresh's tests cover."""

from __future__ import annotations

import pytest
import requests
from test_worker import money, running_worker, wait_for  # noqa: F401 - running_worker is a fixture

from b24app.storage import engine_of
from sync import inbox, reconcile, worker

pytestmark = pytest.mark.integration


@pytest.fixture
def app_database(database):
    """This module runs on both engines (tests/conftest.py ``database``)."""
    return database


def test_the_app_runs_on_the_engine_it_was_given(installed, database):
    db = installed.live.db()
    try:
        assert db.engine == engine_of(database)
    finally:
        db.close()
    inst = installed.installation
    assert inst.is_active and inst.is_provisioned and inst.lang == "la"
    rows = installed.live.rows("SELECT action FROM audit_log WHERE member_id = ? ORDER BY id", [installed.member_id])
    assert "provision" in [r["action"] for r in rows]


def test_a_won_deal_reaches_its_plan_through_the_inbox_and_the_worker(user, running_worker):  # noqa: F811
    plan = user.add_plan(10000, "USD", probability=60)
    deal = user.add_deal(plan, 3000, "USD")
    user.wait_figures(plan, "nothing won", EXECUTED=0, REMAINDER=10000, PROBABLE=6000)
    user.update(2, deal, stageId="WON")
    user.wait_figures(plan, "deal won", EXECUTED=3000, REMAINDER=7000, EXECUTION=30)
    user.hook.call("crm.item.delete", {"entityTypeId": 2, "id": deal})
    user.wait_figures(plan, "deal deleted", EXECUTED=0, REMAINDER=10000)


def test_reconcile_repairs_what_a_lost_event_left_behind(user, installed, sandbox):
    def drain() -> int:
        assert sandbox.portal.dispatcher.wait_idle(15)
        db = installed.live.db()
        try:
            return worker.drain_once(installed.live.config, db).claimed
        finally:
            db.close()

    plan = user.add_plan(5000)
    wait_for(drain, lambda n: n == 0, "portal and inbox quiet")
    requests.post(f"{sandbox.url}/sandbox/faults", json={"drop_events": 1}, timeout=10).raise_for_status()
    deal = user.add_deal(plan, 1000, stage="WON")  # the app never hears of it
    assert sandbox.portal.dispatcher.wait_idle(15)
    requests.post(f"{sandbox.url}/sandbox/faults", json={"drop_events": 0}, timeout=10).raise_for_status()
    assert user.figures(plan)["EXECUTED"] == 0
    db = installed.live.db()
    try:
        outcome = reconcile.reconcile_all(installed.live.config, db)[installed.member_id]
    finally:
        db.close()
    assert outcome.error is None and plan in outcome.updated
    assert user.figures(plan)["EXECUTED"] == money(1000)
    assert installed.live.rows("SELECT plan_id FROM deal_plan WHERE deal_id = ?", [deal]) == [{"plan_id": plan}]
    assert installed.live.rows("SELECT job FROM job_runs WHERE member_id = ?", [installed.member_id]) \
        == [{"job": "reconcile"}]


@pytest.fixture
def sqlite_app(installed, database):
    """The installed app on SQLite only (the source of ``migrate-store``)."""
    if engine_of(database) != "sqlite":
        pytest.skip("migrate-store copies a SQLite store: its test runs once")
    return installed


def test_migrate_store_copies_a_sqlite_store_into_postgresql(user, sqlite_app, sandbox, pg_cluster, monkeypatch):
    installed = sqlite_app
    plan = user.add_plan(8000, probability=50)
    user.add_deal(plan, 2000, stage="WON")
    assert sandbox.portal.dispatcher.wait_idle(15)
    db = installed.live.db()
    try:
        worker.drain_once(installed.live.config, db)  # snapshots, the deal index, audit rows, job runs
        assert sandbox.portal.dispatcher.wait_idle(15)  # the plan's write came back as an event: stored; then quiet
        inbox.enqueue(db, installed.member_id, "ONCRMDEALUPDATE", 2, 424242, {"FIELDS": {"ID": "424242"}})
        tables = sorted(set(db.table_names()) - {"_sqlite_migrations"})
        before = {t: sorted(map(tuple, db.execute(f"SELECT * FROM {t}").fetchall()), key=repr) for t in tables}
    finally:
        db.close()
    assert before["installations"] and before["plan_snapshots"] and before["deal_plan"]
    assert [r for r in before["inbox"] if r[8] == "pending"], "a pending inbox row to carry over"

    target = pg_cluster.new_database()
    monkeypatch.setenv("B24_ENV", "development")
    for name in ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "PUBLIC_URL", "SECRET_KEY"):
        monkeypatch.setenv(f"B24_{name}", str(installed.live.config[name]))
    from click.testing import CliRunner

    from b24app.cli import cli
    from b24app.db import connect

    result = CliRunner().invoke(cli, ["migrate-store", "--to", target])
    assert result.exit_code == 0, result.output
    assert "installations: 1 row(s)" in result.output and "set B24_DATABASE" in result.output
    copy = connect(target)
    try:
        after = {t: sorted(map(tuple, copy.execute(f"SELECT * FROM {t}").fetchall()), key=repr) for t in tables}
        assert after == before  # every installation, pending inbox row, snapshot, audit row ... as it was
        # the engine numbers new rows after the copied ones
        assert inbox.enqueue(copy, installed.member_id, "ONCRMDEALUPDATE", 2, 515151, {})
        newest = copy.execute("SELECT max(id) FROM inbox").fetchone()[0]
        assert newest > max(r[0] for r in before["inbox"])
    finally:
        copy.close()
    again = CliRunner().invoke(cli, ["migrate-store", "--to", target])  # never into a store in use
    assert again.exit_code != 0 and "empty database" in again.output
