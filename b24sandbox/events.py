"""Event delivery: real HTTP POSTs from a background thread, form-encoded with PHP brackets.

api-reference/events/index.md: one POST per bound handler, never retried; slow or failing handlers lose the
event. ``drop_events`` / ``delay_events_ms`` faults apply here.
"""

from __future__ import annotations

import logging
import queue
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
    """A single delivery thread with a queue; ``wait_idle()`` lets tests wait for pending POSTs."""

    def __init__(self, faults: Faults, rng: random.Random | None = None):
        self.faults = faults
        self.rng = rng or random.Random()
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=2000)
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-events", daemon=True)
        self._thread.start()

    def submit(self, url: str, payload: dict[str, Any]) -> None:
        self._queue.put((url, payload))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every submitted event has been delivered, dropped or failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._deliver(*job)
            except Exception:  # never let one delivery kill the thread
                log.exception("event delivery crashed")
            finally:
                self._queue.task_done()

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
