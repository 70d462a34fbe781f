"""A log scan of a whole fault run: the app under waitress and the worker in processes of their own, logging at
DEBUG in JSON as in production, through dropped events, failing REST calls, every token expiring mid-run and a
reconcile from the CLI. Every line they wrote is read back, and no secret the run used appears in any of them:
no access or refresh token the portal issued (the app's pairs, rotated by the refresh, and the tokens in every
event's ``auth`` block), no application token, no client secret, no session key, no webhook code.
"""

from __future__ import annotations

import json
import random
import subprocess

import pytest
from test_fault_trials import figures, seed, truth, win_some
from test_race_trials import BIN, app_env, live_app_config, start_app, start_worker, stop, wait_idle
from test_reconcile import faults, quiet
from test_worker import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["live_app_config"]  # the trials' fixture: no client-side pacing against the unlimited sandbox


def secrets_of_the_run(sandbox, installed) -> set[str]:
    with sandbox.portal.lock:
        rows = sandbox.portal.store.db.execute("SELECT access_token, refresh_token FROM tokens").fetchall()
        hooks = sandbox.portal.store.db.execute("SELECT code FROM webhooks").fetchall()
    config = installed.live.config
    found = {value for row in rows for value in row} | {row[0] for row in hooks}
    found |= {installed.installation.application_token, config["CLIENT_SECRET"], config["SECRET_KEY"]}
    return {str(value) for value in found if value and len(str(value)) >= 10}


def test_no_secret_appears_in_any_log_line_of_a_whole_fault_run(user, installed, sandbox, tmp_path):
    rng = random.Random(31)
    plans = seed(user, rng)
    quiet(sandbox, installed)
    logs = {name: tmp_path / f"{name}.log" for name in ("app", "worker", "reconcile")}
    production_logs = {"B24_LOG_LEVEL": "DEBUG", "B24_LOG_FORMAT": "json"}
    app = start_app(installed, logs["app"], **production_logs)
    worker = start_worker(installed, logs["worker"], **production_logs)
    try:
        faults(sandbox, drop_events=0.2, rest_error_rate=0.1, rest_error_kind="mixed")
        win_some(user, plans, rng)
        faults(sandbox, expire_tokens=True)  # mid-run: the worker must refresh
        win_some(user, plans, rng)
        wait_idle(sandbox)
        faults(sandbox, drop_events=0, rest_error_rate=0)
        wait_for(lambda: installed.live.rows("SELECT id FROM inbox WHERE status IN ('pending', 'processing')"),
                 lambda rows: rows == [] and sandbox.portal.dispatcher.wait_idle(1), "the worker done")
        with logs["reconcile"].open("w") as out:
            done = subprocess.run([str(BIN / "b24plans"), "reconcile"], env=app_env(installed, **production_logs),
                                  stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
        assert done.returncode == 0, logs["reconcile"].read_text()
        assert figures(user, plans) == truth(user, plans)
    finally:
        stop(worker)
        stop(app)
    text = {name: path.read_text() for name, path in logs.items()}
    assert "refreshed tokens of" in text["worker"]  # the run really rotated the tokens
    records = [json.loads(line) for line in text["worker"].splitlines() if line.startswith("{")]
    assert records and {"time", "level", "logger", "message"} <= set(records[0])
    secrets = secrets_of_the_run(sandbox, installed)
    assert len(secrets) > 20  # the pairs of the install and the refresh, and one per delivered event
    leaks = {(name, secret[:6] + "…") for name, body in text.items() for secret in secrets if secret in body}
    assert leaks == set()
