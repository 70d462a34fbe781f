"""The in-process scheduler (apscheduler): inbox drains, periodic reconcile, the daily period-end job.

Exactly one scheduler per process: ``create_app`` may run several times in one process (tests, the
CLI, the demo) and the Flask reloader runs the app in a parent *and* a child process, so ``start`` is
guarded by a module-level lock and skips the reloader's watcher process.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from b24app import jobruns
from b24app.db import ThreadLocalDB

log = logging.getLogger(__name__)

STARTUP_RECONCILE_DELAY = 30  # seconds
_lock = threading.Lock()
_scheduler: BackgroundScheduler | None = None


def current() -> BackgroundScheduler | None:
    """The process's running scheduler, if any."""
    return _scheduler


def _is_reloader_parent() -> bool:
    """True in the Werkzeug reloader's watcher process, which must not run jobs."""
    return os.environ.get("FLASK_RUN_FROM_CLI") == "true" and os.environ.get("FLASK_DEBUG") in {"1", "true"} \
        and os.environ.get("WERKZEUG_RUN_MAIN") != "true"


class _BusyDrainFilter(logging.Filter):
    """A drain still running when the next interval comes is normal under a burst of events (the running
    drain takes the new rows too); apscheduler reports each skipped run as a WARNING, which reads like a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.getMessage().startswith('Execution of job "drain the event inbox')
                    and "maximum number of running instances" in record.getMessage())


def build(config: Mapping[str, Any]) -> BackgroundScheduler:
    """A scheduler (not started) with the worker, reconcile and period-end jobs for ``config``."""
    from sync import maintenance, periods, reconcile, worker

    settings = dict(config)
    dbs = ThreadLocalDB(settings["DATABASE"])
    reconcile_seconds = 60.0 * int(settings.get("RECONCILE_MINUTES") or 15)
    started = threading.Event()  # this process's first reconcile has run

    def ours(job: str, interval: float, force: bool = False) -> bool:
        """Run the job here? Every process's scheduler asks the store, so the job runs once per interval across
        the processes that share it (jobruns.claim), not once per process."""
        if jobruns.claim(dbs.get(), job, interval, time.time(), force=force):
            return True
        log.debug("job %s: started by another process within its interval; not run here", job)
        return False

    def drain() -> None:  # every worker drains: the inbox hands each row to one of them
        worker.drain_once(settings, dbs.get())

    def sweep() -> None:
        first = not started.is_set()
        started.set()
        if ours("reconcile", reconcile_seconds, force=first):
            reconcile.reconcile_all(settings, dbs.get())

    def close() -> None:  # every hour: each portal is closed at B24_CLOSE_PERIODS_HOUR of its own time zone
        if ours("close_periods", 3600.0):
            periods.close_periods(settings, dbs.get(), hour=int(settings.get("CLOSE_PERIODS_HOUR") or 0))

    def prune() -> None:
        if ours("prune", 86400.0):
            maintenance.prune(dbs.get(), int(settings.get("KEEP_INBOX_DAYS") or 0),
                              int(settings.get("KEEP_AUDIT_DAYS") or 0), int(settings.get("KEEP_SNAPSHOT_DAYS") or 0))

    scheduler = BackgroundScheduler(daemon=True, job_defaults={"coalesce": True, "max_instances": 1,
                                                                "misfire_grace_time": 60})
    scheduler.add_job(drain, "interval", seconds=float(settings.get("WORKER_INTERVAL") or 2.0),
                      id="worker", name="drain the event inbox")
    # the first sweep soon after start: events sent while the app was down were lost (ARCHITECTURE.md F5)
    scheduler.add_job(sweep, "interval", minutes=int(settings.get("RECONCILE_MINUTES") or 15),
                      id="reconcile", name="reconcile every active plan",
                      next_run_time=datetime.now(UTC) + timedelta(seconds=STARTUP_RECONCILE_DELAY))
    scheduler.add_job(close, "cron", minute=5, id="close_periods", name="close ended periods")
    scheduler.add_job(prune, "cron", hour=int(settings.get("CLOSE_PERIODS_HOUR") or 0), minute=35,
                      id="prune", name="prune old inbox, audit and snapshot rows")
    return scheduler


def start(config: Mapping[str, Any]) -> BackgroundScheduler | None:
    """Start the process's one scheduler; a second call returns the running one (or None when skipped)."""
    global _scheduler
    if _is_reloader_parent():
        log.info("scheduler not started in the reloader's watcher process")
        return None
    with _lock:
        if _scheduler is not None:
            return _scheduler
        # apscheduler logs every run at INFO (every 2 s); the jobs log what they did themselves.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        busy = logging.getLogger("apscheduler.scheduler")
        if not any(isinstance(f, _BusyDrainFilter) for f in busy.filters):
            busy.addFilter(_BusyDrainFilter())
        scheduler = build(config)
        scheduler.start()
        _scheduler = scheduler
        atexit.register(stop)
        log.info("scheduler started: worker every %ss, reconcile every %s min, period end daily at %s:05 "
                 "(portal time)",
                 config.get("WORKER_INTERVAL"), config.get("RECONCILE_MINUTES"),
                 config.get("CLOSE_PERIODS_HOUR"))
        return scheduler


def stop() -> None:
    """Stop the process's scheduler (waiting for a running job to finish)."""
    global _scheduler
    with _lock:
        scheduler, _scheduler = _scheduler, None
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
