"""Keeping the app's database: an online backup, and pruning what only grows (done inbox rows, audit rows,
plan snapshots) by age. Pruning runs daily in the scheduler and as ``b24plans prune``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from b24app import installations, planstore
from b24app.storage import StorageError, Store
from sync import inbox

log = logging.getLogger(__name__)


class BackupError(RuntimeError):
    """The backup could not be written; the message says why."""


def backup(db: Store, target: str | Path) -> Path:
    """Copy the database to ``target`` with SQLite's online backup (safe while the app writes to it).

    The copy is private (0600) like the database, and an existing file is never overwritten.
    """
    path = Path(target)
    if path.exists():
        raise BackupError(f"{path} exists: choose a new file name (a backup never overwrites one)")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder: create it first (a typo must not create folders)")
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise BackupError(f"cannot create {path}: {exc.strerror}") from None
    try:
        db.backup(path)
    except StorageError as exc:
        path.unlink()
        raise BackupError(str(exc)) from None
    log.info("database backed up to %s", path)
    return path


@dataclass(frozen=True)
class Pruned:
    inbox: int
    audit: int
    snapshots: int


def prune(db: Store, inbox_days: int, audit_days: int, snapshot_days: int,
          now: datetime | None = None) -> Pruned:
    """Delete finished inbox rows, audit rows and snapshots older than their horizon (days; 0 keeps all).
    Each table's owner does its part; the newest snapshot of each plan is always kept."""
    now = now or datetime.now(UTC)
    pruned = Pruned(
        inbox.purge_done(db, older_than=timedelta(days=inbox_days), now=now) if inbox_days else 0,
        installations.prune_audit(db, now - timedelta(days=audit_days)) if audit_days else 0,
        planstore.prune_snapshots(db, now - timedelta(days=snapshot_days)) if snapshot_days else 0,
    )
    if pruned.inbox or pruned.audit or pruned.snapshots:
        log.info("pruned %s inbox row(s), %s audit row(s), %s snapshot(s)", pruned.inbox, pruned.audit,
                 pruned.snapshots)
    return pruned
