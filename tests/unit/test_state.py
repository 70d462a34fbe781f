import pytest

from b24app.db import connect, migration_names, pending_migrations
from b24app.installations import (
    NEEDS_REAUTH,
    UNINSTALLED,
    Installation,
    InstallationStore,
    audit,
)
from b24app.storage import INTEGRITY


@pytest.fixture
def db(database):
    """Both engines (tests/conftest.py ``database``)."""
    store = connect(database)
    yield store
    store.close()


def make(member_id="m1", **kw):
    base = dict(member_id=member_id, domain="acme.bitrix24.es", client_endpoint="https://acme.bitrix24.es/rest/",
                access_token="AT-secret-111", refresh_token="RT-secret-222", application_token="APP-secret-333",
                expires_at=1_900_000_000, type_id=7, entity_type_id=1030,
                field_map={"PROBABILITY": "ufCrm7Probability"}, stage_map={"P": "DT1030_0:NEW"})
    base.update(kw)
    return Installation(**base)


def test_migrations_create_every_table(db, database):
    assert {"installations", "inbox", "deal_plan", "plan_snapshots", "audit_log", "rate_buckets", "method_holds",
            "link_decisions", "plan_alerts", "job_runs", "rate_history"} <= set(db.table_names())
    assert pending_migrations(db) == [] and len(migration_names()) >= 11
    # the same columns on both engines (the migrations' table helpers)
    assert db.columns("inbox") == ["id", "member_id", "event", "entity_type_id", "object_id", "data", "ts",
                                   "received_at", "status", "attempts", "processed_at", "error", "claimed_by"]
    # reconnecting applies nothing twice
    again = connect(database)
    table = "_sqlite_migrations" if db.engine == "sqlite" else "schema_migrations"
    assert len(list(again.query(f"SELECT * FROM {table}"))) == len(migration_names())


def test_a_sqlite_database_is_in_wal_mode(tmp_path):
    db = connect(tmp_path / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_run_once_per_process_and_file(tmp_path, monkeypatch):
    """Requests and workers only open connections: after the first, no migration lock, no migration run."""
    from b24app import db as appdb

    runs = []
    real_apply = appdb._apply_sqlite
    monkeypatch.setattr(appdb, "_apply_sqlite", lambda database: runs.append(1) or real_apply(database))
    path = tmp_path / "once.db"
    appdb.migrate(path)
    appdb.migrate(path)
    for _ in range(5):
        appdb.connect(path).close()
    assert runs == [1]
    for suffix in ("", "-wal", "-shm"):  # the file deleted and made again is another database: migrated again
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    assert "installations" in appdb.connect(path).table_names() and runs == [1, 1]


def test_a_new_database_and_its_folder_are_private(tmp_path):
    import os
    import stat

    from b24app import db as appdb

    folder = tmp_path / "instance"
    appdb.connect(folder / "app.db").execute("SELECT 1")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for name in ("app.db", "app.db-wal", "app.db-shm"):
        if (folder / name).exists():
            assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(folder / "app.db.locks").st_mode) == 0o700


def test_store_saves_finds_and_deletes_by_member_id(db):
    store = InstallationStore(db)
    store.save(make())
    found = store.find("m1")
    assert found.domain == "acme.bitrix24.es"
    assert found.field_map == {"PROBABILITY": "ufCrm7Probability"}
    assert found.is_provisioned is False  # no success/failure stages known yet
    full = found.with_(stage_map={"P": "DT1030_0:NEW", "S": "DT1030_0:SUCCESS", "F": "DT1030_0:FAIL"})
    assert full.is_provisioned is True
    assert store.find("other") is None
    store.save(found.with_(domain="renamed.bitrix24.es"))
    assert store.find("m1").domain == "renamed.bitrix24.es"
    assert len(store.all()) == 1
    store.delete("m1")
    assert store.find("m1") is None


def test_rotated_tokens_replace_the_old_pair(db):
    store = InstallationStore(db)
    store.save(make(status=NEEDS_REAUTH))
    store.save_tokens("m1", "AT-new", "RT-new", 1_950_000_000)
    inst = store.find("m1")
    assert (inst.access_token, inst.refresh_token, inst.expires_at) == ("AT-new", "RT-new", 1_950_000_000)
    assert inst.is_active


def test_uninstall_drops_tokens_but_keeps_the_portal_ids(db):
    store = InstallationStore(db)
    store.save(make())
    store.mark_uninstalled("m1")
    inst = store.find("m1")
    assert inst.status == UNINSTALLED
    assert inst.access_token == "" and inst.refresh_token == ""
    assert inst.entity_type_id == 1030
    assert inst.uninstalled_at
    assert store.all() == []


def test_installation_repr_hides_tokens():
    text = repr(make())
    for secret in ("AT-secret-111", "RT-secret-222", "APP-secret-333"):
        assert secret not in text


def test_inbox_keeps_one_pending_row_per_object(db):
    row = {"member_id": "m1", "event": "ONCRMDEALUPDATE", "entity_type_id": 2, "object_id": 5, "data": "{}"}
    db.table("inbox").insert(row)
    with pytest.raises(INTEGRITY):
        db.table("inbox").insert(row)
    db.execute("UPDATE inbox SET status = 'done'")
    db.table("inbox").insert(row)  # once processed, a new change is new work
    assert db.execute("SELECT count(*) FROM inbox").fetchone()[0] == 2


def test_audit_log_records_actions(db):
    audit(db, "m1", "install", actor="user:1", created=True)
    entry = next(db.query("SELECT * FROM audit_log"))
    assert entry["action"] == "install" and '"created": true' in entry["detail"]


def test_a_scheduled_job_is_claimed_once_per_interval_across_processes(db):
    from b24app import jobruns

    assert jobruns.claim(db, "reconcile", 900, now=1000.0)
    assert not jobruns.claim(db, "reconcile", 900, now=1001.0)  # another process, same interval: not run there
    assert jobruns.claim(db, "prune", 900, now=1001.0)  # each job on its own
    assert not jobruns.claim(db, "reconcile", 900, now=1000.0 + 0.89 * 900)
    assert jobruns.claim(db, "reconcile", 900, now=1000.0 + 0.9 * 900)  # a scheduler firing a little early runs
    assert jobruns.claim(db, "reconcile", 900, now=1811.0, force=True)  # a process's first run after it starts
    assert not jobruns.claim(db, "reconcile", 900, now=1812.0)


def test_a_lock_held_here_is_held_for_other_processes_too(db, database):
    """``Store.lock`` excludes other processes (a file lock beside SQLite, an advisory lock on PostgreSQL: other
    machines too): another process's ``try_lock`` of the name fails while this one holds it, and succeeds after."""
    import subprocess
    import sys

    probe = ("import sys; from b24app.storage import open_store\n"
             "with open_store(sys.argv[1]).try_lock(sys.argv[2]) as got: print(got)")

    def other_process_gets(name: str) -> str:
        return subprocess.run([sys.executable, "-c", probe, database, name], capture_output=True, text=True,
                              check=True, timeout=60).stdout.strip()

    with db.lock("reconcile-portal-1"):
        assert other_process_gets("reconcile-portal-1") == "False"
        assert other_process_gets("reconcile-portal-2") == "True"  # one lock per name
    assert other_process_gets("reconcile-portal-1") == "True"
