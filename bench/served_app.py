"""The app as ``waitress-serve --call served_app:create`` runs it in the burst benchmark: ``create_app()`` with
each ``/events`` request's time in the server appended to the file named by ``BENCH_EVENTS_LOG``."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from b24app import create_app


def create() -> Any:
    app = create_app()
    out = open(os.environ["BENCH_EVENTS_LOG"], "a", buffering=1)  # noqa: SIM115 - open while the app serves
    lock = threading.Lock()
    inner = app.wsgi_app

    def timed(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/events":
            return inner(environ, start_response)
        began = time.perf_counter()
        try:
            return list(inner(environ, start_response))
        finally:
            with lock:
                out.write(f"{time.perf_counter() - began:.6f}\n")

    app.wsgi_app = timed  # type: ignore[method-assign]
    return app
