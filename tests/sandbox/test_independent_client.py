"""An independent Bitrix24 client (fast-bitrix24 from PyPI, not written here) drives the sandbox through its
webhook and gets what a real portal gives it: UPPER_CASE names in ``filter``, ``order`` and ``select`` find the
same rows as camelCase ones, also when the library pages through ``batch`` on its own (it sends its own
``order: {"ID": "ASC"}`` and PHP-bracket sub-commands)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fast_bitrix24 import Bitrix

from b24sandbox.server import SandboxServer
from tests.sandbox.conftest import Rest

pytestmark = pytest.mark.integration

STAGES = ("NEW", "PREPARATION", "EXECUTING", "WON", "LOSE")


@pytest.fixture
def portal(tmp_path) -> Iterator[SandboxServer]:
    """The demo portal with 60 more deals, so that lists run over more than one page."""
    with SandboxServer(tmp_path / "portal.db", seed="demo", rate_limit=False) as server:
        Rest(server.webhook_url).call("batch", {"cmd": {
            f"d{n}": f"crm.item.add?entityTypeId=2&fields[title]=Deal+{n}&fields[stageId]={STAGES[n % 5]}"
                     f"&fields[opportunity]={100 * (n % 17)}&fields[assignedById]={1 + n % 4}"
            for n in range(50)}})
        Rest(server.webhook_url).call("batch", {"cmd": {
            f"d{n}": f"crm.item.add?entityTypeId=2&fields[title]=Deal+{n}&fields[stageId]=NEW"
                     f"&fields[opportunity]={100 * n}" for n in range(50, 60)}})
        yield server


class Client:
    """fast-bitrix24's synchronous client, each call made from a thread of its own. The library runs an asyncio
    loop for every call unless the calling thread has one running, in which case it hands back a task instead
    of the answer; the browser tests' Playwright keeps such a loop in the main thread for the whole session."""

    def __init__(self, webhook: str):
        self.bitrix = Bitrix(webhook, verbose=False)

    def get_all(self, method: str, params: dict[str, Any]) -> Any:
        return self._in_thread(self.bitrix.get_all, method, params)

    def call(self, method: str, params: dict[str, Any], raw: bool = False) -> Any:
        return self._in_thread(self.bitrix.call, method, params, raw=raw)

    @staticmethod
    def _in_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(function, *args, **kwargs).result(timeout=60)


@pytest.fixture
def client(portal) -> Client:
    return Client(portal.webhook_url)


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The library merges its pages in no particular order."""
    return sorted(rows, key=lambda row: int(row["id"]))


def every_row(portal: SandboxServer, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The same list in camelCase through plain JSON calls, page by page (the expected answer)."""
    rest, rows, start = Rest(portal.webhook_url), [], 0
    while start is not None:
        page = rest.call("crm.item.list", {"entityTypeId": 2, **params, "start": start})
        rows += page["result"]["items"]
        start = page.get("next")
    return rows


@pytest.mark.parametrize(("upper", "camel"), [
    ({"=STAGE_ID": "NEW"}, {"=stageId": "NEW"}),
    ({"STAGE_SEMANTIC_ID": "P"}, {"stageSemanticId": "P"}),
    ({">=OPPORTUNITY": 800, "@ASSIGNED_BY_ID": [2, 3]}, {">=opportunity": 800, "@assignedById": [2, 3]}),
    ({"!STAGE_ID": "LOSE", "%TITLE": "deal"}, {"!stageId": "LOSE", "%title": "deal"}),
])
def test_get_all_with_upper_case_filter_and_select(client, portal, upper, camel):
    rows = by_id(client.get_all("crm.item.list", {"entityTypeId": 2, "filter": upper, "select": ["ID", "TITLE"]}))
    expected = every_row(portal, {"filter": camel, "select": ["id", "title"], "order": {"id": "ASC"}})
    assert rows == expected
    assert 0 < len(rows) < len(every_row(portal, {"select": ["id"]}))  # the filter filters
    assert all(set(row) == {"id", "title"} for row in rows)             # answers stay camelCase


def test_get_all_pages_through_batch_with_its_own_upper_case_order(client, portal):
    rows = by_id(client.get_all("crm.item.list", {"entityTypeId": 2, "select": ["ID", "STAGE_ID", "OPPORTUNITY"]}))
    assert len(rows) == 84 and len({r["id"] for r in rows}) == 84
    assert rows == every_row(portal, {"select": ["id", "stageId", "opportunity"], "order": {"id": "ASC"}})
    many = client.get_all("crm.item.list", {"entityTypeId": 2, "filter": {"STAGE_SEMANTIC_ID": "P"},
                                            "select": ["ID"]})
    assert len(many) > 50  # more than one page: the library fetched the rest through batch


@pytest.mark.parametrize(("upper", "camel"), [
    ({"ID": "DESC"}, {"id": "DESC"}),
    ({"OPPORTUNITY": "DESC", "ID": "ASC"}, {"opportunity": "DESC", "id": "ASC"}),
    ({"ASSIGNED_BY_ID": "ASC", "STAGE_ID": "DESC", "ID": "DESC"}, {"assignedById": "ASC", "stageId": "DESC",
                                                                  "id": "DESC"}),
])
def test_call_with_upper_case_order(client, portal, upper, camel):
    answer = client.call("crm.item.list", {"entityTypeId": 2, "order": upper, "select": ["ID", "TITLE"],
                                           "filter": {">=ID": 10}}, raw=True)
    assert "error" not in answer, answer
    expected = Rest(portal.webhook_url).call("crm.item.list", {"entityTypeId": 2, "order": camel,
                                                               "select": ["id", "title"], "filter": {">=id": 10}})
    assert answer["result"]["items"] == expected["result"]["items"] and len(answer["result"]["items"]) == 50
    assert answer["total"] == expected["total"] == 75 and answer["next"] == 50
