"""Fixtures for the REST client tests: a tmp_path database, an installed portal, a fake clock."""

from __future__ import annotations

import pytest
import responses

from b24app import db as appdb
from b24app.installations import Installation, InstallationStore

ENDPOINT = "https://portal.example/rest/"
OAUTH_URL = "https://oauth.example/oauth/token/"
ACCESS = "access-token-AAAA1111"
REFRESH = "refresh-token-RRRR1111"
APP_TOKEN = "application-token-XXXX"
SECRET = "client-secret-SSSS"
MEMBER = "member-0001"


class FakeClock:
    """Time that only moves when the client sleeps."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def config(app_database):
    """SQLite; the limiter's and the refresh's modules run on both engines (they override ``app_database``)."""
    return {"DATABASE": app_database, "CLIENT_ID": "local.test.app", "CLIENT_SECRET": SECRET,
            "OAUTH_URL": OAUTH_URL, "RATE_BURST": 40, "RATE_PER_SECOND": 2.0, "OPERATING_LIMIT": 480.0,
            "HTTP_CONNECT_TIMEOUT": 5.0, "HTTP_READ_TIMEOUT": 70.0, "MAX_RETRIES": 8}


@pytest.fixture
def store(config):
    database = appdb.connect(config["DATABASE"])
    yield InstallationStore(database)
    database.close()


@pytest.fixture
def installation(store):
    return store.save(Installation(member_id=MEMBER, domain="portal.example", client_endpoint=ENDPOINT,
                                   access_token=ACCESS, refresh_token=REFRESH, expires_at=1_800_003_600,
                                   application_token=APP_TOKEN, entity_type_id=1030))


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_client(config, installation, clock):
    """An OAuth client for the installed portal whose sleeps advance the fake clock."""
    from b24app.rest import B24Client

    clients = []

    def make(**overrides):
        kwargs = {"sleep": clock.sleep, "clock": clock, "rnd": lambda: 0.5, **overrides}
        client = B24Client.for_installation(MEMBER, config, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(autouse=True)
def _forget_list_counts():
    """list_all remembers previous runs' counts per portal; tests start without that memory."""
    from b24app.rest import listing

    listing._last_counts.clear()
    yield
    listing._last_counts.clear()
