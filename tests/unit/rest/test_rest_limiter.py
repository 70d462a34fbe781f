"""The shared leaky bucket, method holds and the per-portal lock (fake clock; no sleeping)."""

from __future__ import annotations

import threading
import time

import pytest

from b24app.rest.limiter import UNKNOWN_RESET, PortalGate


@pytest.fixture
def app_database(database):
    """This module runs on both engines (tests/conftest.py ``database``)."""
    return database


@pytest.fixture
def gates(config, clock):
    made = []

    def make(portal="portal.example", capacity=40, rate=2.0, limit=480.0):
        gate = PortalGate(config["DATABASE"], portal, capacity, rate, limit, clock)
        made.append(gate)
        return gate

    yield make
    for gate in made:
        gate.close()


def test_burst_then_drain_rate(gates, clock):
    bucket = gates().bucket
    waits = [bucket.reserve() for _ in range(43)]
    assert waits[:40] == [0.0] * 40
    assert waits[40:] == [0.5, 1.0, 1.5]
    clock.now += 30  # 60 requests drained at 2/s
    assert bucket.reserve() == 0.0


@pytest.mark.parametrize("capacity,rate,expected_wait", [(40, 2.0, 0.5), (250, 5.0, 0.2)])
def test_enterprise_numbers_are_configurable(gates, capacity, rate, expected_wait):
    bucket = gates(capacity=capacity, rate=rate).bucket
    waits = [bucket.reserve() for _ in range(capacity + 1)]
    assert max(waits[:capacity]) == 0.0 and waits[capacity] == pytest.approx(expected_wait)


def test_gates_of_one_portal_share_the_bucket(gates):
    first, second = gates().bucket, gates().bucket
    for _ in range(30):
        first.reserve()
    waits = [second.reserve() for _ in range(11)]
    assert waits[:10] == [0.0] * 10 and waits[10] == 0.5


def test_other_portals_have_their_own_bucket(gates):
    first, other = gates("a.example").bucket, gates("b.example").bucket
    for _ in range(40):
        first.reserve()
    assert other.reserve() == 0.0


def test_saturate_makes_the_next_request_wait(gates):
    bucket = gates().bucket
    bucket.reserve()
    bucket.saturate()
    assert bucket.reserve() == 0.5


@pytest.mark.parametrize("operating,held", [(100.0, False), (383.0, False), (384.0, True), (470.0, True)])
def test_holds_near_the_operating_limit(gates, clock, operating, held):
    holds = gates().holds
    reset_at = clock.now + 90
    holds.record("crm.item.update", {"operating": operating, "operating_reset_at": reset_at})
    assert holds.held_until(["crm.item.update"]) == (reset_at if held else 0.0)
    assert holds.held_until(["crm.item.list"]) == 0.0
    clock.now = reset_at + 1
    assert holds.held_until(["crm.item.update"]) == 0.0


@pytest.mark.parametrize("block", [None, {}, {"duration": 0.2}, "garbage", {"operating": "x"}])
def test_missing_or_broken_time_blocks_change_nothing(gates, block):
    holds = gates().holds
    holds.record("crm.item.list", block)
    assert holds.held_until(["crm.item.list"]) == 0.0


def test_block_uses_reset_time_or_last_known_or_a_minute(gates, clock):
    holds = gates().holds
    assert holds.block("a.method", clock.now + 30) == clock.now + 30
    holds.record("b.method", {"operating": 10, "operating_reset_at": clock.now + 200})
    assert holds.block("b.method") == clock.now + 200
    assert holds.block("c.method") == clock.now + UNKNOWN_RESET
    assert holds.held_until(["a.method", "b.method", "c.method"]) == clock.now + 200


def test_holds_are_shared_and_case_insensitive(gates, clock):
    gates().holds.block("CRM.Item.Update", clock.now + 50)
    assert gates().holds.held_until(["crm.item.update"]) == clock.now + 50


def test_turn_is_exclusive_across_threads(gates):
    gate_a, gate_b = gates(), gates()
    inside, overlaps = [], []

    def work(gate):
        for _ in range(20):
            with gate.turn():
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                time.sleep(0.001)
                inside.pop()

    threads = [threading.Thread(target=work, args=(g,)) for g in (gate_a, gate_b, gate_a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_reservations_at_once_from_many_clients_lose_none(gates):
    """Four clients of one portal (each with its own connection, as four processes would have) book 25 slots
    each at the same moment: the shared bucket counts all 100 (the row lock / immediate transaction)."""
    clients = [gates(capacity=1000) for _ in range(4)]
    start = threading.Barrier(len(clients))

    def work(gate):
        start.wait()
        for _ in range(25):
            gate.bucket.reserve()

    threads = [threading.Thread(target=work, args=(g,)) for g in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clients[0].bucket.level() == pytest.approx(100.0)  # the fake clock stands still: nothing drained
