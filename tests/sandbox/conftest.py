"""Fixtures for the sandbox portal's own tests: a SandboxServer over real HTTP, REST helpers, an event sink."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from b24app import phpquery
from b24sandbox.server import SandboxServer


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:
        pass


@pytest.fixture
def sb(tmp_path) -> Iterator[SandboxServer]:
    """An empty portal (standard pipeline, currencies, users), rate limit off."""
    with SandboxServer(tmp_path / "portal.db", seed="none", rate_limit=False) as server:
        yield server


@dataclass
class Rest:
    """Calls one sandbox over HTTP, either as a webhook or with an app's access token."""

    base: str
    token: str | None = None

    def raw(self, method: str, params: dict[str, Any] | None = None) -> requests.Response:
        body = dict(params or {})
        if self.token is not None:
            body["auth"] = self.token
        return requests.post(self.base + method, json=body, timeout=10)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.raw(method, params)
        assert response.status_code == 200, (method, response.status_code, response.text[:300])
        body = response.json()
        assert "error" not in body, body
        return body

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.call(method, params)["result"]


@pytest.fixture
def hook(sb) -> Rest:
    """The always-open inbound webhook of user 1."""
    return Rest(sb.webhook_url)


@dataclass
class AppSession:
    app: dict[str, Any]
    frame: Any
    rest: Rest


def open_app(sb: SandboxServer, scopes: list[str], user_id: int = 1, finish: bool = True,
             handler: str = "http://127.0.0.1:9/app") -> AppSession:
    """Register a local app, open it for ``user_id`` (admin: the install page) and optionally finish install."""
    app = sb.portal.register_app(handler, handler + "/install", scopes, "Planes de ventas")
    frame = sb.portal.frame_fields(app["client_id"], 1)
    if finish:
        sb.portal.finish_install(app["client_id"])
    if user_id != 1:
        frame = sb.portal.frame_fields(app["client_id"], user_id)
    return AppSession(sb.portal.app(app["client_id"]), frame, Rest(sb.rest_url, frame.form["AUTH_ID"]))


@pytest.fixture
def app_session(sb) -> AppSession:
    return open_app(sb, ["crm", "placement", "userfieldconfig", "user_brief", "im"])


@dataclass
class Sink:
    """A local HTTP server that records every POST (raw body and decoded PHP-bracket form)."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    event: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self.event:
            self.event.wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)


@pytest.fixture
def sink() -> Iterator[Sink]:
    holder: dict[str, Sink] = {}

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode()
        record = {"path": environ["PATH_INFO"], "content_type": environ.get("CONTENT_TYPE", ""), "body": body,
                  "form": phpquery.decode(body)}
        target = holder["sink"]
        with target.event:
            target.received.append(record)
            target.event.notify_all()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = make_server("127.0.0.1", 0, wsgi, threaded=True, request_handler=_Quiet)
    holder["sink"] = Sink(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield holder["sink"]
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
