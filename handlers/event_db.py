"""Database connections for the event handler, kept open and reused across requests.

Events come in bursts (a script or an import changes 50 deals in one batch and the portal delivers 50
POSTs at once; api-reference/events/index.md: never retried). ``b24app.db.connect`` opens a connection
under the host-wide migration lock and applies migrations, which ``create_app`` already did at start-up;
doing it per event serialised every delivery of a burst behind one file lock. Here a request borrows an
already open connection (WAL, busy timeout, foreign keys, ``synchronous=NORMAL`` as ``connect`` sets
them) and gives it back.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

from b24app.db import connect

MAX_IDLE = 16  # open connections kept (for one database); a larger burst opens (and later closes) more

_lock = threading.Lock()
_idle: dict[tuple[str, int], list[sqlite_utils.Database]] = {}


def _file_id(path: str) -> int:
    """The database file's inode: a file deleted and created again (a reset demo) is another database, and
    a connection to the old one would write where nobody reads."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0


def _open(path: str) -> sqlite_utils.Database:
    """A connection to a database whose migrations already ran (the app applied them at start-up)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return sqlite_utils.Database(conn)


@contextmanager
def borrow(path: str) -> Iterator[sqlite_utils.Database]:
    """An open connection to ``path`` for one request; back to the pool afterwards (closed on error)."""
    if path == ":memory:":  # one database per connection: nothing to share
        memory = connect(path)
        try:
            yield memory
        finally:
            memory.conn.close()
        return
    key = (path, _file_id(path))
    with _lock:
        idle = _idle.setdefault(key, [])
        pooled = idle.pop() if idle else None
        old = [d for k in [k for k in _idle if k[0] == path and k != key] for d in _idle.pop(k)]
    for gone in old:  # connections to a deleted file
        gone.conn.close()
    if pooled is None:
        if not key[1]:  # the file is gone: let connect() create it with its migrations
            connect(path).conn.close()
            key = (path, _file_id(path))
        pooled = _open(path)
    db = pooled
    try:
        yield db
    except BaseException:
        db.conn.close()
        raise
    if db.conn.in_transaction:  # never hand on a connection with an open transaction
        db.conn.close()
        return
    closing: list[sqlite_utils.Database] = []
    with _lock:
        for other in [k for k in _idle if k != key]:  # one database per process in production; tests
            closing += _idle.pop(other)               # open many: keep only the latest one's connections
        idle = _idle.setdefault(key, [])
        if len(idle) < MAX_IDLE:
            idle.append(db)
        else:
            closing.append(db)
    for gone in closing:
        gone.conn.close()


def close_all() -> None:
    """Close every pooled connection (tests, shutdown)."""
    with _lock:
        pools = list(_idle.values())
        _idle.clear()
    for pool in pools:
        for db in pool:
            db.conn.close()
