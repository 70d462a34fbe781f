"""Exactly one scheduler per process, started only when SCHEDULER is on and not under TESTING."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from b24app import create_app
from sync import scheduler


@pytest.fixture
def settings(tmp_path):
    return {"ENV": "development", "DATABASE": str(tmp_path / "app.db"), "SCHEDULER": True,
            "WORKER_INTERVAL": 60.0, "RECONCILE_MINUTES": 15, "CLOSE_PERIODS_HOUR": 1}


@pytest.fixture(autouse=True)
def no_leftover_scheduler():
    scheduler.stop()
    yield
    scheduler.stop()


def test_several_apps_in_one_process_share_one_scheduler(settings):
    first = create_app(settings)
    second = create_app(settings)
    running = scheduler.current()
    assert running is not None and running.running
    assert first.extensions["b24_scheduler"] is second.extensions["b24_scheduler"] is running
    assert sorted(job.id for job in running.get_jobs()) == ["close_periods", "prune", "reconcile", "worker"]
    # after a restart the first reconcile comes soon, not a whole interval later (events were lost meanwhile)
    sweep = running.get_job("reconcile")
    assert (sweep.next_run_time - datetime.now(UTC)).total_seconds() <= scheduler.STARTUP_RECONCILE_DELAY


def test_no_scheduler_under_testing_or_when_switched_off(settings):
    create_app({**settings, "TESTING": True})
    create_app({**settings, "SCHEDULER": False})
    assert scheduler.current() is None


def test_the_reloader_watcher_process_runs_no_jobs(settings, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    create_app(settings)
    assert scheduler.current() is None
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")  # the reloader's child serves and runs the jobs
    create_app(settings)
    assert scheduler.current() is not None


def test_a_busy_drain_is_not_reported_as_a_warning_but_other_skips_are(caplog):
    import logging

    from sync.scheduler import _BusyDrainFilter

    logger = logging.getLogger("apscheduler.scheduler.test")
    logger.addFilter(_BusyDrainFilter())
    with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler.test"):
        logger.warning('Execution of job "%s" skipped: maximum number of running instances reached (%d)',
                       "drain the event inbox (trigger: interval[0:00:02], next run at: x)", 1)
        logger.warning('Execution of job "%s" skipped: maximum number of running instances reached (%d)',
                       "reconcile every active plan (trigger: interval[0:15:00])", 1)
    assert "drain the event inbox" not in caplog.text
    assert "reconcile every active plan" in caplog.text


def test_the_schedulers_of_two_processes_reconcile_once_per_interval(settings, monkeypatch):
    """Two processes' schedulers on one store (on PostgreSQL: of many machines): each process's first reconcile
    runs (it repairs what was lost while it was down), after that one of them runs each interval, not both."""
    from sync import maintenance, reconcile

    runs: list[str] = []
    monkeypatch.setattr(reconcile, "reconcile_all", lambda config, db: runs.append("reconcile"))
    monkeypatch.setattr(maintenance, "prune", lambda *args, **kwargs: runs.append("prune"))
    first, second = scheduler.build(settings), scheduler.build(settings)
    for built in (first, second):
        built.get_job("reconcile").func()  # the first run after start: both
    assert runs == ["reconcile", "reconcile"]
    for built in (first, second, first):
        built.get_job("reconcile").func()
        built.get_job("prune").func()
    assert runs == ["reconcile", "reconcile", "prune"]
