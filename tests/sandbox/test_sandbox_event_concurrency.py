"""Events are delivered several at a time, as a portal's delivery workers do; ``event_concurrency`` sets how many."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.sandbox.conftest import open_app

HANDLER_SECONDS = 0.3
EVENTS = 8


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:
        pass


@dataclass
class SlowHandler:
    """An event handler that takes a while to answer and records how many deliveries overlap."""

    url: str
    in_flight: int = 0
    most_in_flight: int = 0
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(HANDLER_SECONDS)
        with self.lock:
            self.in_flight -= 1
            self.answered += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def slow() -> Iterator[SlowHandler]:
    handler = SlowHandler("")
    server = make_server("127.0.0.1", 0, handler, threaded=True, request_handler=_Quiet)
    handler.url = f"http://127.0.0.1:{server.server_port}/events"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def burst(sb, handler: SlowHandler) -> float:
    """Bind ONCRMDEALADD to the handler, add EVENTS deals, wait until every POST is answered; seconds taken."""
    session = open_app(sb, ["crm"])
    session.rest.call("event.bind", {"event": "ONCRMDEALADD", "handler": handler.url})
    started = time.monotonic()
    for n in range(EVENTS):
        session.rest.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": f"Deal {n}"}})
    assert sb.portal.dispatcher.wait_idle(30)
    assert handler.answered == EVENTS  # wait_idle returned only once every delivery was answered
    return time.monotonic() - started


def test_deliveries_overlap_up_to_the_default_of_four(sb, slow):
    assert requests.get(sb.url + "/sandbox/faults", timeout=5).json()["event_concurrency"] == 4
    took = burst(sb, slow)
    assert slow.most_in_flight == 4
    assert took < EVENTS * HANDLER_SECONDS * 0.75  # not one after the other
    assert [d["status"] for d in sb.portal.deliveries] == [200] * EVENTS


def test_event_concurrency_set_over_http(sb, slow):
    state = requests.post(sb.url + "/sandbox/faults", json={"event_concurrency": 8}, timeout=5).json()
    assert state["event_concurrency"] == 8
    burst(sb, slow)
    assert slow.most_in_flight == 8
    refused = requests.post(sb.url + "/sandbox/faults", json={"event_concurrency": 0}, timeout=5)
    assert refused.status_code == 400 and "event_concurrency" in refused.json()["error"]


def test_one_at_a_time_keeps_the_order_they_were_fired_in(sb, slow):
    sb.portal.set_faults({"event_concurrency": 1})
    took = burst(sb, slow)
    assert slow.most_in_flight == 1 and took >= EVENTS * HANDLER_SECONDS
    assert [d["payload"]["data"]["FIELDS"]["ID"] for d in sb.portal.deliveries] == [str(n) for n in
                                                                                   range(1, EVENTS + 1)]


def test_raising_the_setting_speeds_up_a_queue_already_waiting(sb, slow):
    sb.portal.set_faults({"event_concurrency": 1})
    session = open_app(sb, ["crm"])
    session.rest.call("event.bind", {"event": "ONCRMDEALADD", "handler": slow.url})
    for n in range(EVENTS):
        session.rest.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": f"Deal {n}"}})
    sb.portal.set_faults({"event_concurrency": 4})
    assert sb.portal.dispatcher.wait_idle(30)
    assert slow.answered == EVENTS and slow.most_in_flight == 4
