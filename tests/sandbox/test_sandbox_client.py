"""The project's own REST client (b24app.rest) against the sandbox: the wire format is what a client expects."""

from __future__ import annotations

import pytest

from b24app.rest import B24Client


@pytest.fixture
def client(sb, tmp_path):
    with B24Client.for_webhook(sb.webhook_url, {"DATABASE": str(tmp_path / "client.db")}) as rest:
        yield rest


def test_list_all_fast_mode_and_get_many_read_120_items(hook, client):
    for start in range(0, 120, 40):
        hook.call("batch", {"cmd": {f"a{n}": f"crm.item.add?entityTypeId=2&fields[title]=D{n}"
                                    for n in range(start, start + 40)}})
    rows = client.list_all("crm.item.list", {"entityTypeId": 2, "select": ["id", "title"]})
    assert [r["id"] for r in rows] == list(range(1, 121))
    legacy = client.list_all("crm.deal.list", {"select": ["ID"]})
    assert [int(r["ID"]) for r in legacy] == list(range(1, 121))
    some = client.get_many(2, [5, 77, 119], select=["id", "title"])
    assert sorted(r["id"] for r in some) == [5, 77, 119]


def test_batch_and_errors_through_the_client(hook, client):
    hook.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "one"}})
    result = client.batch({"ok": ("crm.item.get", {"entityTypeId": 2, "id": 1}),
                           "missing": ("crm.item.get", {"entityTypeId": 2, "id": 9})})
    assert result.result["ok"]["item"]["title"] == "one"
    assert result.errors["missing"].code == "NOT_FOUND"
    with pytest.raises(Exception) as caught:
        client.call("crm.item.frobnicate", {})
    assert getattr(caught.value, "code", None) == "ERROR_METHOD_NOT_FOUND"
