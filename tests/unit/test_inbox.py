"""The durable inbox: coalescing, claiming once, done / failed / retry, stale claims."""

from __future__ import annotations

from datetime import timedelta

import pytest

from b24app.db import connect
from sync import inbox


@pytest.fixture
def db(database):
    """Both engines (tests/conftest.py ``database``)."""
    store = connect(database)
    yield store
    store.close()


def test_a_burst_of_updates_to_one_deal_is_one_pending_row(db):
    assert inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 759, {"FIELDS": {"ID": "759"}}, 1736405807)
    assert not inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 759, {"FIELDS": {"ID": "759"}}, 1736405808)
    assert inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 760, {"FIELDS": {"ID": "760"}}, 1736405808)
    assert inbox.enqueue(db, "m2", "ONCRMDEALUPDATE", 2, 759, {}, None)  # another portal
    assert inbox.enqueue(db, "m1", "ONCRMDEALDELETE", 2, 759, {}, None)  # another event
    assert inbox.pending_count(db) == 4
    assert inbox.pending_count(db, "m1") == 3


def test_events_without_an_object_coalesce_too(db):
    assert inbox.enqueue(db, "m1", "ONCRMCURRENCYUPDATE", None, None, {"FIELDS": {"ID": "EUR"}})
    assert not inbox.enqueue(db, "m1", "ONCRMCURRENCYUPDATE", None, None, {"FIELDS": {"ID": "USD"}})
    assert inbox.pending_count(db) == 1


def test_claim_hands_each_row_out_once_oldest_first_with_its_data(db):
    for deal in (3, 1, 2):
        inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal, {"FIELDS": {"ID": str(deal)}}, 100 + deal)
    first = inbox.claim_pending(db, limit=2)
    assert [item.object_id for item in first] == [3, 1]
    assert first[0].data == {"FIELDS": {"ID": "3"}}
    assert first[0].ts == 103 and first[0].attempts == 1 and first[0].entity_type_id == 2
    second = inbox.claim_pending(db, limit=10)
    assert [item.object_id for item in second] == [2]
    assert inbox.claim_pending(db, limit=10) == []


def test_a_new_event_while_processing_is_queued_again(db):
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 5, {}, 1)
    claimed = inbox.claim_pending(db)
    # The deal changes again while the worker reads it: that change must not be lost.
    assert inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 5, {}, 2)
    inbox.mark_done(db, [item.id for item in claimed])
    again = inbox.claim_pending(db)
    assert [item.ts for item in again] == [2]


def test_claim_by_member(db):
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 5, {}, 1)
    inbox.enqueue(db, "m2", "ONCRMDEALUPDATE", 2, 5, {}, 1)
    assert [i.member_id for i in inbox.claim_pending(db, member_id="m2")] == ["m2"]
    assert inbox.pending_count(db) == 1


def test_done_and_failed_rows_leave_the_queue(db):
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 1, {}, 1)
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 2, {}, 1)
    a, b = inbox.claim_pending(db)
    assert inbox.mark_done(db, [a.id]) == 1
    assert inbox.mark_failed(db, [b.id], "crm.item.list: ACCESS_DENIED") == 1
    rows = {r["id"]: r for r in db.query("SELECT * FROM inbox")}
    assert rows[a.id]["status"] == "done" and rows[a.id]["processed_at"]
    assert rows[b.id]["status"] == "failed" and rows[b.id]["error"] == "crm.item.list: ACCESS_DENIED"
    assert inbox.claim_pending(db) == []


def test_retry_returns_to_pending_until_max_attempts(db):
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 1, {}, 1)
    for attempt in (1, 2):
        (item,) = inbox.claim_pending(db)
        assert item.attempts == attempt
        inbox.mark_failed(db, [item.id], "503", retry=True, max_attempts=3)
        assert inbox.pending_count(db) == 1
    (item,) = inbox.claim_pending(db)
    inbox.mark_failed(db, [item.id], "503", retry=True, max_attempts=3)
    assert inbox.pending_count(db) == 0
    assert db.execute("SELECT status FROM inbox").fetchone()[0] == "failed"


def test_retry_when_a_newer_pending_row_exists_keeps_one_pending_row(db):
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 1, {}, 1)
    (item,) = inbox.claim_pending(db)
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 1, {}, 2)
    inbox.mark_failed(db, [item.id], "500", retry=True)
    assert inbox.pending_count(db) == 1
    statuses = sorted(r[0] for r in db.execute("SELECT status FROM inbox").fetchall())
    assert statuses == ["failed", "pending"]


def test_stale_claims_are_released(db):
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 1, {}, 1)
    inbox.claim_pending(db)
    assert inbox.release_stale(db, older_than=timedelta(minutes=10)) == 0  # fresh claim stays
    assert inbox.release_stale(db, older_than=timedelta(seconds=-1)) == 1
    assert [i.object_id for i in inbox.claim_pending(db)] == [1]


def test_rows_of_a_killed_claimer_on_this_host_are_released_at_once(db):
    import multiprocessing
    import os
    import socket

    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 1, {}, 1)
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 2, {}, 1)
    dead = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    dead.start()
    dead.join(10)
    assert dead.pid is not None
    first, second = inbox.claim_pending(db)
    host = socket.gethostname()
    db.execute("UPDATE inbox SET claimed_by = ? WHERE id = ?", [f"{host}:{dead.pid}", first.id])
    db.execute("UPDATE inbox SET claimed_by = ? WHERE id = ?", [f"elsewhere:{dead.pid}", second.id])
    assert inbox.dead_claimers(db) == [f"{host}:{dead.pid}"]
    assert inbox.release_stale(db) == 1  # the dead process's row; another host's claim waits until it is stale
    assert [i.object_id for i in inbox.claim_pending(db)] == [1]
    assert inbox.dead_claimers(db) == []  # this process claimed it again and is alive


def test_purge_done(db):
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 1, {}, 1)
    inbox.mark_done(db, [i.id for i in inbox.claim_pending(db)])
    assert inbox.purge_done(db, older_than=timedelta(days=1)) == 0
    assert inbox.purge_done(db, older_than=timedelta(seconds=-1)) == 1


def test_claimers_at_once_take_each_row_exactly_once(database):
    """Four workers (each its own connection, as four processes on one or many machines) claim small batches of
    300 rows at the same moment: every row is handed out once (PostgreSQL: SKIP LOCKED; SQLite: the immediate
    transaction)."""
    import threading

    setup = connect(database)
    for deal in range(300):
        inbox.enqueue(setup, "m1", "ONCRMDEALUPDATE", 2, deal, {}, deal)
    setup.close()
    taken: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def work(n: int) -> None:
        store = connect(database)
        start.wait()
        while batch := inbox.claim_pending(store, limit=7):
            taken[n] += [item.object_id for item in batch]
        store.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [deal for share in taken for deal in share]
    assert sorted(every) == list(range(300))  # none twice, none lost
