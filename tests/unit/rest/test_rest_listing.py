"""Fast list reading against a fake batch endpoint that really evaluates ``$result[...]`` and ``>id``."""

from __future__ import annotations

import random

import pytest
from conftest import ENDPOINT
from fakeportal import FakePortal

from b24app.rest import listing


def items(ids, **extra):
    return [{"id": i, "title": f"Plan {i}", "stageId": "DT1030_5:NEW" if i % 3 else "DT1030_5:SUCCESS", **extra}
            for i in ids]


def read(client, portal, **kwargs):
    params = {"entityTypeId": 1030, "select": ["id", "title"], **kwargs.pop("params", {})}
    return client.list_all("crm.item.list", params, **kwargs)


def test_ten_thousand_rows_cost_at_most_five_http_calls(rsps, make_client):
    portal = FakePortal(rsps, ENDPOINT, items=items(range(1, 10_001)))
    rows = read(make_client(), portal)
    assert [r["id"] for r in rows] == list(range(1, 10_001))
    assert portal.http_calls <= 5
    assert all(method == "batch" for method, _ in portal.requests)


def test_ten_thousand_sparse_rows_with_an_estimate(rsps, make_client):
    ids = sorted(random.Random(7).sample(range(1, 60_000), 10_000))
    portal = FakePortal(rsps, ENDPOINT, items=items(ids))
    rows = read(make_client(), portal, estimate=10_000)
    assert [r["id"] for r in rows] == ids
    assert portal.http_calls <= 5


def test_sparse_rows_without_an_estimate_are_complete(rsps, make_client):
    rng = random.Random(11)
    ids = sorted(rng.sample(range(1, 5_000), 900) + rng.sample(range(50_000, 51_000), 600))
    portal = FakePortal(rsps, ENDPOINT, items=items(ids))
    rows = read(make_client(), portal)
    assert [r["id"] for r in rows] == ids
    assert portal.http_calls <= 8  # uneven ids make the estimate worse, never the result


@pytest.mark.parametrize("count,calls", [(0, 1), (1, 1), (49, 1), (50, 2), (51, 2), (120, 2), (2_549, 2), (2_550, 3)])
def test_small_sets_spend_few_calls(rsps, make_client, count, calls):
    portal = FakePortal(rsps, ENDPOINT, items=items(range(1, count + 1)))
    rows = read(make_client(), portal)
    assert len(rows) == count
    assert portal.http_calls == calls
    pages_needed = count // 50 + 1
    assert portal.list_calls <= pages_needed + 3  # page reads plus the one id probe; no long empty chains


def test_previous_count_sizes_the_next_run(rsps, make_client):
    portal = FakePortal(rsps, ENDPOINT, items=items(range(1, 3_001)))
    client = make_client()
    read(client, portal)
    first_run = portal.http_calls
    read(client, portal)
    second_run = portal.http_calls - first_run
    assert second_run <= 2
    assert "top" not in portal.requests[first_run][1]["cmd"]  # no probe needed the second time


def test_filter_select_and_existing_cursor_are_kept(rsps, make_client):
    portal = FakePortal(rsps, ENDPOINT, items=items(range(1, 400)))
    rows = read(make_client(), portal, params={"filter": {"stageId": "DT1030_5:SUCCESS", ">id": 100},
                                               "select": ["title"]})
    assert [r["id"] for r in rows] == [i for i in range(101, 400) if i % 3 == 0]
    first = portal.requests[0][1]["cmd"]["p0"]
    assert "select[0]=id" in first and "filter[%3Eid]=100" in first and "start=-1" in first
    assert "order[id]=ASC" in first


def test_deal_list_style_rows_and_upper_case_id(rsps, make_client):
    deals = [{"ID": str(i), "OPPORTUNITY": "10.00", "STAGE_SEMANTIC_ID": "S"} for i in range(1, 3_001)]
    portal = FakePortal(rsps, ENDPOINT, deals=deals)
    rows = make_client().list_all("crm.deal.list", {"filter": {"STAGE_SEMANTIC_ID": "S"}, "select": ["ID"]})
    assert [r["ID"] for r in rows] == [str(i) for i in range(1, 3_001)]
    assert portal.http_calls <= 3
    chained = portal.requests[1][1]["cmd"]["p1"]
    assert "filter[%3EID]=$result[p0][49][ID]" in chained


def test_chained_reference_for_items(rsps, make_client):
    portal = FakePortal(rsps, ENDPOINT, items=items(range(1, 1_000)))
    read(make_client(), portal)
    assert "filter[%3Eid]=$result[p0][items][49][id]" in portal.requests[1][1]["cmd"]["p1"]


def test_get_many_by_id(rsps, make_client):
    portal = FakePortal(rsps, ENDPOINT, items=items(range(1, 200)))
    wanted = [150, 3, 3, 999, 77] + list(range(10, 110))
    rows = make_client().get_many(1030, wanted, select=["title"])
    expected = [150, 3, 77] + [i for i in range(10, 110) if i not in (77,)]
    assert [r["id"] for r in rows] == list(dict.fromkeys(expected))
    assert portal.http_calls == 1
    cmd = portal.requests[0][1]["cmd"]
    assert len(cmd) == 3 and "filter[%40id][0]=150" in cmd["g0"] and "select[0]=id" in cmd["g0"]


def test_get_many_chunks_batches(rsps, make_client):
    portal = FakePortal(rsps, ENDPOINT, items=items(range(1, 3_001)))
    rows = make_client().get_many(1030, range(1, 2_600))
    assert len(rows) == 2_599 and portal.http_calls == 2  # 52 sub-commands: 50 + 2


@pytest.mark.parametrize("plan,expected", [
    (listing.ChainPlan(rows=50, first_id=1, last_id=50, max_id=10_000, top_density=1.0), 50),
    (listing.ChainPlan(rows=50, first_id=1, last_id=50, max_id=300, top_density=1.0), 6),
    (listing.ChainPlan(rows=50, first_id=1, last_id=50, max_id=50), 1),
    (listing.ChainPlan(rows=50, first_id=1, last_id=100, max_id=600, top_density=0.5), 6),
    (listing.ChainPlan(rows=0, expected=120), 4),
    (listing.ChainPlan(rows=0, expected=0), 1),
    (listing.ChainPlan(rows=2_500, expected=2_500), 1),
    (listing.ChainPlan(rows=2_500, expected=10_000), 50),
    (listing.ChainPlan(rows=500, expected=400, last_length=4), 8),
    (listing.ChainPlan(rows=500, last_length=32), 50),
])
def test_chain_plan(plan, expected):
    assert plan.next_length() == expected
