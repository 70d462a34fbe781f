"""A burst of events all lands in the inbox: a script creates plans and deals through the webhook in batches
of 50 (each batch is ~50 events at once for the app) while the app's worker and a reconcile keep the app's
database busy. The portal never retries an event (api-reference/events/index.md), so a refused or slow
delivery would be a lost event."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from b24app import phpquery
from b24app.rest import B24Client
from b24sandbox.events import CONNECT_TIMEOUT, READ_TIMEOUT
from sync import reconcile, worker

pytestmark = pytest.mark.integration


def deliveries(sandbox) -> list[dict]:
    return requests.get(f"{sandbox.url}/sandbox/events/log", timeout=10).json()


def busy_app(installed, stop: threading.Event) -> None:
    """The worker draining every 0.05 s and a reconcile sweep in a loop: the handler's writes compete."""
    db = installed.live.db()
    try:
        while not stop.is_set():
            worker.drain_once(installed.live.config, db)
            reconcile.reconcile_all(installed.live.config, db)
    finally:
        db.close()


def test_a_burst_of_events_all_lands_in_the_inbox(installed, sandbox):
    inst = installed.installation
    hook = B24Client.for_webhook(sandbox.webhook_url, {**installed.live.config, "RATE_BURST": 1000})
    assert sandbox.portal.dispatcher.wait_idle(15)
    start = len(deliveries(sandbox))
    stop = threading.Event()
    load = threading.Thread(target=busy_app, args=(installed, stop), daemon=True)
    load.start()
    try:
        plans = hook.batch_all({f"p{n}": ("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
            "title": f"Plan {n}", "opportunity": 1000 + n, "currencyId": "USD", "isManualOpportunity": "Y",
            "begindate": "2026-01-01", "closedate": "2099-12-31"}}) for n in range(60)})
        assert not plans.errors
        ids = [int(v["item"]["id"]) for v in plans.result.values()]
        deals = hook.batch_all({f"d{n}": ("crm.item.add", {"entityTypeId": 2, "fields": {
            "title": f"Deal {n}", "opportunity": 100, "currencyId": "USD", "stageId": "WON", "categoryId": 0,
            f"parentId{inst.entity_type_id}": plan}}) for n, plan in enumerate(ids)})
        assert not deals.errors
        assert sandbox.portal.dispatcher.wait_idle(120)
    finally:
        stop.set()
        load.join(timeout=60)
    assert sandbox.portal.dispatcher.wait_idle(60)  # the app's own writes during the load fire events too
    log = deliveries(sandbox)[start:]
    assert [d for d in log if d["status"] != 200] == []  # no refused, reset or timed-out delivery
    added = {d["event"] for d in log}
    assert {"ONCRMDYNAMICITEMADD", "ONCRMDEALADD"} <= added
    rows = installed.live.rows("SELECT event, object_id FROM inbox WHERE event IN "
                               "('ONCRMDYNAMICITEMADD', 'ONCRMDEALADD')")
    assert sorted(r["object_id"] for r in rows if r["event"] == "ONCRMDYNAMICITEMADD") == sorted(ids)
    assert len([r for r in rows if r["event"] == "ONCRMDEALADD"]) == 60


SENDERS = 300  # deliveries in flight at once
EVENTS = 900


def test_events_delivered_in_parallel_all_land_in_the_inbox(installed, sandbox):
    """A portal's delivery workers POST a big batch's events at the same time: every POST is answered 200
    within the portal's timeouts and every event is in the inbox (none refused at connect, none late)."""
    hook = B24Client.for_webhook(sandbox.webhook_url, installed.live.config)
    hook.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "Deal", "opportunity": 100}})
    assert sandbox.portal.dispatcher.wait_idle(15)
    sample = [d for d in sandbox.portal.deliveries if d["event"] == "ONCRMDEALADD"][-1]["payload"]
    first = 100000

    def deliver(n: int) -> str:
        payload = {**sample, "data": {"FIELDS": {"ID": str(first + n)}}}
        try:
            answer = requests.post(f"{installed.live.url}/events", data=phpquery.encode(payload),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"},
                                   timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as exc:
            return type(exc).__name__
        return str(answer.status_code)

    with ThreadPoolExecutor(SENDERS) as pool:
        answers = list(pool.map(deliver, range(EVENTS)))
    assert {a: answers.count(a) for a in set(answers)} == {"200": EVENTS}
    rows = installed.live.rows("SELECT count(DISTINCT object_id) AS n FROM inbox WHERE event = 'ONCRMDEALADD' "
                               "AND object_id >= ?", [first])
    assert rows[0]["n"] == EVENTS
