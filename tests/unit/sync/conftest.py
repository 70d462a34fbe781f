"""Fixtures for the sync unit tests: an in-memory portal (sync_fakes.FakePortal), a db, an installation."""

from __future__ import annotations

import pytest
from sync_fakes import ETI, FIELD_MAP, STAGE_MAP, FakePortal

from b24app.db import connect
from b24app.installations import Installation, InstallationStore


@pytest.fixture
def portal() -> FakePortal:
    return FakePortal()


@pytest.fixture
def db(app_database):
    database = connect(app_database)
    yield database
    database.close()


@pytest.fixture
def inst(db) -> Installation:
    installation = Installation(member_id="m1", domain="portal.test", client_endpoint="http://portal.test/rest/",
                                access_token="a" * 20, refresh_token="r" * 20, application_token="t" * 20,
                                type_id=7, entity_type_id=ETI, category_id=9, field_map=dict(FIELD_MAP),
                                stage_map=dict(STAGE_MAP))
    return InstallationStore(db).save(installation)
