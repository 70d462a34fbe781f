"""Race trials over real HTTP, real processes and a real SQLite file: four worker processes meeting an expired
token together, two reconciles at once, a person's edit landing between the worker's read and its write, the
worker and the app killed with SIGKILL in the middle of a burst, the database locked by another writer for 10 s,
the disk full when the inbox writes.

The oracle is the one of test_fault_trials (every plan and deal in USD: a plan's won amount is the plain sum of its
linked deals whose stage is WON, read back from the portal).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
import requests
from test_fault_trials import figures, reconcile_once, seed, truth, unfinished, win_some
from test_reconcile import drain, faults, quiet
from test_worker import money, wait_for

from b24app.db import connect
from b24app.installations import InstallationStore
from sync import recompute, reconcile

pytestmark = [pytest.mark.integration, pytest.mark.slow]

@pytest.fixture
def live_app_config() -> dict[str, Any]:
    """The sandbox runs without its rate limit: the processes of a trial need no client-side pacing either."""
    return {"RATE_BURST": 1000, "RATE_PER_SECOND": 100.0}


FORK = multiprocessing.get_context("fork")
BIN = Path(sys.executable).parent


def refreshes(sandbox, client_id: str) -> int:
    """How many refresh tokens of the app the portal's OAuth server has exchanged (each refresh spends one)."""
    with sandbox.portal.lock:
        return int(sandbox.portal.store.db.execute("SELECT count(*) FROM tokens WHERE client_id = ? AND revoked = 1",
                                                   [client_id]).fetchone()[0])


def app_env(installed, **extra: str) -> dict[str, str]:
    """The ``B24_*`` environment of an app process (web server, worker, CLI) with the live app's settings."""
    config = installed.live.config
    keys = ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "PUBLIC_URL", "OAUTH_URL", "SECRET_KEY", "BX24_JS_URL",
            "RATE_BURST", "RATE_PER_SECOND")  # every process shares one rate bucket per portal: the same limits
    return {**os.environ, **{f"B24_{k}": str(config[k]) for k in keys}, "B24_ENV": "test", "B24_SCHEDULER": "off",
            "B24_WORKER_INTERVAL": "0.2", **extra}


def start_worker(installed, log_path: Path, **extra: str) -> subprocess.Popen:
    """``b24plans worker`` in a process of its own, its log appended to ``log_path``."""
    out = log_path.open("a")
    return subprocess.Popen([str(BIN / "b24plans"), "worker"], env=app_env(installed, **extra), stdout=out,
                            stderr=subprocess.STDOUT)


def start_app(installed, log_path: Path, **extra: str) -> subprocess.Popen:
    """The app under waitress in a process of its own, on the port the portal knows (the in-test server stops)."""
    live = installed.live
    live.server.shutdown()  # the fixture's werkzeug thread lets go of the port
    live.server.server_close()
    port = live.url.rsplit(":", 1)[1]
    out = log_path.open("a")
    process = subprocess.Popen([str(BIN / "waitress-serve"), "--threads=16", "--host=127.0.0.1", f"--port={port}",
                                "--call", "b24app:create_app"], env=app_env(installed, **extra), stdout=out,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        try:
            requests.post(live.url + "/events", data="", timeout=2)
            return process
        except requests.RequestException:
            time.sleep(0.05)
    raise AssertionError("the app process did not start: " + log_path.read_text())


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            kill(process)


def wait_idle(sandbox) -> None:
    assert sandbox.portal.dispatcher.wait_idle(30)


# --- four workers, one refresh ------------------------------------------------------------------------------

def _worker_process(config: dict, member_id: str, barrier: Any, results: Any) -> None:
    """One worker process: a call with the stored (expired) token at the same moment as the others, then a drain."""
    try:
        from b24app.rest.clients import clients_for
        from sync import worker

        db = connect(config["DATABASE"])
        inst = InstallationStore(db).find(member_id)
        assert inst is not None
        barrier.wait(20)
        with clients_for(config).admin(inst) as client:
            listed = client.call("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": ["id"]})
        stats = worker.drain_once(config, db)
        db.close()
        results.put(("ok", len(listed["items"]), stats.failed, stats.skipped))
    except BaseException:  # noqa: BLE001 - report anything to the parent
        results.put(("error", traceback.format_exc(), 0, 0))


def test_four_worker_processes_meeting_an_expired_token_refresh_it_once_and_every_call_succeeds(
        user, installed, sandbox):
    rng = random.Random(21)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    win_some(user, plans, rng)
    wait_idle(sandbox)  # the events wait in the inbox for the workers
    faults(sandbox, expire_tokens=True)
    spent = refreshes(sandbox, installed.live.client_id)
    config = installed.live.config
    barrier, results = FORK.Barrier(4), FORK.Queue()
    workers = [FORK.Process(target=_worker_process, args=(config, installed.member_id, barrier, results))
               for _ in range(4)]
    for process in workers:
        process.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for process in workers:
        process.join(10)
    assert [o[0] for o in outcomes] == ["ok"] * 4, outcomes
    assert {o[1] for o in outcomes} == {len(plans)}  # every process read every plan
    assert sum(o[2] + o[3] for o in outcomes) == 0  # no event failed or was skipped (no invalid_grant)
    assert refreshes(sandbox, installed.live.client_id) == spent + 1  # one refresh for all four
    assert installed.installation.is_active
    quiet(sandbox, installed)
    assert figures(user, plans) == truth(user, plans)
    assert unfinished(installed) == []


# --- two reconciles at once ---------------------------------------------------------------------------------

def test_two_reconciles_at_once_reach_the_same_figures_and_write_each_plan_once(user, installed, sandbox):
    rng = random.Random(22)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    faults(sandbox, drop_events=1)  # nobody tells the app: only reconcile can set the plans right
    win_some(user, plans, rng)
    wait_idle(sandbox)
    faults(sandbox, drop_events=0)
    wrong = [p for p, won in truth(user, plans).items() if figures(user, {p: 0})[p] != won]
    assert wrong
    config = installed.live.config
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def run() -> None:
        db = connect(config["DATABASE"])
        try:
            barrier.wait(10)
            outcomes.append(reconcile.reconcile_all(config, db)[installed.member_id])
        finally:
            db.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 2 and all(o.error is None and not o.failed for o in outcomes), outcomes
    assert sorted(len(o.updated) for o in outcomes) == [0, len(wrong)]  # the second found nothing left to write
    assert figures(user, plans) == truth(user, plans)
    writes = installed.live.rows("SELECT detail FROM audit_log WHERE action = 'plan.recomputed' AND actor = "
                                 "'reconcile'")
    assert len(writes) == len(wrong)
    quiet(sandbox, installed)
    assert unfinished(installed) == []


# --- a person's edit against the worker's write ---------------------------------------------------------------

# (the person's edit, the deal won, what the plan must end as: stage semantics, amount, remainder)
EDITS = {
    # An Activo plan closed by hand while the worker writes its figures: the close stands, the figures are right.
    "close": ("close", 4000, "F", 10000, 6000),
    # The amount raised while the worker writes Cumplido for the old one: the new amount stands and the plan goes
    # back to Activo on the person's own event.
    "raise": ("raise", 10000, "P", 20000, 10000),
    # A plan the worker is about to mark Cumplido closed by hand in between: the worker's stage write is dropped
    # (superseded), and the person's own event applies the rule "closed by hand stays until fulfilled": Cumplido.
    "close-fulfilled": ("close", 10000, "S", 10000, 0),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_a_person_editing_a_plan_while_the_worker_writes_it_loses_nothing(user, installed, sandbox, monkeypatch,
                                                                          caplog, case):
    """Between the worker's read of a plan and its write, a person edits the plan in the card."""
    edit, won, semantics, amount, remainder = EDITS[case]
    inst = installed.installation
    plan = user.add_plan(10000)
    deal = user.add_deal(plan, won)
    quiet(sandbox, installed)
    real = recompute.superseded_stages
    edited: list[int] = []

    def person_edits_first(client, inst_, plans, pending):
        if plan in pending and not edited:
            edited.append(plan)
            if edit == "close":
                user.update(user.eti, plan, stageId=inst.stage_map["F"])
            else:
                user.update(user.eti, plan, opportunity=20000)
        return real(client, inst_, plans, pending)

    monkeypatch.setattr(recompute, "superseded_stages", person_edits_first)
    user.update(2, deal, stageId="WON")
    quiet(sandbox, installed)
    assert edited == [plan]  # the edit really landed between the read and the write
    assert user.stage_semantics(plan) == semantics
    assert money(user.plan(plan)["opportunity"]) == money(amount)  # the worker never writes the amount
    assert user.figures(plan)["EXECUTED"] == money(won)
    assert user.figures(plan)["REMAINDER"] == money(remainder)
    superseded = any("changed stage since they were read" in r.getMessage() for r in caplog.records)
    assert superseded == (case == "close-fulfilled")
    assert unfinished(installed) == []


# --- the worker and the app killed mid-burst ------------------------------------------------------------------

def test_the_worker_killed_mid_batch_and_restarted_loses_no_event(user, installed, sandbox, tmp_path):
    rng = random.Random(23)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    log_path = tmp_path / "worker.log"
    faults(sandbox, rest_delay_ms=400)  # a batch takes long enough to be killed in the middle
    worker = start_worker(installed, log_path)
    try:
        win_some(user, plans, rng)
        claimed = wait_for(lambda: installed.live.rows("SELECT DISTINCT claimed_by FROM inbox WHERE status = "
                                                       "'processing'"), bool, "the worker holding a batch")
        assert claimed[0]["claimed_by"].endswith(f":{worker.pid}")
        kill(worker)
        stuck = installed.live.rows("SELECT id FROM inbox WHERE status = 'processing'")
        assert stuck  # killed with rows in hand
        wait_idle(sandbox)
        faults(sandbox, rest_delay_ms=0)
        worker = start_worker(installed, log_path)
        wait_for(lambda: installed.live.rows("SELECT id FROM inbox WHERE status IN ('pending', 'processing')"),
                 lambda rows: rows == [] and sandbox.portal.dispatcher.wait_idle(1), "the restarted worker done")
        done = {r["id"] for r in installed.live.rows("SELECT id FROM inbox WHERE status = 'done'")}
        assert {r["id"] for r in stuck} <= done  # the killed worker's rows were taken back and done
        assert figures(user, plans) == truth(user, plans)  # without a reconcile: no event was lost
    finally:
        stop(worker)
    assert "left half-done by a stopped worker are pending again" in log_path.read_text()


def test_the_app_killed_mid_burst_and_restarted_keeps_every_stored_event_and_reconcile_sets_every_plan_right(
        user, installed, sandbox, tmp_path):
    rng = random.Random(24)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    log_path = tmp_path / "app.log"
    app = start_app(installed, log_path)
    try:
        first = len(sandbox.portal.deliveries)
        faults(sandbox, delay_events_ms=50, event_concurrency=2)
        deals = [d for ds in plans.values() for d, _ in ds]
        for i, deal in enumerate(deals):
            user.update(2, deal, stageId="WON" if rng.random() < 0.6 else "NEW", comments=f"burst {i}")
            if i == len(deals) // 2:  # mid-burst: once the app has answered some of it, with more on the way
                wait_for(lambda: [d for d in list(sandbox.portal.deliveries)[first:] if d.get("status") == 200],
                         bool, "the app answering the first events")
                kill(app)
        wait_idle(sandbox)
        sent = list(sandbox.portal.deliveries)[first:]
        assert any(d.get("error") for d in sent)  # events the portal sent while the app was down: lost (F5)
        answered = {int(d["payload"]["data"]["FIELDS"]["ID"]) for d in sent
                    if d.get("status") == 200 and str(d.get("event", "")).startswith("ONCRMDEAL")}
        assert answered
        stored = {r["object_id"] for r in installed.live.rows("SELECT object_id FROM inbox WHERE entity_type_id = 2")}
        assert answered <= stored  # every event the app answered 200 survived the kill
        faults(sandbox, delay_events_ms=0, event_concurrency=4)
        app = start_app(installed, log_path)
        quiet(sandbox, installed)
        reconcile_once(installed)  # what the portal sent while the app was down
        assert figures(user, plans) == truth(user, plans)
        quiet(sandbox, installed)
        assert unfinished(installed) == []
    finally:
        stop(app)


# --- the database locked, the disk full ----------------------------------------------------------------------

def test_the_database_locked_by_another_writer_for_10_s_delays_events_and_loses_none(user, installed, sandbox):
    rng = random.Random(25)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    holder = connect(installed.live.config["DATABASE"])
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO audit_log (member_id, at, actor, action) VALUES ('x', 'now', 'test', 'lock')")
    released_at: list[float] = []

    def release() -> None:
        holder.execute("COMMIT")
        released_at.append(time.monotonic())

    timer = threading.Timer(10, release)
    timer.start()
    started = time.monotonic()
    try:
        win_some(user, plans, rng)  # the portal sends these while the database is locked
        stats = drain(installed)  # the worker too waits for the lock, then proceeds
    finally:
        timer.join()
        holder.close()
    assert stats.failed == 0 and released_at and released_at[0] - started >= 9
    quiet(sandbox, installed)
    assert figures(user, plans) == truth(user, plans)  # without a reconcile: every event waited and was stored
    assert unfinished(installed) == []


def test_an_event_the_full_disk_cannot_store_is_refused_with_503_and_a_line_says_why(
        user, installed, sandbox, monkeypatch, caplog):
    """The test hook: the inbox write fails as SQLite fails when the disk is full (SQLITE_FULL). The real
    engine error is tried in tests/unit/test_events_handler.py (a connection that may not grow the file)."""
    import handlers.events as events_handler

    plan = user.add_plan(10000)
    deal = user.add_deal(plan, 2500)
    quiet(sandbox, installed)
    first = len(sandbox.portal.deliveries)

    def disk_full(*_args: Any, **_kwargs: Any) -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(events_handler.inbox, "enqueue", disk_full)
    user.update(2, deal, stageId="WON")
    wait_idle(sandbox)
    sent = list(sandbox.portal.deliveries)[first:]
    assert sent and {d["status"] for d in sent} == {503}  # refused, never a silent 200
    assert any(r.levelname == "ERROR" and "NOT stored" in r.getMessage() and "disk is full" in r.getMessage()
               for r in caplog.records)
    assert unfinished(installed) == []  # nothing half-written
    monkeypatch.undo()
    reconcile_once(installed)
    assert user.figures(plan)["EXECUTED"] == money(2500)
    quiet(sandbox, installed)
    assert unfinished(installed) == []
