"""What keeps every process polite to one portal: a cross-process lock that makes requests sequential, a
leaky bucket reserved before sending, and per-method operating-time holds.

State lives in the app's database (tables ``rate_buckets`` and ``method_holds``), changed in immediate
transactions with the portal's row locked (``Store.for_update``), so every process that shares the store
serializes: on SQLite the processes of one host, on PostgreSQL those of every machine. The sequential lock is
``Store.lock`` (a file lock beside a SQLite database; an advisory lock on PostgreSQL). Docs: ``limits.md``
(leaky bucket X/Y, "Resource Intensity Limits").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from b24app import db as appdb
from b24app.rest.codec import operating_of
from b24app.storage import Store, portal_key

log = logging.getLogger(__name__)

HOLD_FRACTION = 0.8  # hold a method once its operating time passes 80 % of the limit
UNKNOWN_RESET = 60.0  # seconds to hold after a 429 when no operating_reset_at is known (one basket)


def open_db(database: str | None) -> Store:
    """``b24app.db.connect`` (which takes the host-wide migration lock itself)."""
    return appdb.connect(database or ":memory:")


class SharedState:
    """A lazily opened handle on the app database, shared by the client's helpers (thread-safe)."""

    def __init__(self, database: str | None):
        self.database = database or ":memory:"
        self._store: Store | None = None
        self._lock = threading.Lock()

    def _open(self) -> Store:
        if self._store is None:
            self._store = open_db(self.database)
        return self._store

    def store(self) -> Store:
        """The handle itself, for what needs no transaction (its locks)."""
        with self._lock:
            return self._open()

    @contextmanager
    def immediate(self) -> Iterator[Store]:
        """An immediate transaction: one writer of the portal's rows at a time across processes."""
        with self._lock:
            store = self._open()
            with store.transaction(immediate=True):
                yield store

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """A plain read (SQLite's WAL readers and PostgreSQL's never wait for writers)."""
        with self._lock:
            yield self._open()

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


SqliteState = SharedState  # the name it had while SQLite was the only engine


class LeakyBucket:
    """Client-side twin of the portal's bucket: each request adds 1, the level drains ``rate`` per second.

    ``reserve()`` books the next slot before sending and returns how long to wait for it, so processes
    that share the database never burst together.
    """

    def __init__(self, state: SharedState, portal: str, capacity: float, rate: float,
                 clock: Callable[[], float]):
        self.state, self.portal, self.capacity, self.rate, self.clock = state, portal, capacity, rate, clock

    def _level(self, conn: Store, now: float, lock: bool = False) -> float:
        if lock:  # the portal's row, locked until the transaction ends (made first if it is new)
            conn.execute("INSERT INTO rate_buckets (portal, level, updated) VALUES (?, 0, ?) "
                         "ON CONFLICT(portal) DO NOTHING", [self.portal, now])
        row = conn.execute("SELECT level, updated FROM rate_buckets WHERE portal = ?" + (conn.for_update if lock
                           else ""), [self.portal]).fetchone()
        if not row:
            return 0.0
        level, updated = float(row[0] or 0), float(row[1] or 0)
        return max(0.0, level - max(0.0, now - updated) * self.rate)

    def _store(self, conn: Store, level: float, now: float) -> None:
        conn.execute("INSERT INTO rate_buckets (portal, level, updated) VALUES (?, ?, ?) "
                     "ON CONFLICT(portal) DO UPDATE SET level = excluded.level, updated = excluded.updated",
                     [self.portal, level, now])

    def reserve(self) -> float:
        """Take one slot; return the seconds to wait before sending (0 while under capacity)."""
        with self.state.immediate() as conn:
            now = self.clock()
            level = self._level(conn, now, lock=True) + 1.0
            self._store(conn, level, now)
        return max(0.0, (level - self.capacity) / self.rate)

    def saturate(self) -> None:
        """The portal said QUERY_LIMIT_EXCEEDED: treat the local bucket as full so everyone slows down."""
        with self.state.immediate() as conn:
            now = self.clock()
            self._store(conn, max(self._level(conn, now, lock=True), float(self.capacity)), now)

    def level(self) -> float:
        with self.state.reading() as conn:
            return self._level(conn, self.clock())


class MethodHolds:
    """Per-method operating time (``time.operating``) and when it resets; a method near the limit is held."""

    def __init__(self, state: SharedState, portal: str, limit: float, clock: Callable[[], float]):
        self.state, self.portal, self.limit, self.clock = state, portal, limit, clock

    @property
    def threshold(self) -> float:
        return HOLD_FRACTION * self.limit

    def record(self, method: str, time_block: Any) -> None:
        """Remember ``operating``/``operating_reset_at`` of one answer; a missing block changes nothing."""
        found = operating_of(time_block)
        if found is None:
            return
        operating, reset_at = found
        with self.state.immediate() as conn:
            conn.execute("INSERT INTO method_holds (portal, method, until, operating) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(portal, method) DO UPDATE SET until = excluded.until, "
                         "operating = excluded.operating",
                         [self.portal, method.lower(), reset_at, operating])
        if operating >= self.threshold:
            log.info("holding %s: operating %.1fs of %.0fs until %.0f", method, operating, self.limit, reset_at)

    def record_all(self, pairs: Iterable[tuple[str, Any]]) -> None:
        for method, time_block in pairs:
            self.record(method, time_block)

    def block(self, method: str, reset_at: float = 0.0) -> float:
        """429 OPERATION_TIME_LIMIT: hold the method until ``reset_at`` (or the last known reset time)."""
        now = self.clock()
        with self.state.immediate() as conn:
            row = conn.execute("SELECT until FROM method_holds WHERE portal = ? AND method = ?" + conn.for_update,
                               [self.portal, method.lower()]).fetchone()
            known = float(row[0] or 0) if row else 0.0
            until = next((t for t in (reset_at, known) if t > now), now + UNKNOWN_RESET)
            conn.execute("INSERT INTO method_holds (portal, method, until, operating) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(portal, method) DO UPDATE SET until = excluded.until, "
                         "operating = excluded.operating",
                         [self.portal, method.lower(), until, self.limit])
        log.info("method %s blocked by the portal until %.0f", method, until)
        return until

    def held_until(self, methods: Iterable[str]) -> float:
        """The latest hold among ``methods`` that is still in the future, else 0."""
        names = sorted({m.lower() for m in methods})
        if not names:
            return 0.0
        now = self.clock()
        marks = ",".join("?" * len(names))
        with self.state.reading() as conn:
            rows = conn.execute(f"SELECT until FROM method_holds WHERE portal = ? AND method IN ({marks}) "
                                f"AND operating >= ? AND until > ?",
                                [self.portal, *names, self.threshold, now]).fetchall()
        return max((float(r[0]) for r in rows), default=0.0)


class PortalGate:
    """Everything one client needs to talk to one portal politely (shared through the database)."""

    def __init__(self, database: str | None, portal: str, capacity: float, rate: float,
                 operating_limit: float, clock: Callable[[], float]):
        self.portal = portal
        self.state = SharedState(database)
        self.bucket = LeakyBucket(self.state, portal, capacity, rate, clock)
        self.holds = MethodHolds(self.state, portal, operating_limit, clock)
        self.lock_name = f"portal-{portal_key(portal)}"

    @contextmanager
    def turn(self) -> Iterator[None]:
        """This process's turn to send a request to the portal (requests to one portal are sequential)."""
        with self.state.store().lock(self.lock_name):
            yield

    def close(self) -> None:
        self.state.close()
