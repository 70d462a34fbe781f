"""The storage engines behind one small interface: SQLite (a file, the default) and PostgreSQL (a shared server).

``B24_DATABASE`` is a path (SQLite, through sqlite_utils) or a ``postgresql://`` URL (psycopg 3 with a pool of
connections per process). The rest of the app sees only ``Store``:

- ``execute(sql, params)`` and ``query(sql, params)``: SQL written once, ``?`` placeholders, portable SQL
  (``INSERT ... ON CONFLICT``, ``RETURNING``; no ``INSERT OR IGNORE``, no ``PRAGMA``).
- ``transaction()``: statements that commit together (on SQLite the connection's own context manager, as the
  app always had); ``transaction(immediate=True)``: a write transaction taken at once (SQLite ``BEGIN
  IMMEDIATE``: one writer across processes; PostgreSQL: rows then locked with ``for_update`` /
  ``skip_locked``, which are empty on SQLite, where the immediate transaction already excludes other writers).
- ``lock(name)``: one holder at a time across processes (SQLite: an ``flock`` beside the database, i.e. one
  host; PostgreSQL: a session advisory lock, i.e. every machine that shares the server).
- ``try_lock(name)``: the same, without waiting (False when someone holds it).
- ``table(name)``: the few table helpers the code uses (``insert``, ``insert_all``, ``upsert``) and those the
  migrations use (``create``, ``add_column``, ``create_index``), with the same column types on both engines.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

SQLITE, POSTGRESQL = "sqlite", "postgresql"


def engine_of(database: str | Path) -> str:
    """Which engine a ``B24_DATABASE`` value names: a ``postgresql://`` (or ``postgres://``) URL, else a path."""
    text = str(database)
    return POSTGRESQL if text.startswith(("postgresql://", "postgres://")) else SQLITE


def redacted(database: str | Path) -> str:
    """The database for logs and messages: a URL without its password."""
    text = str(database)
    if engine_of(text) != POSTGRESQL or "@" not in text:
        return text
    scheme, _, rest = text.partition("://")
    credentials, _, host = rest.rpartition("@")
    return f"{scheme}://{credentials.partition(':')[0]}:***@{host}"


def password_of(database: str | Path) -> str | None:
    """The password in a ``postgresql://user:password@host/db`` URL (the logs mask it), else None."""
    text = str(database)
    if engine_of(text) != POSTGRESQL or "@" not in text:
        return None
    credentials = text.partition("://")[2].rpartition("@")[0]
    return credentials.partition(":")[2] or None


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [sqlite3.OperationalError]
    try:
        import psycopg
        import psycopg_pool

        found += [psycopg.OperationalError, psycopg_pool.PoolTimeout]
    except ImportError:  # the optional extra is not installed: SQLite only
        pass
    return tuple(found)


#: What "the store cannot take this write now" raises (a full disk, a lock held too long, the server gone).
UNAVAILABLE: tuple[type[BaseException], ...] = _unavailable_errors()


def _integrity_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [sqlite3.IntegrityError]
    try:
        import psycopg

        found.append(psycopg.IntegrityError)
    except ImportError:
        pass
    return tuple(found)


#: A constraint refused the write (a unique index, NOT NULL).
INTEGRITY: tuple[type[BaseException], ...] = _integrity_errors()


class StorageError(RuntimeError):
    """The engine cannot do what was asked (e.g. a file backup of a PostgreSQL store); the message says why."""


# ------------------------------------------------------------------ locks on one host (SQLite)


def private_dir(path: Path) -> None:
    """Make the folder (and missing parents); a folder made here is readable by its owner only."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)


def lock_dir(database: str | Path) -> Path:
    """Folder beside a SQLite database for the host-wide lock files (migrations, rate limiter, refresh)."""
    if not str(database) or str(database) == ":memory:":
        path = Path(tempfile.gettempdir()) / "b24plans-locks"
        path.mkdir(parents=True, exist_ok=True)
        return path
    path = Path(f"{database}.locks")
    private_dir(path)
    return path


@contextmanager
def file_lock(path: Path, wait: bool = True) -> Iterator[bool]:
    """An exclusive ``flock`` opened per use, so it excludes other processes and other threads alike.
    With ``wait=False`` it yields False at once when someone else holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def portal_key(member_id: str) -> str:
    """A portal's ``member_id`` as the short key the per-portal lock names and rows use."""
    return hashlib.sha1(member_id.encode("utf-8")).hexdigest()[:20]


def lock_key(name: str) -> int:
    """A lock name as a signed 64-bit key (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big", signed=True)


def file_name(name: str) -> str:
    """A lock name as a short, safe file name."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:24] + ".lock"


_memory_locks: dict[str, threading.Lock] = {}
_memory_locks_guard = threading.Lock()


# ------------------------------------------------------------------ the interface


class Result:
    """The rows of one statement, read at once (PostgreSQL); SQLite hands back its own cursor, which behaves alike."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int, columns: Sequence[str]):
        self._rows, self.rowcount, self.columns = rows, rowcount, list(columns)
        self._at = 0

    @property
    def description(self) -> list[tuple[str, None, None, None, None, None, None]] | None:
        """The DB-API shape: one 7-tuple per column, its name first (None for a statement without rows)."""
        return [(name, None, None, None, None, None, None) for name in self.columns] if self.columns else None

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rest, self._at = self._rows[self._at:], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class Table:
    """The table helpers of both engines (see the module docstring)."""

    def __init__(self, store: Store, name: str):
        self.store, self.name = store, name

    def insert(self, record: Mapping[str, Any]) -> None:
        self.insert_all([record])

    def insert_all(self, records: Iterable[Mapping[str, Any]]) -> None:
        raise NotImplementedError

    def upsert(self, record: Mapping[str, Any], pk: str | Sequence[str]) -> None:
        raise NotImplementedError

    def create(self, columns: Mapping[str, type], pk: str | Sequence[str], not_null: Iterable[str] = (),
               defaults: Mapping[str, Any] | None = None) -> None:
        raise NotImplementedError

    def add_column(self, name: str, kind: type) -> None:
        raise NotImplementedError

    def create_index(self, columns: Sequence[str], unique: bool = False) -> None:
        raise NotImplementedError


class Store:
    """One connection (SQLite) or one handle on a process-wide pool (PostgreSQL) to the app's database."""

    engine: str = ""
    database: str = ""
    #: Appended to a ``SELECT`` whose rows the transaction will change: PostgreSQL locks them (another
    #: process waits, ``skip_locked``: passes over them); SQLite's immediate transaction already did.
    for_update: str = ""
    skip_locked: str = ""

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def transaction(self, immediate: bool = False) -> Any:
        raise NotImplementedError

    def savepoint(self) -> Any:
        """A statement that may fail on a constraint without undoing the transaction around it (PostgreSQL aborts
        a transaction at its first error; SQLite undoes the one statement)."""
        raise NotImplementedError

    def lock(self, name: str) -> Any:
        raise NotImplementedError

    def try_lock(self, name: str) -> Any:
        raise NotImplementedError

    def table(self, name: str) -> Table:
        raise NotImplementedError

    def table_names(self) -> list[str]:
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

    def integrity(self) -> list[str]:
        """``["ok"]``, or what the engine found wrong with its files."""
        raise NotImplementedError

    def reset_ids(self, table: str) -> None:
        """After rows were copied in with their ``id``: the next row the engine numbers comes after them."""

    def backup(self, target: Path) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------ SQLite


class SqliteTable(Table):
    store: SqliteStore

    def _t(self) -> sqlite_utils.db.Table:
        return self.store.sq.table(self.name)

    def insert(self, record: Mapping[str, Any]) -> None:
        self._t().insert(dict(record))

    def insert_all(self, records: Iterable[Mapping[str, Any]]) -> None:
        self._t().insert_all([dict(r) for r in records])

    def upsert(self, record: Mapping[str, Any], pk: str | Sequence[str]) -> None:
        self._t().upsert(dict(record), pk=pk if isinstance(pk, str) else tuple(pk))

    def create(self, columns: Mapping[str, type], pk: str | Sequence[str], not_null: Iterable[str] = (),
               defaults: Mapping[str, Any] | None = None) -> None:
        self._t().create(dict(columns), pk=pk if isinstance(pk, str) else tuple(pk), not_null=set(not_null),
                         defaults=dict(defaults or {}))

    def add_column(self, name: str, kind: type) -> None:
        self._t().add_column(name, kind)

    def create_index(self, columns: Sequence[str], unique: bool = False) -> None:
        self._t().create_index(list(columns), unique=unique)


class SqliteStore(Store):
    engine = SQLITE

    def __init__(self, path: str):
        self.database = path
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        # WAL + NORMAL: a commit survives an app crash; only a power loss may drop the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        self.sq = sqlite_utils.Database(conn)

    @classmethod
    def over(cls, sq: sqlite_utils.Database, path: str) -> SqliteStore:
        """A store on an open sqlite_utils connection (the migration runner's)."""
        store = cls.__new__(cls)
        store.database, store.sq = path, sq
        return store

    @property
    def conn(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (tests and the SQLite-only tools; feature code never needs it)."""
        return self.sq.conn

    def __getitem__(self, name: str) -> Any:
        """sqlite_utils' own table (SQLite-only tools and tests)."""
        return self.sq[name]

    def __getattr__(self, name: str) -> Any:
        """Anything else of sqlite_utils' ``Database`` (SQLite-only tools and tests; the app keeps to ``Store``)."""
        if name in ("sq", "database"):
            raise AttributeError(name)
        return getattr(self.sq, name)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        return self.sq.execute(sql, dict(params) if isinstance(params, Mapping) else params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        return self.sq.query(sql, params)

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[None]:
        conn = self.sq.conn
        if not immediate:
            with conn:
                yield
            return
        if conn.in_transaction:  # the caller's transaction covers this one
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        yield

    def _memory(self) -> bool:
        return self.database in ("", ":memory:")

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        if self._memory():  # a database of this process only: a thread lock is enough
            with _memory_locks_guard:
                held = _memory_locks.setdefault(name, threading.Lock())
            with held:
                yield
            return
        with file_lock(lock_dir(self.database) / file_name(name)):
            yield

    @contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        if self._memory():
            with _memory_locks_guard:
                held = _memory_locks.setdefault(name, threading.Lock())
            got = held.acquire(blocking=False)
            try:
                yield got
            finally:
                if got:
                    held.release()
            return
        with file_lock(lock_dir(self.database) / file_name(name), wait=False) as got:
            yield got

    def table(self, name: str) -> Table:
        return SqliteTable(self, name)

    def table_names(self) -> list[str]:
        return list(self.sq.table_names())

    def columns(self, table: str) -> list[str]:
        return [c.name for c in self.sq.table(table).columns]

    def integrity(self) -> list[str]:
        return [str(r[0]) for r in self.sq.execute("PRAGMA integrity_check").fetchall()]

    def backup(self, target: Path) -> None:
        copy = sqlite3.connect(target)
        try:
            self.sq.conn.backup(copy)
        finally:
            copy.close()

    def enable_wal(self) -> None:
        self.sq.enable_wal()

    def close(self) -> None:
        self.sq.conn.close()


# ------------------------------------------------------------------ PostgreSQL

_PG_TYPES = {str: "TEXT", int: "BIGINT", float: "DOUBLE PRECISION"}
POOL_SIZE = 20  # B24_DATABASE_POOL (read when a process makes its pool)
_pools: dict[str, Any] = {}
_pools_guard = threading.Lock()


def _pool(url: str) -> Any:
    """The process's pool of connections to ``url`` (autocommit; transactions are explicit)."""
    with _pools_guard:
        pool = _pools.get(url)
        if pool is None or pool.closed:
            try:
                from psycopg_pool import ConnectionPool
            except ImportError:
                raise StorageError("B24_DATABASE is a postgresql:// URL but psycopg is not installed: "
                                   "pip install 'b24plans[postgres]'") from None
            size = int(os.environ.get("B24_DATABASE_POOL") or POOL_SIZE)
            pool = ConnectionPool(url, min_size=1, max_size=max(size, 4), kwargs={"autocommit": True},
                                  timeout=60, open=True, name="b24plans")
            pool.wait(timeout=30)
            _pools[url] = pool
        return pool


def close_pools() -> None:
    """Close every pool of this process (tests that stop their server; a forked process before it works)."""
    with _pools_guard:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


def _pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled). The app's SQL has no ``?`` in literals."""
    return sql.replace("%", "%%").replace("?", "%s")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PgTable(Table):
    store: PgStore

    def insert_all(self, records: Iterable[Mapping[str, Any]]) -> None:
        rows = [dict(r) for r in records]
        if not rows:
            return
        with self.store.transaction():
            for row in rows:
                names = list(row)
                self.store.execute(f"INSERT INTO {_ident(self.name)} ({', '.join(map(_ident, names))}) "
                                   f"VALUES ({', '.join('?' * len(names))})", [row[n] for n in names])

    def upsert(self, record: Mapping[str, Any], pk: str | Sequence[str]) -> None:
        keys = [pk] if isinstance(pk, str) else list(pk)
        names = list(record)
        rest = [n for n in names if n not in keys]
        action = ("DO UPDATE SET " + ", ".join(f"{_ident(n)} = EXCLUDED.{_ident(n)}" for n in rest)) if rest \
            else "DO NOTHING"
        self.store.execute(f"INSERT INTO {_ident(self.name)} ({', '.join(map(_ident, names))}) "
                           f"VALUES ({', '.join('?' * len(names))}) "
                           f"ON CONFLICT ({', '.join(map(_ident, keys))}) {action}", [record[n] for n in names])

    def create(self, columns: Mapping[str, type], pk: str | Sequence[str], not_null: Iterable[str] = (),
               defaults: Mapping[str, Any] | None = None) -> None:
        keys = [pk] if isinstance(pk, str) else list(pk)
        required, defaults = set(not_null), dict(defaults or {})
        parts = []
        for name, kind in columns.items():
            text = f"{_ident(name)} {_PG_TYPES[kind]}"
            if keys == [name] and kind is int:  # SQLite's INTEGER PRIMARY KEY: numbered by the engine
                text += " GENERATED BY DEFAULT AS IDENTITY"
            if name in required:
                text += " NOT NULL"
            if name in defaults:
                value = defaults[name]
                text += " DEFAULT " + (str(value) if isinstance(value, int | float) else
                                       "'" + str(value).replace("'", "''") + "'")
            parts.append(text)
        parts.append(f"PRIMARY KEY ({', '.join(map(_ident, keys))})")
        self.store.execute(f"CREATE TABLE {_ident(self.name)} ({', '.join(parts)})")

    def add_column(self, name: str, kind: type) -> None:
        self.store.execute(f"ALTER TABLE {_ident(self.name)} ADD COLUMN {_ident(name)} {_PG_TYPES[kind]}")

    def create_index(self, columns: Sequence[str], unique: bool = False) -> None:
        index = f"idx_{self.name}_{'_'.join(columns)}"  # sqlite_utils' names, so both schemas read alike
        self.store.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX {_ident(index)} ON {_ident(self.name)} "
                           f"({', '.join(map(_ident, columns))})")


class PgStore(Store):
    """Statements outside a transaction borrow a pooled connection each; a transaction keeps one (per thread)."""

    engine = POSTGRESQL
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str):
        self.database = url
        self.pool = _pool(url)
        self._local = threading.local()

    def _pinned(self) -> Any:
        return getattr(self._local, "conn", None)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Result:
        conn = self._pinned()
        if conn is not None:
            return self._run(conn, sql, params)
        with self.pool.connection() as conn:
            return self._run(conn, sql, params)

    @staticmethod
    def _run(conn: Any, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> Result:
        cursor = conn.execute(_pg_sql(sql), list(params) if not isinstance(params, Mapping) else params)
        if cursor.description is None:
            return Result([], cursor.rowcount, [])
        return Result(cursor.fetchall(), cursor.rowcount, [c.name for c in cursor.description])

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        result = self.execute(sql, params)
        return iter([dict(zip(result.columns, row, strict=True)) for row in result.fetchall()])

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[None]:
        if self._pinned() is not None:  # the caller's transaction covers this one
            yield
            return
        with self.pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield
            finally:
                self._local.conn = None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        conn = self._pinned()
        if conn is None:
            yield
            return
        with conn.transaction():  # nested in the open transaction: a SAVEPOINT
            yield

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """The threads of this process queue on a thread lock first, so only one of them asks the server; it polls
        ``pg_try_advisory_lock`` and gives its connection back between tries: a waiter never holds a pooled
        connection that the holder may need (the pool is small, a holder may open a transaction)."""
        with _memory_locks_guard:
            local = _memory_locks.setdefault(f"pg:{self.database}:{name}", threading.Lock())
        with local:
            key, pause = lock_key(name), 0.002
            while True:
                conn = self.pool.getconn()
                try:
                    got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0])
                except BaseException:
                    self.pool.putconn(conn)
                    raise
                if got:
                    break
                self.pool.putconn(conn)
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
            try:
                yield
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", [key])
                finally:
                    self.pool.putconn(conn)

    @contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        key = lock_key(name)
        with self.pool.connection() as conn:
            got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0])
            try:
                yield got
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(%s)", [key])

    def table(self, name: str) -> Table:
        return PgTable(self, name)

    def table_names(self) -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "ORDER BY table_name").fetchall()]

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()]

    def reset_ids(self, table: str) -> None:
        if "id" in self.columns(table):
            self.execute(f"SELECT setval(pg_get_serial_sequence(?, 'id'), GREATEST(COALESCE(MAX(id), 0), 1), "
                         f"MAX(id) IS NOT NULL) FROM {_ident(table)}", [table])

    def integrity(self) -> list[str]:
        self.execute("SELECT 1")  # the server checks its own pages; reaching it is what this host can check
        return ["ok"]

    def backup(self, target: Path) -> None:
        raise StorageError("the store is PostgreSQL: back it up with the server's tools (pg_dump)")

    def close(self) -> None:
        """Nothing to give back: the pool keeps the connections for the next handle."""


def open_store(database: str | Path) -> Store:
    """A handle on the database ``B24_DATABASE`` names (no migrations: see ``b24app.db``)."""
    text = str(database)
    return PgStore(text) if engine_of(text) == POSTGRESQL else SqliteStore(text)
