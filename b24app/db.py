"""The app's database: the engine it runs on (b24app/storage.py), numbered migrations, Flask wiring.

One migration history for both engines: each migration is a function written against ``Store`` (its table
helpers give both engines the same columns, and any raw SQL in it is portable). On SQLite sqlite_utils'
runner applies them (its ``_sqlite_migrations`` table, as always); on PostgreSQL ``_apply_pg`` does, recording
them in ``schema_migrations``, each in a transaction, under an advisory lock so processes that start together
apply them once. Migrations are never edited once shipped; add a new function instead.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections.abc import Callable
from pathlib import Path

import sqlite_utils
from flask import Flask, current_app, g
from sqlite_utils.migrations import Migrations

from b24app.storage import (
    POSTGRESQL,
    SqliteStore,
    Store,
    engine_of,
    file_lock,
    lock_dir,
    open_store,
    private_dir,
)

__all__ = ["Store", "connect", "file_lock", "lock_dir", "migrate", "get_db", "init_app", "ThreadLocalDB"]

MIGRATION_SET = "b24plans"
_MIGRATIONS: list[tuple[str, Callable[[Store], None]]] = []


def migrations() -> Callable[[Callable[[Store], None]], Callable[[Store], None]]:
    """Register a migration (in the order of the file)."""
    def register(fn: Callable[[Store], None]) -> Callable[[Store], None]:
        _MIGRATIONS.append((fn.__name__, fn))
        return fn
    return register


@migrations()
def m001_initial(db: Store) -> None:
    db.table("installations").create(
        {
            "member_id": str, "domain": str, "client_endpoint": str, "server_endpoint": str,
            "access_token": str, "refresh_token": str, "expires_at": int, "application_token": str,
            "scopes": str, "user_id": int, "lang": str, "app_version": str,
            "type_id": int, "entity_type_id": int, "category_id": int,
            "field_map": str, "stage_map": str,  # JSON
            "status": str, "installed_at": str, "uninstalled_at": str, "updated_at": str,
        },
        pk="member_id",
        not_null={"member_id", "client_endpoint", "status"},
        defaults={"status": "active"},
    )
    db.table("inbox").create(
        {
            "id": int, "member_id": str, "event": str, "entity_type_id": int, "object_id": int,
            "data": str, "ts": int, "received_at": str,
            "status": str, "attempts": int, "processed_at": str, "error": str,
        },
        pk="id",
        not_null={"member_id", "event", "status"},
        defaults={"status": "pending", "attempts": 0},
    )
    # One pending row per (portal, event, object): a burst of updates to one deal is one unit of work.
    db.execute(
        "CREATE UNIQUE INDEX inbox_pending ON inbox(member_id, event, entity_type_id, object_id) "
        "WHERE status = 'pending'"
    )
    db.table("inbox").create_index(["status", "id"])
    db.table("deal_plan").create(
        {"member_id": str, "deal_id": int, "plan_id": int, "updated_at": str},
        pk=("member_id", "deal_id"),
    )
    db.table("deal_plan").create_index(["member_id", "plan_id"])
    db.table("plan_snapshots").create(
        {
            "id": int, "member_id": str, "plan_id": int, "taken_at": str, "amount": str, "currency": str,
            "won": str, "remainder": str, "execution": str, "probable": str, "status": str,
        },
        pk="id",
    )
    db.table("plan_snapshots").create_index(["member_id", "plan_id", "taken_at"])
    db.table("audit_log").create(
        {"id": int, "member_id": str, "at": str, "actor": str, "action": str, "detail": str},
        pk="id",
    )
    db.table("audit_log").create_index(["member_id", "at"])
    # REST client state shared by every process on the host (rate limiter, operating-time holds).
    db.table("rate_buckets").create({"portal": str, "level": float, "updated": float}, pk="portal")
    db.table("method_holds").create({"portal": str, "method": str, "until": float, "operating": float},
                              pk=("portal", "method"))
    db.table("oauth_locks").create({"portal": str, "holder": str, "until": float}, pk="portal")


@migrations()
def m002_frame_sessions(db: Store) -> None:
    """Server-side state of a verified frame user (placements/frames.py); the cookie holds only ``sid``."""
    db.table("frame_sessions").create(
        {"sid": str, "member_id": str, "user_id": int, "is_admin": int, "lang": str,
         "access_token": str, "created_at": float, "expires_at": float},
        pk="sid",
        not_null={"sid", "member_id"},
    )
    db.table("frame_sessions").create_index(["expires_at"])


@migrations()
def m003_sessions_from(db: Store) -> None:
    """The moment (epoch seconds) from which an installation's frame sessions count: a verified install or
    Reinstall and a confirmed uninstall move it forward, so sessions opened before are refused."""
    db.table("installations").add_column("sessions_from", float)


@migrations()
def m004_job_runs(db: Store) -> None:
    """The last run of each background job per portal (b24app/jobruns.py): what ``b24plans doctor`` reports."""
    db.table("job_runs").create(
        {"member_id": str, "job": str, "at": str, "ok": int, "detail": str},
        pk=("member_id", "job"),
    )


@migrations()
def m005_deal_won_at(db: Store) -> None:
    """The moment each indexed deal was won (``movedTime`` of a deal in a success stage, ARCHITECTURE.md F12)."""
    db.table("deal_plan").add_column("won_at", str)


@migrations()
def m006_rate_history(db: Store) -> None:
    """Every set of currency rates the app has seen, with the moment it came in force (b24app/ratestore.py)."""
    db.table("rate_history").create(
        {"id": int, "member_id": str, "since": str, "recorded_at": str, "source": str, "rates": str},
        pk="id", not_null={"member_id", "since", "rates"},
    )
    db.table("rate_history").create_index(["member_id", "since"])


@migrations()
def m007_portal_time_zone(db: Store) -> None:
    """The portal's UTC offset as ``server.time`` gives it (``+01:00``): it decides dates (ARCHITECTURE.md F13)."""
    db.table("installations").add_column("time_zone", str)


@migrations()
def m008_enum_map(db: Store) -> None:
    """Per installation, the item ids of the plan's list fields by XML id (``{"RECURRENCE": {"MONTHLY": 57}}``):
    Bitrix24 stores a list field's value as the id of its item, which differs per portal."""
    db.table("installations").add_column("enum_map", str)


@migrations()
def m009_auto_link(db: Store) -> None:
    """Auto-linking (b24app/linkstore.py): a person's link or unlink of a deal, which the rule never undoes,
    and the deals waiting for a person to choose their plan ("to decide")."""
    db.table("link_decisions").create(
        {"member_id": str, "deal_id": int, "plan_id": int, "user_id": int, "source": str, "at": str},
        pk=("member_id", "deal_id"),
    )
    db.table("link_pending").create(
        {"member_id": str, "deal_id": int, "title": str, "company_id": int, "contact_id": int, "day": str,
         "amount": str, "currency": str, "reason": str, "candidates": str, "updated_at": str},
        pk=("member_id", "deal_id"),
    )


@migrations()
def m010_forecast(db: Store) -> None:
    """Where plans are heading (b24app/forecast.py): the forecast in each snapshot, which snapshots are the daily
    ones, the alerts to the plans' responsibles (one row per plan, kind and period: sent once) and the
    per-installation switches of each kind of alert."""
    for name, kind in (("forecast", str), ("open_pipeline", str), ("at_risk", int), ("kind", str), ("day", str)):
        db.table("plan_snapshots").add_column(name, kind)
    db.table("plan_snapshots").create_index(["member_id", "day", "plan_id"])
    db.table("plan_alerts").create(
        {"id": int, "member_id": str, "plan_id": int, "kind": str, "period": str, "user_id": int, "title": str,
         "created_at": str, "sent_at": str, "error": str},
        pk="id", not_null={"member_id", "plan_id", "kind", "period"},
    )
    db.execute("CREATE UNIQUE INDEX plan_alerts_once ON plan_alerts(member_id, plan_id, kind, period)")
    db.table("alert_switches").create({"member_id": str, "kind": str, "enabled": int}, pk=("member_id", "kind"))


@migrations()
def m012_inbox_claimed_by(db: Store) -> None:
    """Who claimed a ``processing`` inbox row (``host:pid``): a restarted worker takes back at once the rows of a
    worker that was killed on this host, instead of waiting for them to go stale (sync/inbox.py). And the rate
    limit per installation: a self-hosted portal may allow more than the cloud's."""
    db.table("inbox").add_column("claimed_by", str)
    # The REST client's own rate limit for this portal (``b24plans limits``); NULL: the settings' B24_RATE_*.
    db.table("installations").add_column("rate_burst", float)
    db.table("installations").add_column("rate_per_second", float)


@migrations()
def m013_job_claims(db: Store) -> None:
    """Who ran each scheduled job last, cluster-wide (b24app/jobruns.py ``claim``): the scheduler of every process
    asks before a reconcile, a period close or a prune, so the job runs once per interval, not once per process."""
    db.table("job_claims").create({"job": str, "at": float, "claimed_by": str}, pk="job", not_null={"job"})


def migration_names() -> list[str]:
    return [name for name, _ in _MIGRATIONS]


def _sqlite_runner(path: str) -> Migrations:
    runner = Migrations(MIGRATION_SET)
    for name, fn in _MIGRATIONS:
        def apply(sq: sqlite_utils.Database, fn: Callable[[Store], None] = fn) -> None:
            fn(SqliteStore.over(sq, path))
        runner(name=name)(apply)
    return runner


def _apply_sqlite(db: SqliteStore) -> None:
    _sqlite_runner(db.database).apply(db.sq)


def pending_migrations(db: Store) -> list[str]:
    """The migrations not applied to this database yet (in order)."""
    if isinstance(db, SqliteStore):
        return [m.name for m in _sqlite_runner(db.database).pending(db.sq)]
    if "schema_migrations" not in db.table_names():
        return migration_names()
    done = {r[0] for r in db.execute("SELECT name FROM schema_migrations WHERE migration_set = ?",
                                     [MIGRATION_SET]).fetchall()}
    return [name for name in migration_names() if name not in done]


def _apply_pg(store: Store) -> None:
    """Apply the pending migrations to a PostgreSQL store, once across every process that starts now."""
    with store.lock("b24plans:migrate"):
        store.execute("CREATE TABLE IF NOT EXISTS schema_migrations (migration_set TEXT NOT NULL, "
                      "name TEXT NOT NULL, applied_at TEXT, PRIMARY KEY (migration_set, name))")
        done = {r[0] for r in store.execute("SELECT name FROM schema_migrations WHERE migration_set = ?",
                                            [MIGRATION_SET]).fetchall()}
        for name, fn in _MIGRATIONS:
            if name in done:
                continue
            with store.transaction():
                fn(store)
                store.execute("INSERT INTO schema_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
                              [MIGRATION_SET, name, _dt.datetime.now(_dt.UTC).isoformat()])


_migrated: set[tuple[str, int]] = set()  # (database, inode) of the databases this process has migrated
_migrated_lock = threading.Lock()


def _file_id(path: str) -> int:
    """The database file's inode: a file deleted and created again (a reset demo) is another database."""
    if engine_of(path) == POSTGRESQL:
        return 0
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0


def _open(path: str) -> Store:
    return open_store(path)


def migrate(path: str | Path) -> None:
    """Create the database (and its folder) if needed, switch it to WAL and apply every migration.

    Runs once per process and database: ``create_app`` calls it at start-up (so do the CLI commands, through
    it). A SQLite database and a folder made here are private (0600 / 0700): the file holds the admins' tokens.
    Processes that open a fresh database at the same moment would race on switching to WAL and on the
    migrations ("database is locked"), so this runs under a host-wide file lock (PostgreSQL: an advisory lock).
    """
    path = str(path)
    with _migrated_lock:
        if path == ":memory:" or (path, _file_id(path)) in _migrated:
            return
        if engine_of(path) == POSTGRESQL:
            _apply_pg(open_store(path))
            _migrated.add((path, 0))
            return
        private_dir(Path(path).parent)
        # The file holds the admins' tokens: owner only (SQLite gives its -wal and -shm files the same mode).
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        with file_lock(lock_dir(path) / "migrate.lock"):
            db = SqliteStore(path)
            try:
                db.enable_wal()
                _apply_sqlite(db)
            finally:
                db.close()
        _migrated.add((path, _file_id(path)))


def connect(path: str | Path) -> Store:
    """A handle on the app's database: opened (SQLite: its pragmas set), nothing more.

    The schema is in place once ``migrate`` ran in this process (a file not migrated yet, e.g. a test's
    fresh database or a demo folder deleted meanwhile, is migrated first). ``:memory:`` is a new database
    per connection, so it gets the migrations each time.
    """
    path = str(path)
    if path == ":memory:":
        db = SqliteStore(path)
        _apply_sqlite(db)
        return db
    if (path, _file_id(path)) not in _migrated:
        migrate(path)
    return _open(path)


#: Tables of the engines' own bookkeeping: never copied (the target has its own migration record).
_BOOKKEEPING = {"_sqlite_migrations", "schema_migrations", "sqlite_sequence", "sqlite_stat1"}


class StoreNotEmpty(RuntimeError):
    """The target store already holds installations: a copy would mix two stores."""


def copy_store(source: Store, target: Store, batch: int = 500) -> dict[str, int]:
    """Copy every row of every app table from ``source`` to ``target`` (migrated first, and empty of
    installations); returns the row count per table. Rows keep their ids, so the inbox, snapshots, alerts and
    rate history read the same. Run it with the app stopped: rows written meanwhile would not be copied."""
    migrate(target.database)
    if target.execute("SELECT count(*) FROM installations").fetchone()[0]:
        raise StoreNotEmpty("the target already has installations: copy into an empty database")
    counts: dict[str, int] = {}
    with target.transaction():
        for table in sorted(set(source.table_names()) - _BOOKKEEPING):
            wanted = set(target.columns(table))
            columns = [c for c in source.columns(table) if c in wanted]
            target.execute(f"DELETE FROM {table}")  # rate-limit state a start-up may have written
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            for start in range(0, len(rows), batch):
                target.table(table).insert_all(dict(zip(columns, row, strict=True))
                                               for row in rows[start:start + batch])
            target.reset_ids(table)
            counts[table] = len(rows)
    return counts


class ThreadLocalDB:
    """One connection per thread for code that runs in scheduler or server threads."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()

    def get(self) -> Store:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
        return db


def get_db() -> Store:
    """The request's database connection (the Flask tutorial's pattern)."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    """Apply migrations once at start-up; requests then only open connections."""
    migrate(app.config["DATABASE"])
    app.teardown_appcontext(close_db)
