"""The ``b24plans worker``, ``reconcile`` and ``close-periods`` commands.

They use the app's settings (``B24_*``); when the demo has run, ``instance/demo.env`` supplies the
demo's settings (its database, OAuth URL, client id/secret) and the environment still wins.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping
from datetime import date
from typing import Any

import click

from b24app import planmath
from sync import recompute

log = logging.getLogger(__name__)


def load_config() -> dict[str, Any]:
    """The app's settings as ``create_app`` resolves them (database path made absolute), no scheduler."""
    from b24app import create_app
    from b24app.envfile import cli_settings

    app = create_app({**cli_settings(), "SCHEDULER": False})
    return dict(app.config)


class TerminalProgress:
    """Progress of a reconcile on a terminal: reading steps as lines, the writes as a bar."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._label = ""

    def __call__(self, label: str, done: int, total: int) -> None:
        if label != "writes":
            self.close()
            click.echo(f"  reading {label}…", err=True)
            return
        if self._bar is None:
            if total == 0:
                return
            self._bar = click.progressbar(length=total, label="  writing changed plans", file=sys.stderr)
            self._bar.__enter__()
        if done:
            self._bar.update(done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


STATUS_NAMES = {"P": "Activo", "S": "Cumplido", "F": "No cumplido"}
SHOWN = 5  # plans named in a "moved to" line; the rest are counted


def moved_line(outcome: recompute.Outcome, status: str) -> str:
    """``3 plan(s) moved to No cumplido: #4 "Plan 2026-T1", … and 1 more`` (or ``0 plan(s) moved to …``)."""
    moved = sorted(plan_id for plan_id, (now, _) in outcome.moved.items() if now == status)
    text = f"{len(moved)} plan(s) moved to {STATUS_NAMES[status]}"
    if not moved:
        return text
    names = [f'#{plan_id} "{outcome.moved[plan_id][1]}"' if outcome.moved[plan_id][1] else f"#{plan_id}"
             for plan_id in moved[:SHOWN]]
    more = f" and {len(moved) - SHOWN} more" if len(moved) > SHOWN else ""
    return f"{text}: {', '.join(names)}{more}"


def _report(results: Mapping[str, recompute.Outcome], closing: bool = False) -> int:
    failed = 0
    if not results:
        click.echo("no active installation to reconcile")
    for member_id, outcome in results.items():
        if outcome.error:
            failed += 1
            click.echo(f"portal {member_id}: FAILED — {outcome.error}")
            continue
        click.echo(f"portal {member_id}: {outcome.plans} open or fulfilled plan(s), {outcome.deals} linked deal(s), "
                   f"{len(outcome.updated)} updated, {outcome.unchanged} unchanged, {len(outcome.failed)} failed")
        if closing:
            click.echo(f"  {moved_line(outcome, planmath.NOT_FULFILLED)}")
            made = outcome.series
            if made is not None:
                pairs = {**made.created, **made.linked}
                shown = ", ".join(f"#{pred} → #{succ}" for pred, succ in sorted(pairs.items())[:SHOWN])
                click.echo(f"  {len(pairs)} next-period plan(s) made" + (f": {shown}" if shown else ""))
                for plan_id, problems in sorted(made.flagged.items()):
                    click.echo(f"  plan {plan_id} not continued: {', '.join(problems)}")
        for plan_id, error in sorted(outcome.failed.items()):
            failed += 1
            click.echo(f"  plan {plan_id}: {error}")
    return 1 if failed else 0


def _sweep(member_id: str | None, today: date | None, closing: bool) -> None:
    from b24app.db import connect
    from sync import periods, reconcile

    config = load_config()
    db = connect(config["DATABASE"])
    progress = TerminalProgress() if sys.stdout.isatty() else None
    try:
        if closing:
            results = periods.close_periods(config, db, today=today, member_id=member_id, progress=progress)
        else:
            results = reconcile.reconcile_all(config, db, member_id=member_id, today=today, progress=progress)
    finally:
        if progress is not None:
            progress.close()
        db.close()
    code = _report(results, closing=closing)
    if code:
        sys.exit(code)


@click.command()
@click.option("--member-id", default=None, help="only this portal (default: every active installation)")
def reconcile(member_id: str | None) -> None:
    """Recompute every open (Activo) and fulfilled (Cumplido) plan from the portal's current state (also rebuilds
    the deal→plan index); plans closed as No cumplido are left alone."""
    _sweep(member_id, None, closing=False)


@click.command("close-periods")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="the date to close as of (default: today)")
@click.option("--member-id", default=None, help="only this portal")
def close_periods(today: Any, member_id: str | None) -> None:
    """Move open plans whose period ended unfulfilled to No cumplido; make the next period's plan of every
    closed recurring plan."""
    _sweep(member_id, today.date() if today else date.today(), closing=True)


@click.command()
@click.option("--once", is_flag=True, help="drain the inbox once and exit")
def worker(once: bool) -> None:
    """Process the event inbox (until Ctrl-C, or once with --once)."""
    from b24app.db import connect
    from sync import worker as inbox_worker

    config = load_config()
    db = connect(config["DATABASE"])
    try:
        if once:
            stats = inbox_worker.drain_once(config, db)
            click.echo(f"{stats.claimed} event(s): {stats.done} done, {stats.failed} failed, "
                       f"{stats.skipped} skipped; {stats.plans_updated} plan(s) updated")
            return
        interval = float(config.get("WORKER_INTERVAL") or 2.0)
        click.echo(f"worker: draining the inbox every {interval:g}s (Ctrl-C to stop)")
        stop = threading.Event()
        try:
            inbox_worker.run(config, db, interval, stop)
        except KeyboardInterrupt:
            stop.set()
            click.echo("worker stopped")
    finally:
        db.close()


@click.command()
@click.option("--member-id", default=None, help="only this portal (default: every installation)")
@click.option("--fix", is_flag=True, help="re-run provisioning first (smart process, fields, stages, tabs, events)")
def doctor(member_id: str | None, fix: bool) -> None:
    """Check each installation and say what is wrong and what to do; exit 1 when something is wrong."""
    from b24app.db import connect
    from sync import doctor as checks

    config = load_config()
    db = connect(config["DATABASE"])
    seen, healthy = 0, True
    try:
        database, reports = checks.doctor(config, db, member_id, fix=fix)
        click.echo(f"{database.status:4} {database.what}: {database.detail}")
        for report in reports:
            seen += 1
            healthy = healthy and report.ok
            state = "healthy" if report.ok else "NEEDS ATTENTION"
            click.echo(f"portal {report.domain or '?'} ({report.member_id}): {state}")
            for check in report.checks:
                click.echo(f"  {check.status:4} {check.what}: {check.detail}")
                if check.todo and check.status != checks.OK:
                    click.echo(f"       → {check.todo}")
    finally:
        db.close()
    if not seen:
        click.echo("no installation" + (f" with member_id {member_id}" if member_id else ""))
    if database.status == checks.FAIL or not healthy or (member_id and not seen):
        sys.exit(1)


@click.command("migrate-store")
@click.option("--to", "target", required=True, metavar="URL",
              help="the new store: postgresql://user:password@host:port/database (empty; made if needed)")
def migrate_store(target: str) -> None:
    """Copy the app's store (B24_DATABASE, e.g. the SQLite file) into another one, e.g. PostgreSQL: every
    installation, inbox row, snapshot and the rest. Stop the app and the worker first; then set B24_DATABASE
    to the new URL."""
    from b24app import db as appdb
    from b24app.storage import UNAVAILABLE, StorageError, redacted

    source_name = load_config()["DATABASE"]
    if str(source_name) == target:
        raise click.ClickException("the target is the store itself")
    source = appdb.connect(source_name)
    try:
        target_db = appdb.connect(target)
        counts = appdb.copy_store(source, target_db)
    except (appdb.StoreNotEmpty, StorageError) + UNAVAILABLE as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        source.close()
    target_db.close()
    for table, count in counts.items():
        click.echo(f"  {table}: {count} row(s)")
    click.echo(f"copied {redacted(source_name)} to {redacted(target)}: set B24_DATABASE to the new store")


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
def backup(path: str) -> None:
    """Copy the app's database to PATH (SQLite's online backup: safe while the app runs; never overwrites)."""
    from b24app.db import connect
    from sync import maintenance

    db = connect(load_config()["DATABASE"])
    try:
        written = maintenance.backup(db, path)
    except maintenance.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    click.echo(f"backed up to {written}")


@click.command()
def prune() -> None:
    """Delete processed inbox rows, audit rows and plan snapshots older than B24_KEEP_*_DAYS (also daily)."""
    from b24app.db import connect
    from sync import maintenance

    config = load_config()
    db = connect(config["DATABASE"])
    try:
        done = maintenance.prune(db, int(config["KEEP_INBOX_DAYS"]), int(config["KEEP_AUDIT_DAYS"]),
                                 int(config["KEEP_SNAPSHOT_DAYS"]))
    finally:
        db.close()
    click.echo(f"pruned {done.inbox} inbox row(s), {done.audit} audit row(s), {done.snapshots} snapshot(s)")


@click.command()
def jobs() -> None:
    """Run every background job until Ctrl-C: the inbox worker, reconcile, period end and pruning, on the
    B24_* schedule (a process of its own, for web servers started with B24_SCHEDULER=off)."""
    from sync import scheduler

    config = load_config()
    started = scheduler.start(config)
    if started is None:
        raise click.ClickException("the scheduler did not start")
    click.echo(f"jobs: worker every {config.get('WORKER_INTERVAL')}s, reconcile every "
               f"{config.get('RECONCILE_MINUTES')} min, period end and pruning daily (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        scheduler.stop()
        click.echo("jobs stopped")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="say what would be created or changed, write nothing")
@click.option("--member-id", default=None, help="the portal (needed when more than one is installed)")
@click.option("--lang", default="es", show_default=True, help="language of the numbers in text cells (es, en, ru)")
def import_plans(path: str, dry_run: bool, member_id: str | None, lang: str) -> None:
    """Create or update plans from an .xlsx or .csv sheet (README: the file format); a plan matches by client and
    period, so importing the same file twice changes nothing the second time."""
    from pathlib import Path

    from b24app.db import connect
    from b24app.installations import InstallationStore
    from b24app.rest.clients import clients_for
    from b24app.sheet import read_file
    from sync import sheet_import

    config = load_config()
    db = connect(config["DATABASE"])
    try:
        installs = [i for i in InstallationStore(db).all() if member_id in (None, i.member_id)]
    finally:
        db.close()
    if len(installs) != 1:
        raise click.ClickException("no such installation" if not installs
                                   else "more than one portal is installed: name one with --member-id")
    inst = installs[0]
    if not inst.is_provisioned:
        raise click.ClickException(f"portal {inst.member_id} has no smart process yet: run b24plans provision")
    parsed = read_file(Path(path).read_bytes(), path, locale=lang)
    with clients_for(config).admin(inst) as client:
        changes = (sheet_import.changes_for(client, inst, parsed.entries, parsed.problems) if parsed.entries
                   else sheet_import.plan_changes_failed(parsed.problems))
        for line in sheet_import.report_lines(changes):
            click.echo(line)
        if not changes.ok:
            raise click.ClickException(f"{len(changes.errors)} problem(s): nothing written")
        if dry_run:
            click.echo("dry run: nothing written")
            return
        report = sheet_import.write(client, inst, changes)
    db = connect(config["DATABASE"])
    try:
        sheet_import.audit_write(db, inst, changes, report, "cli", Path(path).name)
    finally:
        db.close()
    for line in sheet_import.write_lines(changes, report):
        click.echo(line)
    if not report.complete:
        sys.exit(1)


@click.command()
@click.option("--member-id", default=None, help="the portal to change (required with --burst, --per-second, --clear)")
@click.option("--burst", type=click.IntRange(min=1), default=None, help="requests the client may burst to it")
@click.option("--per-second", type=click.FloatRange(min=0, min_open=True), default=None,
              help="sustained requests per second to it")
@click.option("--clear", is_flag=True, help="back to the settings' B24_RATE_BURST / B24_RATE_PER_SECOND")
def limits(member_id: str | None, burst: int | None, per_second: float | None, clear: bool) -> None:
    """Show or set the app's REST rate limit per installation (a self-hosted portal may allow more than the cloud's
    50 burst / 2 per second). Every process reads it when it makes a client for that portal."""
    from b24app.db import connect
    from b24app.installations import InstallationStore, audit

    config = load_config()
    db = connect(config["DATABASE"])
    try:
        store = InstallationStore(db)
        changing = clear or burst is not None or per_second is not None
        if changing:
            found = store.find(member_id or "")
            if found is None:
                raise click.ClickException("--member-id must name an installation")
            if clear:
                store.set_rate_limit(found.member_id, None, None)
            else:
                store.set_rate_limit(found.member_id, float(burst) if burst is not None else found.rate_burst,
                                     per_second if per_second is not None else found.rate_per_second)
            audit(db, found.member_id, "rate_limit.set", actor="cli", burst=burst, per_second=per_second, clear=clear)
        shown = [store.find(member_id)] if member_id else store.all(status=None)
        for inst in shown:
            if inst is None:
                continue
            own = inst.rate_burst is not None or inst.rate_per_second is not None
            rest = inst.rest_config(config)
            click.echo(f"portal {inst.domain or '?'} ({inst.member_id}): burst {float(rest['RATE_BURST']):g}, "
                       f"{float(rest['RATE_PER_SECOND']):g}/s"
                       + ("" if own else " (the settings' defaults)"))
    finally:
        db.close()
