"""The app's SQLite database: connections (WAL), numbered migrations, Flask wiring.

Migrations are never edited once shipped; add a new function instead.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from flask import Flask, current_app, g
from sqlite_utils.migrations import Migrations

migrations = Migrations("b24plans")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["installations"].create(
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
    db["inbox"].create(
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
    db["inbox"].create_index(["status", "id"])
    db["deal_plan"].create(
        {"member_id": str, "deal_id": int, "plan_id": int, "updated_at": str},
        pk=("member_id", "deal_id"),
    )
    db["deal_plan"].create_index(["member_id", "plan_id"])
    db["plan_snapshots"].create(
        {
            "id": int, "member_id": str, "plan_id": int, "taken_at": str, "amount": str, "currency": str,
            "won": str, "remainder": str, "execution": str, "probable": str, "status": str,
        },
        pk="id",
    )
    db["plan_snapshots"].create_index(["member_id", "plan_id", "taken_at"])
    db["audit_log"].create(
        {"id": int, "member_id": str, "at": str, "actor": str, "action": str, "detail": str},
        pk="id",
    )
    db["audit_log"].create_index(["member_id", "at"])
    # REST client state shared by every process on the host (rate limiter, operating-time holds).
    db["rate_buckets"].create({"portal": str, "level": float, "updated": float}, pk="portal")
    db["method_holds"].create({"portal": str, "method": str, "until": float, "operating": float},
                              pk=("portal", "method"))
    db["oauth_locks"].create({"portal": str, "holder": str, "until": float}, pk="portal")


@migrations()
def m002_frame_sessions(db: sqlite_utils.Database) -> None:
    """Server-side state of a verified frame user (placements/frames.py); the cookie holds only ``sid``."""
    db["frame_sessions"].create(
        {"sid": str, "member_id": str, "user_id": int, "is_admin": int, "lang": str,
         "access_token": str, "created_at": float, "expires_at": float},
        pk="sid",
        not_null={"sid", "member_id"},
    )
    db["frame_sessions"].create_index(["expires_at"])


def lock_dir(database: str | Path) -> Path:
    """Folder beside the database for the host-wide lock files (migrations, rate limiter, refresh)."""
    path = Path(f"{database}.locks")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` opened per use, so it excludes other processes and other threads alike."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the database (creating folders), in WAL mode, with all migrations applied.

    Processes that open a fresh database at the same moment would race on switching to WAL and on the
    migrations ("database is locked"), so that part runs under a host-wide file lock.
    """
    memory = str(path) == ":memory:"
    if not memory:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    if memory:
        migrations.apply(db)
        return db
    with file_lock(lock_dir(path) / "migrate.lock"):
        db.enable_wal()
        migrations.apply(db)
    # WAL + NORMAL: a commit survives an app crash; only a power loss may drop the last commits.
    conn.execute("PRAGMA synchronous = NORMAL")
    return db


class ThreadLocalDB:
    """One connection per thread for code that runs in scheduler or server threads."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()

    def get(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
        return db


def get_db() -> sqlite_utils.Database:
    """The request's database connection (the Flask tutorial's pattern)."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    connect(app.config["DATABASE"]).conn.close()  # apply migrations at start-up
