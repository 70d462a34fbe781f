"""The client against the sandbox portal over real HTTP: wire compatibility, refresh, injected faults."""

from __future__ import annotations

import pytest

from b24app import db as appdb
from b24app.installations import Installation, InstallationStore
from b24app.rest import B24Client

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox(tmp_path):
    server_module = pytest.importorskip("b24sandbox.server")
    with server_module.SandboxServer(tmp_path / "portal.db", seed="demo", rate_limit=True) as server:
        yield server


@pytest.fixture
def oauth_client(sandbox, tmp_path):
    """An installation whose stored tokens came from the sandbox, like after the install page."""
    app = sandbox.portal.register_app("http://127.0.0.1:9/", "http://127.0.0.1:9/install", ["crm"], "Planes")
    form = sandbox.portal.frame_fields(app["client_id"]).form
    config = {"DATABASE": str(tmp_path / "app.db"), "CLIENT_ID": app["client_id"],
              "CLIENT_SECRET": app["client_secret"], "OAUTH_URL": sandbox.oauth_url}
    database = appdb.connect(config["DATABASE"])
    store = InstallationStore(database)
    store.save(Installation(member_id=form["member_id"], domain="127.0.0.1", client_endpoint=sandbox.url + "/rest/",
                            access_token=form["AUTH_ID"], refresh_token=form["REFRESH_ID"]))
    client = B24Client.for_installation(form["member_id"], config)
    yield client, store, form
    client.close()
    database.close()


def naive_ids(client, entity_type_id):
    ids, start = [], 0
    while True:
        answer = client.call_raw("crm.item.list", {"entityTypeId": entity_type_id, "select": ["id"], "start": start,
                                                   "order": {"id": "ASC"}})
        ids += [row["id"] for row in answer.result["items"]]
        if answer.next is None:
            return ids
        start = answer.next


def test_fast_listing_matches_offset_paging(sandbox, tmp_path):
    client = B24Client.for_webhook(sandbox.webhook_url, {"DATABASE": str(tmp_path / "hook.db")})
    fast = client.list_all("crm.item.list", {"entityTypeId": 2, "select": ["id", "title"]})
    assert fast and [row["id"] for row in fast] == naive_ids(client, 2)
    deals = client.list_all("crm.deal.list", {"select": ["ID", "TITLE"]})
    assert [int(d["ID"]) for d in deals] == [row["id"] for row in fast]
    some = [row["id"] for row in fast][:5]
    assert [row["id"] for row in client.get_many(2, some, select=["title"])] == some
    result = client.batch({"first": ("crm.item.list", {"entityTypeId": 2, "select": ["id"], "start": -1,
                                                       "order": {"id": "ASC"}}),
                           "again": ("crm.item.get", {"entityTypeId": 2, "id": "$result[first][items][0][id]"}),
                           "missing": ("crm.item.get", {"entityTypeId": 2, "id": 987654})})
    assert result.result["again"]["item"]["id"] == some[0]
    assert result.errors["missing"].code == "NOT_FOUND"
    client.close()


def test_expired_tokens_are_refreshed_through_the_oauth_stand_in(sandbox, oauth_client):
    client, store, form = oauth_client
    assert client.call("profile")["ID"] == "1"
    sandbox.portal.set_faults({"expire_tokens": True})
    assert client.call("profile")["ID"] == "1"
    saved = store.find(form["member_id"])
    assert saved.access_token != form["AUTH_ID"] and saved.refresh_token != form["REFRESH_ID"]


def test_injected_503_and_500_are_retried_for_reads(sandbox, oauth_client):
    client, _store, _form = oauth_client
    sandbox.portal.set_faults({"rest_error_rate": 0.3, "rest_error_kind": "mixed"})
    client.sleep = lambda _seconds: None  # the backoff itself is tested elsewhere
    for _ in range(30):
        assert client.call("crm.item.list", {"entityTypeId": 2, "select": ["id"], "start": -1})["items"]
