"""The sandbox as a Flask app, and ``SandboxServer`` to run it in a background thread (tests, demo, bench).

    with SandboxServer(tmp_path / "portal.db", seed="demo", rate_limit=False) as sb:
        requests.post(sb.webhook_url + "crm.item.list", json={"entityTypeId": 2})
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from b24sandbox.portal import Portal
from b24sandbox.rest_api import bp

log = logging.getLogger(__name__)


def create_sandbox_app(state_path: str | Path | None = None, seed: str = "none", rate_limit: bool = True,
                       token_lifetime: int = 3600, portal: Portal | None = None,
                       base_url: str | None = None) -> Flask:
    """The sandbox Flask app; the portal shell registers itself when ``b24sandbox.shell`` exists."""
    if portal is None:
        if state_path is None:
            raise ValueError("state_path or portal is required")
        portal = Portal(state_path, seed, rate_limit, token_lifetime, base_url or "http://127.0.0.1:5050")
    app = Flask("b24sandbox")
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["b24_sandbox"] = portal
    app.register_blueprint(bp)
    if importlib.util.find_spec("b24sandbox.shell") is not None:
        shell = importlib.import_module("b24sandbox.shell")
        shell.register(app, portal)
    return app


class QuietHandler(WSGIRequestHandler):
    """No access log lines on stderr (tests and benchmarks make thousands of calls)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s", self.requestline, code)


class AccessLogHandler(WSGIRequestHandler):
    """Access log without query strings: ``?auth=`` carries access tokens, which are never logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)


class SandboxServer:
    """A sandbox on a free (or given) port in a daemon thread."""

    def __init__(self, state_path: str | Path, seed: str = "none", rate_limit: bool = True,
                 token_lifetime: int = 3600, host: str = "127.0.0.1", port: int = 0, **portal_kw: Any):
        self.portal = Portal(state_path, seed, rate_limit, token_lifetime, **portal_kw)
        self.app = create_sandbox_app(portal=self.portal)
        self._server = make_server(host, port, self.app, threaded=True, request_handler=QuietHandler)
        self.host, self.port = host, self._server.server_port
        self.portal.base_url = self.url
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/rest/1/sandbox/"

    @property
    def rest_url(self) -> str:
        return f"{self.url}/rest/"

    @property
    def oauth_url(self) -> str:
        return f"{self.url}/oauth/token/"

    def start(self) -> SandboxServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="sandbox-http", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self.portal.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
