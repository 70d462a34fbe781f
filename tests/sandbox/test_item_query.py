"""crm.item.list through SQLite (``item_query``) answers the same rows, totals and next as the Python path."""

from __future__ import annotations

from typing import Any

import pytest

from b24sandbox import item_query
from b24sandbox.auth import AuthContext
from b24sandbox.crm_model import type_info
from b24sandbox.methods import paging
from b24sandbox.methods.crm_items import visible_items
from b24sandbox.portal import Webhook

PLANS = {"title": "Planes", "isClientEnabled": "Y", "isBeginCloseDatesEnabled": "Y", "isStagesEnabled": "Y",
         "isLinkWithProductsEnabled": "Y",
         "relations": {"child": [{"entityTypeId": 2, "isChildrenListEnabled": "true"}]}}
TITLES = ["Plan Norte", "plan norte", "10", "9", "Ñandú SA", "", "2026-05-01", "Ärger", "zeta", "Alfa"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from b24sandbox.server import SandboxServer

    with SandboxServer(tmp_path_factory.mktemp("iq") / "portal.db", seed="demo", rate_limit=False) as sb:
        portal, auth = sb.portal, Webhook(1, "sandbox")

        def call(method: str, params: dict[str, Any]) -> Any:
            status, body = portal.call(method, params, auth)
            assert status == 200, body
            return body["result"]

        spa = call("crm.type.add", {"fields": PLANS})["type"]
        eti, tid = spa["entityTypeId"], spa["id"]
        for name, kind in (("PROB", "double"), ("DUE", "date"), ("NOTE", "string")):
            call("userfieldconfig.add", {"moduleId": "crm", "field": {
                "entityId": f"CRM_{tid}", "fieldName": f"UF_CRM_{tid}_{name}", "userTypeId": kind}})
        cat = call("crm.category.list", {"entityTypeId": eti})["categories"][0]["id"]
        stages = [s["STATUS_ID"] for s in call("crm.status.list",
                                                {"filter": {"ENTITY_ID": f"DYNAMIC_{eti}_STAGE_{cat}"}})]
        plan_ids = []
        for n in range(70):
            fields: dict[str, Any] = {
                "title": TITLES[n % len(TITLES)], "opportunity": [0, 1500.5, 20, None, 999][n % 5],
                "currencyId": ["USD", "EUR", "MXN"][n % 3], "assignedById": 1 + n % 4, "stageId": stages[n % 5],
                "begindate": f"2026-{1 + n % 12:02d}-01",
                "closedate": None if n % 11 == 0 else f"2026-{1 + n % 12:02d}-28",
                f"UF_CRM_{tid}_PROB": None if n % 7 == 0 else n % 4 * 25,
                f"UF_CRM_{tid}_DUE": None if n % 3 else f"2026-0{1 + n % 9}-15",
                f"UF_CRM_{tid}_NOTE": ["", "Hola", "hola mundo", None][n % 4]}
            plan_ids.append(call("crm.item.add", {"entityTypeId": eti, "fields": fields,
                                                  "useOriginalUfNames": "Y"})["item"]["id"])
        for n in range(130):
            call("crm.item.add", {"entityTypeId": 2, "fields": {
                "title": f"Deal {n}", "opportunity": n * 10, "stageId": ["NEW", "WON", "LOSE"][n % 3],
                f"parentId{eti}": None if n % 4 == 0 else plan_ids[n % len(plan_ids)]}})
        yield portal, eti, tid, stages, plan_ids


def both(portal, eti, flt, order=None, start=-1, user=1, access="admin"):
    info = type_info(portal, eti)
    with portal.lock:
        sql = item_query.list_page(portal, info, access, user, flt, order, {"start": start})
        ctx = AuthContext("webhook", user)
        rows = visible_items(portal, ctx, info, flt, order)
        page, total, nxt, _ = paging({"start": start}, rows)
    python = ([int(i["id"]) for i in page], total, nxt)
    return ([int(i["id"]) for i in sql[0]], sql[1], sql[2]), python


def cases(eti, tid, stages, plan_ids):
    p = f"parentId{eti}"
    return [
        (eti, {}, None), (eti, {"@stageId": stages[:2]}, None), (eti, {"stageId": stages[1].lower()}, None),
        (eti, {">id": plan_ids[10], "@stageId": stages[:4]}, {"id": "ASC"}),
        (eti, {"currencyId": "USD", "<=begindate": "2026-06-30", ">=closedate": "2026-03-01"},
         {"begindate": "DESC", "id": "DESC"}),
        (eti, {"stageId": stages[0], "currencyId": "EUR"}, {f"UF_CRM_{tid}_PROB": "DESC", "id": "DESC"}),
        (eti, {}, {"opportunity": "ASC", "id": "ASC"}), (eti, {}, {"opportunity": "DESC"}),
        (eti, {}, {"title": "ASC"}), (eti, {}, {"title": "DESC"}), (eti, {}, {"currencyId": "ASC", "id": "ASC"}),
        (eti, {}, {"closedate": "ASC"}), (eti, {}, {"stageId": "DESC"}), (eti, {}, {f"ufCrm{tid}Due": "ASC"}),
        (eti, {"opportunity": 0}, None), (eti, {"opportunity": ""}, None), (eti, {"opportunity": "0"}, None),
        (eti, {"!opportunity": 0}, None), (eti, {">opportunity": 20}, None), (eti, {">=opportunity": "20"}, None),
        (eti, {"<opportunity": 999}, None), (eti, {">=opportunity": ""}, None), (eti, {">opportunity": None}, None),
        (eti, {"@opportunity": [0, 20]}, None), (eti, {"!@opportunity": [20, 999]}, None),
        (eti, {"=opportunity": []}, None), (eti, {"!=closedate": None}, None), (eti, {"closedate": False}, None),
        (eti, {"<closedate": "2026-04-01"}, None), (eti, {">=closedate": "2026-04-01T00:00:00+01:00"}, None),
        (eti, {"title": "plan NORTE"}, None), (eti, {"title": "10"}, None), (eti, {"title": ""}, None),
        (eti, {"!title": ""}, None), (eti, {"%title": "NORTE"}, None), (eti, {"%title": "ñan"}, None),
        (eti, {"!%title": "plan"}, None), (eti, {">title": "m"}, None), (eti, {"<=title": "alfa"}, None),
        (eti, {"title": "2026-05-01"}, None), (eti, {"=%title": "plan%"}, None),
        (eti, {f"UF_CRM_{tid}_NOTE": "HOLA"}, None), (eti, {f"%ufCrm{tid}Note": "mun"}, None),
        (eti, {f"!ufCrm{tid}Note": ""}, None), (eti, {f">=UF_CRM_{tid}_PROB": 50}, None),
        (eti, {f"UF_CRM_{tid}_PROB": 0}, None), (eti, {f"<ufCrm{tid}Due": "2026-05-01"}, None),
        (eti, {"logic": "OR", "0": {"currencyId": "MXN"}, "1": {">opportunity": 1000}}, None),
        (eti, {"0": {"logic": "OR", "0": {"@assignedById": [2]}, "1": {"stageId": stages[4]}},
               "currencyId": "EUR"}, None),
        (eti, {"0": {"logic": "OR", "0": {"=%title": "z%"}, "1": {"stageId": stages[4]}}, "!currencyId": "EUR"},
         {"title": "ASC"}),
        (eti, {"logic": "OR", "0": {"=%title": "z%"}, "1": {"currencyId": "USD"}}, None),
        (eti, {"opened": True}, None), (eti, {"opened": "N"}, None), (eti, {"isManualOpportunity": False}, None),
        (eti, {"createdTime": "2020-01-01"}, None), (eti, {"stageId": 5}, None),
        (2, {f">{p}": 0}, {"id": "ASC"}), (2, {f">{p}": 0, ">id": 40}, {"id": "ASC"}), (2, {f"{p}": 0}, None),
        (2, {f"@{p}": plan_ids[:5]}, None), (2, {"stageSemanticId": "S"}, None),
        (2, {"@id": [3, 5, 8, 1000]}, None), (2, {"stageSemanticId": "S", f">{p}": 0}, {"opportunity": "DESC"}),
        (3, {"%name": "a"}, None), (4, {"%title": "a"}, {"title": "ASC"}), (4, {"contactIds": 1}, None),
    ]


def test_sql_pages_equal_python_pages_for_a_table_of_filters(seeded):
    portal, eti, tid, stages, plan_ids = seeded
    for entity, flt, order in cases(eti, tid, stages, plan_ids):
        for start in (-1, 0, 50):
            sql, python = both(portal, entity, flt, order, start)
            assert sql == python, (entity, flt, order, start)
        sql, python = both(portal, entity, flt, order, 0, user=3, access="own")
        assert sql == python, (entity, flt, order, "own")


def test_the_filters_the_app_sends_go_to_sql_whole(seeded):
    portal, eti, tid, stages, _ = seeded
    plans, deals = type_info(portal, eti), type_info(portal, 2)
    for info, flt in ((plans, {"@stageId": stages[:2], ">id": 5}),
                      (plans, {"stageId": stages[0], "assignedById": 3, "currencyId": "USD",
                               "<=begindate": "2026-06-30", ">=closedate": "2026-04-01",
                               "0": {"logic": "OR", "0": {"@companyId": [1, 2]}, "1": {"@contactId": [4]}}}),
                      (deals, {f">parentId{eti}": 0, ">id": 100}), (deals, {f"@parentId{eti}": [1, 2]}),
                      (deals, {"@id": [1, 2, 3]})):
        assert item_query.compile_filter(info, flt)[2] == {}, flt
    assert item_query.compile_order(plans, {f"ufCrm{tid}Prob": "DESC", "id": "DESC"})
    where, _, rest = item_query.compile_filter(plans, {"=%title": "a%", "currencyId": "USD"})
    assert rest == {"=%title": "a%"} and "b24_lower" in where
    assert item_query.compile_order(plans, {"createdTime": "ASC"}) is None
    assert item_query.compile_order(plans, {"currencyId": "ASC"}) is None
