"""Shared fixtures: the app factory on a tmp_path database (never a shared on-disk test DB)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from pgcluster import Cluster, Unavailable

from b24app import create_app, storage

# Property tests check behaviour, not speed: no deadlines or too-slow checks on a busy 2-core machine.
settings.register_profile("b24plans", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("b24plans")


@pytest.fixture
def app(app_database):
    app = create_app({"ENV": "test", "TESTING": True, "DATABASE": app_database,
                      "SECRET_KEY": "test-secret-key", "CLIENT_ID": "local.test.app",
                      "CLIENT_SECRET": "test-client-secret", "PUBLIC_URL": "http://127.0.0.1:5000",
                      "SCHEDULER": False})
    yield app


# --- the two storage engines ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL server for the session (tests/pgcluster.py); skipped with one line if none can run."""
    try:
        cluster = Cluster().start()
    except Unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        storage.close_pools()
        cluster.stop()


@pytest.fixture(params=[storage.SQLITE, storage.POSTGRESQL])
def database(request, tmp_path) -> Iterator[str]:
    """``B24_DATABASE`` for a test that runs on both engines: a SQLite file in tmp_path, or a fresh database on
    the session's PostgreSQL server (dropped afterwards)."""
    yield from _database_on(request.param, request, tmp_path)


def _database_on(engine: str, request, tmp_path) -> Iterator[str]:
    """A SQLite file in tmp_path, or a fresh database on the session's PostgreSQL server (dropped afterwards)."""
    if engine == storage.SQLITE:
        yield str(tmp_path / "app.db")
        return
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    try:
        yield url
    finally:
        storage.close_pools()
        cluster.drop_database(url)


#: ``B24PLANS_TEST_ENGINE=postgresql``: the fixtures below put every test that uses them on PostgreSQL (a whole
#: run on the other engine, e.g. ``B24PLANS_TEST_ENGINE=postgresql .venv/bin/python -m pytest tests/integration``).
TEST_ENGINE = os.environ.get("B24PLANS_TEST_ENGINE", storage.SQLITE)


def pytest_collection_modifyitems(config, items):
    if TEST_ENGINE != storage.POSTGRESQL:
        return
    skip = pytest.mark.skip(reason="checks SQLite's own mechanics: not run under B24PLANS_TEST_ENGINE=postgresql")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def app_database(request, tmp_path) -> Iterator[str]:
    """The database of the fixtures most tests use (``app``, the live app, the sync tests' ``db``): SQLite, or
    PostgreSQL under ``B24PLANS_TEST_ENGINE=postgresql``. A module whose tests run on both engines in every run
    overrides it with ``database`` (see tests/unit/rest/test_rest_limiter.py)."""
    yield from _database_on(storage.POSTGRESQL if TEST_ENGINE == storage.POSTGRESQL else storage.SQLITE, request,
                            tmp_path)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- headless Chromium (Debian's package, driven by Playwright; Playwright downloads no browser) -------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One browser for the whole session: Playwright's sync API allows one running instance per thread."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests need Debian's Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
