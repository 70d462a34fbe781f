"""Event delivery: real HTTP POSTs from background threads, several in flight at once, form-encoded as PHP does.

api-reference/events/index.md: one POST per bound handler, never retried; slow or failing handlers lose the
event. A portal's delivery workers send the events of one burst at the same time, so up to
``event_concurrency`` POSTs are in flight (1: one after the other, in the order they were fired).
``drop_events`` / ``delay_events_ms`` faults apply to each delivery.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from typing import Any

import requests

from b24sandbox.faults import Faults
from b24sandbox.phpform import http_build_query

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0


class EventDispatcher:
    """A queue of deliveries and up to ``faults.event_concurrency`` threads taking from it (the setting may
    change at run time); ``wait_idle()`` lets tests wait for pending POSTs."""

    def __init__(self, faults: Faults, rng: random.Random | None = None):
        self.faults = faults
        self.rng = rng or random.Random()
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=2000)
        self._pending: deque[tuple[str, dict[str, Any]]] = deque()
        self._changed = threading.Condition()
        self._unfinished = 0  # queued or being delivered
        self._sending = 0
        self._workers: list[threading.Thread] = []
        self._stopping = False

    def submit(self, url: str, payload: dict[str, Any]) -> None:
        with self._changed:
            self._pending.append((url, payload))
            self._unfinished += 1
            self._grow()
            self._changed.notify_all()

    def _grow(self) -> None:
        """One more delivery thread while there is work and fewer threads than the setting (call locked)."""
        if self._pending and len(self._workers) < max(1, self.faults.event_concurrency) and not self._stopping:
            worker = threading.Thread(target=self._run, name=f"sandbox-events-{len(self._workers) + 1}",
                                      daemon=True)
            self._workers.append(worker)
            worker.start()

    def wake(self) -> None:
        """The faults changed: take up a raised ``event_concurrency`` at once."""
        with self._changed:
            self._grow()
            self._changed.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every submitted event has been delivered, dropped or failed."""
        with self._changed:
            return self._changed.wait_for(lambda: self._unfinished == 0, timeout)

    def stop(self) -> None:
        """Deliver what is queued (up to 5 s), then end the threads."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            workers = list(self._workers)
        deadline = time.monotonic() + 5
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def _next(self) -> tuple[str, dict[str, Any]] | None:
        with self._changed:
            while not (self._pending and self._sending < max(1, self.faults.event_concurrency)):
                if self._stopping and not self._pending:
                    return None
                self._changed.wait(0.5)  # also wakes up when event_concurrency was raised
            self._sending += 1
            job = self._pending.popleft()
            self._grow()  # the setting may have been raised since the last submit
            return job

    def _run(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._deliver(*job)
            except Exception:  # never let one delivery kill the thread
                log.exception("event delivery crashed")
            finally:
                with self._changed:
                    self._sending -= 1
                    self._unfinished -= 1
                    self._changed.notify_all()

    def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        record: dict[str, Any] = {"event": payload.get("event"), "handler": url, "at": time.time(),
                                  "status": None, "error": None, "payload": payload}
        self.deliveries.append(record)
        if self.faults.drop_events and self.rng.random() < self.faults.drop_events:
            record["error"] = "dropped (fault)"
            return
        if self.faults.delay_events_ms:
            time.sleep(self.faults.delay_events_ms / 1000)
        body = http_build_query(payload)
        try:
            response = requests.post(
                url, data=body, allow_redirects=False, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "User-Agent": "Bitrix24 Webhook Engine"},
            )
            record["status"] = response.status_code
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
            log.info("event %s to %s failed: %s (not retried)", payload.get("event"), url, type(exc).__name__)
