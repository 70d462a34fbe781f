"""Several real processes against a local stub portal: one refresh for all, no rate-limit errors."""

from __future__ import annotations

import multiprocessing
import traceback

import pytest
from conftest import MEMBER
from stubserver import StubPortal

from b24app import db as appdb
from b24app.installations import Installation, InstallationStore
from b24app.rest import B24Client

CTX = multiprocessing.get_context("fork")


def _refresh_worker(config, barrier, results):
    try:
        client = B24Client.for_installation(MEMBER, config)
        barrier.wait(10)
        results.put(("ok", client.call("profile")))
    except BaseException:  # noqa: BLE001 - report anything to the parent
        results.put(("error", traceback.format_exc()))


def _calls_worker(config, url, count, results):
    try:
        client = B24Client.for_webhook(url, config)
        done = 0
        for _ in range(count):
            client.call("profile")
            done += 1
        results.put(("ok", done))
    except BaseException:  # noqa: BLE001
        results.put(("error", traceback.format_exc()))


def _run(workers, results, timeout):
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=timeout) for _ in workers]
    for worker in workers:
        worker.join(10)
    return outcomes


@pytest.mark.timeout(120)
def test_processes_refreshing_at_once_refresh_once(config):
    with StubPortal(access="access-current-0000", refresh="refresh-old-0000", refresh_delay=0.5,
                    member_id=MEMBER) as stub:
        config["OAUTH_URL"] = stub.base + "/oauth/token/"
        database = appdb.connect(config["DATABASE"])
        store = InstallationStore(database)
        store.save(Installation(member_id=MEMBER, domain="127.0.0.1", client_endpoint=stub.base + "/rest/",
                                access_token="access-old-0000", refresh_token="refresh-old-0000"))
        results = CTX.Queue()
        barrier = CTX.Barrier(3)
        workers = [CTX.Process(target=_refresh_worker, args=(config, barrier, results)) for _ in range(3)]
        outcomes = _run(workers, results, timeout=60)
        assert [o for o in outcomes if o[0] != "ok"] == []
        assert [o[1] for o in outcomes] == [{"ID": "1"}] * 3
        assert stub.refreshes == 1
        saved = store.find(MEMBER)
        assert (saved.access_token, saved.refresh_token) == ("access-rotated-0001", "refresh-rotated-0001")
        database.close()


@pytest.mark.timeout(400)
def test_300_calls_from_3_processes_meet_no_rate_limit(config):
    """50-request burst draining at 2/s on the stub; the shared bucket (40 at 2/s) keeps every process
    under it. About 130 s of wall time by nature (260 calls beyond the burst at 2/s); nothing is timed."""
    with StubPortal(burst=50, per_second=2.0) as stub:
        results = CTX.Queue()
        url = stub.base + "/rest/1/hook/"
        workers = [CTX.Process(target=_calls_worker, args=(config, url, 100, results)) for _ in range(3)]
        outcomes = _run(workers, results, timeout=380)
        assert [o for o in outcomes if o[0] != "ok"] == []
        assert sum(o[1] for o in outcomes) == 300
        assert stub.accepted == 300
        assert stub.rejected == 0
