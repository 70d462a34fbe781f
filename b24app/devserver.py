"""The werkzeug server of ``b24plans serve``, the demo and the integration tests, with a backlog for event bursts."""

from __future__ import annotations

from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler


class AppServer(ThreadedWSGIServer):
    """werkzeug, one thread per request, with a listen backlog for event bursts. A portal delivers the events
    of one batch (50 changed deals) at once and never retries; with werkzeug's default backlog of 128 a larger
    burst overflowed it and deliveries timed out on connect. Production runs behind a real WSGI server
    (README: gunicorn / waitress)."""

    request_queue_size = 1024  # the kernel caps it at net.core.somaxconn


def app_server(host: str, port: int, app: Any, request_handler: type[WSGIRequestHandler] | None = None
               ) -> AppServer:
    """``werkzeug.serving.make_server(..., threaded=True)`` with the larger backlog (port 0: a free one)."""
    return AppServer(host, port, app, handler=request_handler)
