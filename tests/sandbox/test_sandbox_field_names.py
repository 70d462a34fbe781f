"""crm.item.* take field names in UPPER_CASE or camelCase and answer in camelCase
(api-reference/crm/universal/index.md): select, filter (with operator prefixes and nested groups), order, fields."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.test_sandbox_crm import PLANS


@pytest.fixture
def portal(hook):
    """A plans smart process with a probability field, deals linked to two plans, in several stages."""
    spa = hook.result("crm.type.add", {"fields": PLANS})["type"]
    eti, type_id = spa["entityTypeId"], spa["id"]
    hook.call("userfieldconfig.add", {"moduleId": "crm", "field": {
        "entityId": f"CRM_{type_id}", "fieldName": f"UF_CRM_{type_id}_PROBABILITY", "userTypeId": "double"}})
    company = hook.result("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Acme"}})["item"]["id"]
    plans = [hook.result("crm.item.add", {"entityTypeId": eti, "fields": {
        "title": f"Plan {n}", "companyId": company, "opportunity": 1000 * n, "begindate": f"2026-0{n}-01",
        "closedate": "2026-12-31", "assignedById": n, f"ufCrm{type_id}Probability": 30 * n}})["item"]["id"]
        for n in (1, 2, 3)]
    for n, (stage, amount, who, plan) in enumerate([("NEW", 100, 1, plans[0]), ("WON", 250, 2, plans[0]),
                                                    ("WON", 400, 3, plans[1]), ("LOSE", 50, 2, 0),
                                                    ("PREPARATION", 900, 3, plans[1]), ("WON", 75, 1, 0)]):
        hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
            "title": f"Deal {n}", "stageId": stage, "opportunity": amount, "assignedById": who,
            "begindate": f"2026-0{n + 1}-15", "companyId": company, f"parentId{eti}": plan}})
    return {"eti": eti, "type_id": type_id, "plans": plans, "company": company}


def listed(hook, params):
    return hook.result("crm.item.list", params)["items"]


def test_select_in_upper_case_answers_the_camel_case_fields(hook, portal):
    eti, uf = portal["eti"], f"ufCrm{portal['type_id']}Probability"
    upper = ["ID", "TITLE", "STAGE_ID", "STAGE_SEMANTIC_ID", "ASSIGNED_BY_ID", "BEGINDATE", f"PARENT_ID_{eti}"]
    camel = ["id", "title", "stageId", "stageSemanticId", "assignedById", "begindate", f"parentId{eti}"]
    deals = listed(hook, {"entityTypeId": 2, "select": upper})
    assert deals == listed(hook, {"entityTypeId": 2, "select": camel})
    assert len(deals) == 6 and set(deals[1]) == set(camel)
    assert deals[1]["stageSemanticId"] == "S" and deals[1][f"parentId{eti}"] == portal["plans"][0]
    plans = listed(hook, {"entityTypeId": eti, "select": ["ID", f"UF_CRM_{portal['type_id']}_PROBABILITY",
                                                          "OPPORTUNITY", "COMPANY_ID"]})
    assert plans == listed(hook, {"entityTypeId": eti, "select": ["id", uf, "opportunity", "companyId"]})
    assert plans[2] == {"id": portal["plans"][2], uf: 90.0, "opportunity": 3000.0, "companyId": portal["company"]}


@pytest.mark.parametrize(("upper", "camel"), [
    ({"STAGE_ID": "WON"}, {"stageId": "WON"}),
    ({"=STAGE_ID": "WON", "!ASSIGNED_BY_ID": 3}, {"=stageId": "WON", "!assignedById": 3}),
    ({">=OPPORTUNITY": 100, "<OPPORTUNITY": 900}, {">=opportunity": 100, "<opportunity": 900}),
    ({"@STAGE_ID": ["NEW", "LOSE"]}, {"@stageId": ["NEW", "LOSE"]}),
    ({"!@STAGE_ID": ["NEW", "LOSE"]}, {"!@stageId": ["NEW", "LOSE"]}),
    ({"STAGE_SEMANTIC_ID": "S"}, {"stageSemanticId": "S"}),
    ({">=BEGINDATE": "2026-03-01", "<=BEGINDATE": "2026-05-31"}, {">=begindate": "2026-03-01",
                                                                  "<=begindate": "2026-05-31"}),
    ({"%TITLE": "deal 1"}, {"%title": "deal 1"}),
    ({">PARENT_ID_{eti}": 0}, {">parentId{eti}": 0}),
    ({"0": {"logic": "OR", "0": {"STAGE_ID": "LOSE"}, "1": {">OPPORTUNITY": 800}}},
     {"0": {"logic": "OR", "0": {"stageId": "LOSE"}, "1": {">opportunity": 800}}}),
])
def test_filter_in_upper_case_finds_what_camel_case_finds(hook, portal, upper, camel):
    def spelled(flt):
        return {k.format(eti=portal["eti"]): spelled(v) if isinstance(v, dict) else v for k, v in flt.items()}

    def ids(flt):
        return [d["id"] for d in listed(hook, {"entityTypeId": 2, "filter": spelled(flt), "select": ["id"]})]

    found = ids(upper)
    assert found == ids(camel)
    assert 0 < len(found) < 6  # the filter filters


def test_user_field_filter_in_both_spellings(hook, portal):
    eti, type_id = portal["eti"], portal["type_id"]
    upper = listed(hook, {"entityTypeId": eti, "filter": {f">=UF_CRM_{type_id}_PROBABILITY": 60}, "select": ["ID"]})
    camel = listed(hook, {"entityTypeId": eti, "filter": {f">=ufCrm{type_id}Probability": 60}, "select": ["id"]})
    assert upper == camel == [{"id": portal["plans"][1]}, {"id": portal["plans"][2]}]


def test_order_in_upper_case_sorts_like_camel_case(hook, portal):
    def ids(order):
        return [d["id"] for d in listed(hook, {"entityTypeId": 2, "order": order, "select": ["id"]})]

    by_amount = ids({"OPPORTUNITY": "DESC"})
    assert by_amount == ids({"opportunity": "DESC"}) and by_amount != sorted(by_amount)
    assert ids({"STAGE_ID": "ASC", "ID": "DESC"}) == ids({"stageId": "ASC", "id": "DESC"})
    assert ids({f"PARENT_ID_{portal['eti']}": "DESC", "ID": "ASC"}) == ids({f"parentId{portal['eti']}": "DESC",
                                                                           "id": "ASC"})


def test_fields_in_upper_case_write_the_same_item_as_camel_case(hook, portal):
    eti, type_id = portal["eti"], portal["type_id"]
    upper = {"TITLE": "Plan X", "COMPANY_ID": portal["company"], "OPPORTUNITY": 500, "CURRENCY_ID": "EUR",
             "IS_MANUAL_OPPORTUNITY": "Y", "BEGINDATE": "2026-04-01", "CLOSEDATE": "2026-06-30", "ASSIGNED_BY_ID": 2,
             f"UF_CRM_{type_id}_PROBABILITY": 55}
    camel = {"title": "Plan X", "companyId": portal["company"], "opportunity": 500, "currencyId": "EUR",
             "isManualOpportunity": "Y", "begindate": "2026-04-01", "closedate": "2026-06-30", "assignedById": 2,
             f"ufCrm{type_id}Probability": 55}
    volatile = {"id", "createdTime", "updatedTime", "movedTime"}
    a = hook.result("crm.item.add", {"entityTypeId": eti, "fields": upper})["item"]
    b = hook.result("crm.item.add", {"entityTypeId": eti, "fields": camel})["item"]
    assert {k: v for k, v in a.items() if k not in volatile} == {k: v for k, v in b.items() if k not in volatile}
    assert a["currencyId"] == "EUR" and a[f"ufCrm{type_id}Probability"] == 55.0 and a["assignedById"] == 2
    assert not any(key.isupper() for key in a)  # the answer is camelCase

    deal = hook.result("crm.item.add", {"entityTypeId": 2, "fields": {"TITLE": "D", "STAGE_ID": "WON",
                                                                      f"PARENT_ID_{eti}": a["id"]}})["item"]
    assert (deal["title"], deal["stageId"], deal[f"parentId{eti}"], deal["stageSemanticId"]) == ("D", "WON", a["id"],
                                                                                                "S")
    moved = hook.result("crm.item.update", {"entityTypeId": 2, "id": deal["id"],
                                            "fields": {"STAGE_ID": "LOSE", f"PARENT_ID_{eti}": b["id"]}})["item"]
    assert (moved["stageId"], moved[f"parentId{eti}"]) == ("LOSE", b["id"])


def test_unknown_names_are_refused_with_their_upper_case_name(sb, portal):
    for params, text in (({"filter": {">=NO_SUCH_FIELD": 1}}, "Invalid filter: field 'NO_SUCH_FIELD' is not allowed"),
                         ({"filter": {"noSuchField": 1}}, "Invalid filter: field 'NO_SUCH_FIELD' is not allowed"),
                         ({"order": {"NO_SUCH_FIELD": "ASC"}}, "Invalid order: field 'NO_SUCH_FIELD' is not allowed"),
                         ({"order": {"ID": "UP"}}, "But got 'UP' for field 'ID'")):
        answer = requests.post(sb.webhook_url + "crm.item.list", json={"entityTypeId": 2, **params}, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"] == "INVALID_ARG_VALUE", params
        assert text in answer.json()["error_description"]


def test_upper_case_names_in_a_batch_command_and_a_form_body(sb, hook, portal):
    batch = hook.result("batch", {"cmd": {
        "won": "crm.item.list?entityTypeId=2&filter%5BSTAGE_ID%5D=WON&order%5BOPPORTUNITY%5D=DESC&select%5B%5D=ID",
        "same": "crm.item.list?entityTypeId=2&filter%5BstageId%5D=WON&order%5Bopportunity%5D=DESC&select%5B%5D=id"}})
    assert batch["result"]["won"] == batch["result"]["same"] and len(batch["result"]["won"]["items"]) == 3
    form = requests.post(sb.webhook_url + "crm.item.list", timeout=10,
                         data="entityTypeId=2&filter%5B%3E%3DOPPORTUNITY%5D=250&select%5B%5D=ID&select%5B%5D=TITLE")
    assert [d["title"] for d in form.json()["result"]["items"]] == ["Deal 1", "Deal 2", "Deal 4"]
