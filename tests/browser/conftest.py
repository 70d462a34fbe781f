"""Browser fixtures: Debian's Chromium driven by Playwright (no browser download), the integration fixtures
(sandbox portal, live app, installed app) and the app's inbox worker running in this process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - shared with the shell tests
from tests.integration.conftest import (  # noqa: F401 - fixtures re-used by the browser tests
    installed,
    live_app,
    live_app_config,
    sandbox,
    sandbox_options,
)


@pytest.fixture
def page(chromium) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def shot(page) -> Any:
    """``shot(name)`` saves a full-page screenshot to test-artifacts/ and returns its path."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str, target: Any = None) -> Path:
        path = ARTIFACTS / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def running_worker(installed) -> Iterator[None]:  # noqa: F811
    """The app's inbox worker draining every 0.2 s in this process (as the scheduler does in production)."""
    from b24app.db import connect
    from sync import worker

    config = installed.live.config
    db = connect(config["DATABASE"])
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(config, db, 0.2, stop), name="worker", daemon=True)
    thread.start()
    yield None
    stop.set()
    thread.join(timeout=15)
    db.close()
