"""Shared integration fixtures: a running sandbox portal, the app served over real HTTP, the app installed.

- ``sandbox``: a ``SandboxServer`` on a free port (fresh state file per test, rate limit off). Override the
  ``sandbox_options`` fixture to change ``seed`` / ``rate_limit`` (default: ``seed="demo"``).
- ``live_app``: the Flask app served by werkzeug in a thread on a free port, registered in the sandbox as a
  local app (handler ``/``, install ``/install``); ``PUBLIC_URL`` is its URL and ``OAUTH_URL`` the sandbox's
  ``/oauth/token/``. Override ``live_app_config`` to add settings (e.g. ``{"SCHEDULER": True}``).
- ``installed``: ``live_app`` after the sandbox opened it the first time the way Bitrix24 does (POST of
  the install page, which must call ``BX24.installFinish()``), i.e. provisioned and receiving events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer

from b24app import create_app
from b24app.db import connect
from b24app.devserver import app_server
from b24app.installations import Installation, InstallationStore
from b24app.storage import Store


def _sandbox_server() -> Any:
    try:
        from b24sandbox.server import SandboxServer
    except ImportError:  # pragma: no cover - only while the sandbox is being written
        pytest.skip("b24sandbox.server is not available")
    return SandboxServer


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """Keyword arguments for ``SandboxServer`` (override in a test module to change them)."""
    return {"seed": "demo", "rate_limit": False}


@pytest.fixture
def sandbox(tmp_path, sandbox_options) -> Iterator[Any]:
    """A sandbox portal over HTTP on a free port: ``.url``, ``.webhook_url``, ``.oauth_url``, ``.portal``."""
    server_class = _sandbox_server()
    with server_class(tmp_path / "portal.db", **sandbox_options) as server:
        yield server


class _Dispatch:
    """The WSGI callable the server starts with; the Flask app is plugged in once its URL is known."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class LiveApp:
    url: str
    app: Any  # the Flask app
    client_id: str
    client_secret: str = field(repr=False)
    sandbox: Any = field(repr=False)
    server: BaseWSGIServer = field(repr=False)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.app.config)

    def db(self) -> Store:
        """A new connection to the app's database (close it, or let the test end)."""
        return connect(self.app.config["DATABASE"])

    def installation(self) -> Installation | None:
        db = self.db()
        try:
            found = InstallationStore(db).find(self.sandbox.portal.member_id)
        finally:
            db.close()
        return found

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        db = self.db()
        try:
            return list(db.query(sql, params or []))
        finally:
            db.close()


@pytest.fixture
def live_app_config() -> dict[str, Any]:
    """Extra settings for the live app (override to change them)."""
    return {}


@pytest.fixture
def live_app(sandbox, app_database, live_app_config) -> Iterator[LiveApp]:
    dispatch = _Dispatch()
    server = app_server("127.0.0.1", 0, dispatch)  # werkzeug, threaded, with a backlog for event bursts
    url = f"http://127.0.0.1:{server.server_port}"
    registered = sandbox.portal.register_app(handler_url=url + "/", install_url=url + "/install",
                                             scopes=["crm", "placement", "userfieldconfig", "user_brief", "im"],
                                             title="Planes de ventas")
    config = {"ENV": "test", "TESTING": True, "DATABASE": app_database,
              "SECRET_KEY": "integration-secret-key", "CLIENT_ID": registered["client_id"],
              "CLIENT_SECRET": registered["client_secret"], "PUBLIC_URL": url, "OAUTH_URL": sandbox.oauth_url,
              "BX24_JS_URL": sandbox.url + "/bx24.js", "SCHEDULER": False, **live_app_config}
    dispatch.app = create_app(config)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    try:
        yield LiveApp(url, dispatch.app, registered["client_id"], registered["client_secret"], sandbox, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Installed:
    live: LiveApp
    result: Any  # b24sandbox.installer.InstallResult
    member_id: str

    @property
    def installation(self) -> Installation:
        inst = self.live.installation()
        assert inst is not None
        return inst


@pytest.fixture
def installed(live_app, sandbox) -> Installed:
    """The app installed into the sandbox like a first opening by the admin (user 1), Spanish UI."""
    from b24sandbox.installer import install_app

    result = install_app(sandbox.portal, live_app.client_id, user_id=1, lang="la")
    assert result.installed, result
    return Installed(live_app, result, sandbox.portal.member_id)


@pytest.fixture
def user(installed, sandbox) -> Any:
    """A person's script against the installed portal (``test_worker.User``): the webhook only."""
    from test_worker import User

    from b24app.rest import B24Client

    inst = installed.installation
    assert inst.is_provisioned
    return User(B24Client.for_webhook(sandbox.webhook_url, installed.live.config), int(inst.entity_type_id),
                dict(inst.field_map))
