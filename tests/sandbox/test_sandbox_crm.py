"""CRM shapes the app relies on: smart processes, user fields, stages, items, filters, paging, legacy methods."""

from __future__ import annotations

import pytest
import requests

PLANS = {"title": "Planes de ventas", "isClientEnabled": "Y", "isBeginCloseDatesEnabled": "Y",
         "isStagesEnabled": "Y", "isLinkWithProductsEnabled": "Y", "isCategoriesEnabled": "N",
         "relations": {"child": [{"entityTypeId": 2, "isChildrenListEnabled": "true"}]}}


@pytest.fixture
def plans(hook):
    spa = hook.result("crm.type.add", {"fields": PLANS})["type"]
    return spa


def test_type_ids_are_independent_and_get_a_pipeline_with_stages(hook, plans):
    eti, type_id = plans["entityTypeId"], plans["id"]
    assert eti != type_id and eti >= 1030 and eti % 2 == 0
    assert plans["relations"]["child"] == [{"entityTypeId": 2, "isChildrenListEnabled": "Y", "isPredefined": "N"}]
    assert {r["entityTypeId"] for r in plans["relations"]["parent"]} == {3, 4}
    assert hook.result("crm.type.get", {"id": type_id})["type"]["entityTypeId"] == eti
    assert hook.result("crm.type.getByEntityTypeId", {"entityTypeId": eti})["type"]["id"] == type_id
    listed = hook.call("crm.type.list", {"filter": {"title": "Planes de ventas"}})
    assert listed["total"] == 1 and listed["result"]["types"][0]["id"] == type_id
    categories = hook.result("crm.category.list", {"entityTypeId": eti})["categories"]
    assert len(categories) == 1 and categories[0]["isDefault"] == "Y"
    cat = categories[0]["id"]
    stages = hook.result("crm.status.list", {"filter": {"ENTITY_ID": f"DYNAMIC_{eti}_STAGE_{cat}"}})
    assert [s["STATUS_ID"] for s in stages] == [f"DT{eti}_{cat}:{c}"
                                                for c in ("NEW", "PREPARATION", "CLIENT", "SUCCESS", "FAIL")]
    assert [s["SEMANTICS"] for s in stages] == [None, None, None, "S", "F"]


def test_entity_type_id_range_rules(sb, hook):
    for bad in (127, 193, 1031, 1000):
        response = requests.post(sb.webhook_url + "crm.type.add",
                                 json={"fields": {"title": "X", "entityTypeId": bad}}, timeout=5)
        assert response.status_code == 400 and response.json()["error"] == "INVALID_ARG_VALUE", bad
    assert hook.result("crm.type.add", {"fields": {"title": "Y", "entityTypeId": 150}})["type"]["entityTypeId"] == 150
    missing = requests.post(sb.webhook_url + "crm.type.get", json={"id": 999}, timeout=5)
    assert missing.status_code == 400 and missing.json() == {"error": 0, "error_description": "SPA not found"}


def test_userfieldconfig_rules_and_camel_names(sb, hook, plans):
    type_id, eti = plans["id"], plans["entityTypeId"]
    field = {"entityId": f"CRM_{type_id}", "fieldName": f"UF_CRM_{type_id}_PROBABILITY", "userTypeId": "double",
             "editFormLabel": {"la": "Probabilidad", "en": "Probability", "ru": "Вероятность"}}
    created = hook.result("userfieldconfig.add", {"moduleId": "crm", "field": field})["field"]
    assert created["fieldName"] == f"UF_CRM_{type_id}_PROBABILITY" and created["editFormLabel"]["la"] == "Probabilidad"
    for bad, text in (({**field, "entityId": f"CRM_{eti}", "fieldName": f"UF_CRM_{eti}_X"},
                       "You cannot create custom fields"),
                      (field, f"Field UF_CRM_{type_id}_PROBABILITY already exists"),
                      ({**field, "userTypeId": ""}, "The 'USER_TYPE_ID' field is not found"),
                      ({**field, "fieldName": ""}, "The 'FIELD_NAME' field is not found")):
        response = requests.post(sb.webhook_url + "userfieldconfig.add", json={"moduleId": "crm", "field": bad})
        assert response.status_code == 400
        assert response.json() == {"error": "", "error_description": text}
    listed = hook.call("userfieldconfig.list", {"moduleId": "crm", "filter": {"entityId": f"CRM_{type_id}"},
                                                "select": {"0": "*", "language": "la"}})
    assert listed["total"] == 1 and listed["result"]["fields"][0]["editFormLabel"] == {"la": "Probabilidad"}
    assert listed["result"]["fields"][0]["languageId"] == {"la": "la"}
    item = hook.result("crm.item.add", {"entityTypeId": eti,
                                        "fields": {"title": "P", f"ufCrm{type_id}Probability": 40}})["item"]
    assert item[f"ufCrm{type_id}Probability"] == 40.0
    original = hook.result("crm.item.get", {"entityTypeId": eti, "id": item["id"], "useOriginalUfNames": "Y"})
    assert original["item"][f"UF_CRM_{type_id}_PROBABILITY"] == 40.0
    fields = hook.result("crm.item.fields", {"entityTypeId": eti})["fields"]
    assert fields[f"ufCrm{type_id}Probability"]["upperName"] == f"UF_CRM_{type_id}_PROBABILITY"


def test_a_list_field_keeps_its_items_ids_and_an_item_stores_the_id(hook, plans):
    """userfieldconfig.add with ``enum`` (value, xmlId): get returns the items with ids, an item stores the id,
    crm.item.fields lists ``items`` (ID, VALUE) as Bitrix24 does for enumeration fields."""
    type_id, eti = plans["id"], plans["entityTypeId"]
    created = hook.result("userfieldconfig.add", {"moduleId": "crm", "field": {
        "entityId": f"CRM_{type_id}", "fieldName": f"UF_CRM_{type_id}_RECURRENCE", "userTypeId": "enumeration",
        "editFormLabel": {"la": "Repetición"},
        "enum": [{"value": "No se repite", "xmlId": "NONE", "def": "Y", "sort": 10},
                 {"value": "Mensual", "xmlId": "MONTHLY", "sort": 20}]}})["field"]
    got = hook.result("userfieldconfig.get", {"moduleId": "crm", "id": created["id"]})["field"]
    ids = {e["xmlId"]: int(e["id"]) for e in got["enum"]}
    assert set(ids) == {"NONE", "MONTHLY"} and ids["NONE"] != ids["MONTHLY"]
    item = hook.result("crm.item.add", {"entityTypeId": eti, "fields": {
        "title": "P", f"ufCrm{type_id}Recurrence": ids["MONTHLY"]}})["item"]
    assert item[f"ufCrm{type_id}Recurrence"] == ids["MONTHLY"]
    listed = hook.result("crm.item.list", {"entityTypeId": eti, "filter": {f"@ufCrm{type_id}Recurrence":
                                                                           [ids["MONTHLY"]]}})["items"]
    assert [int(i["id"]) for i in listed] == [int(item["id"])]
    described = hook.result("crm.item.fields", {"entityTypeId": eti})["fields"][f"ufCrm{type_id}Recurrence"]
    assert described["type"] == "enumeration"
    assert described["items"] == [{"ID": str(ids["NONE"]), "VALUE": "No se repite"},
                                  {"ID": str(ids["MONTHLY"]), "VALUE": "Mensual"}]


def test_plan_item_shape_and_deal_parent_link(hook, plans):
    eti = plans["entityTypeId"]
    company = hook.result("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Acme"}})["item"]
    plan = hook.result("crm.item.add", {"entityTypeId": eti, "fields": {
        "title": "Plan Q1", "companyId": company["id"], "opportunity": "1500.50", "currencyId": "EUR",
        "isManualOpportunity": "Y", "begindate": "2026-01-01", "closedate": "2026-03-31"}})["item"]
    assert plan["opportunity"] == 1500.5 and plan["currencyId"] == "EUR" and plan["isManualOpportunity"] == "Y"
    assert plan["begindate"] == "2026-01-01T01:00:00+01:00" and plan["closedate"].startswith("2026-03-31T")
    assert plan["stageId"].endswith(":NEW") and plan["entityTypeId"] == eti
    deal = hook.result("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Won one", "stageId": "WON", "opportunity": 700, f"parentId{eti}": plan["id"]}})["item"]
    assert deal[f"parentId{eti}"] == plan["id"] and deal["stageSemanticId"] == "S" and deal["closed"] == "Y"
    hook.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "Open", f"parentId{eti}": plan["id"]}})
    won = hook.result("crm.item.list", {"entityTypeId": 2, "select": ["id", "opportunity", "stageSemanticId"],
                                        "filter": {f"@parentId{eti}": [plan["id"]], "stageSemanticId": "S"}})
    assert won["items"] == [{"id": deal["id"], "opportunity": 700.0, "stageSemanticId": "S"}]
    legacy = hook.result("crm.deal.get", {"id": deal["id"]})
    assert legacy[f"PARENT_ID_{eti}"] == str(plan["id"]) and legacy["OPPORTUNITY"] == "700.00"
    assert legacy["STAGE_SEMANTIC_ID"] == "S"


def test_update_without_change_keeps_the_item_untouched(sb, hook):
    deal = hook.result("crm.item.add", {"entityTypeId": 2, "fields": {"title": "Same", "opportunity": 10}})["item"]
    again = hook.result("crm.item.update", {"entityTypeId": 2, "id": deal["id"],
                                            "fields": {"title": "Same", "opportunity": "10.0"}})["item"]
    assert again["updatedTime"] == deal["updatedTime"]
    changed = hook.result("crm.item.update", {"entityTypeId": 2, "id": deal["id"],
                                              "fields": {"stageId": "EXECUTING"}})["item"]
    assert changed["stageId"] == "EXECUTING" and changed["updatedTime"] >= deal["updatedTime"]
    assert changed["movedTime"] >= deal["movedTime"]


def test_filters_logic_or_and_order(hook):
    for title, amount, stage in (("Alfa", 100, "NEW"), ("Beta", 500, "WON"), ("Gamma", 900, "LOSE"),
                                 ("Delta", 50, "EXECUTING")):
        hook.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": title, "opportunity": amount,
                                                                 "stageId": stage}})

    def titles(flt, order=None):
        params = {"entityTypeId": 2, "filter": flt, "select": ["title"]}
        if order:
            params["order"] = order
        return [i["title"] for i in hook.result("crm.item.list", params)["items"]]

    assert titles({">=opportunity": 500}) == ["Beta", "Gamma"]
    assert titles({"<opportunity": 100}) == ["Delta"]
    assert titles({"!stageId": "NEW", "<=opportunity": 500}) == ["Beta", "Delta"]
    assert titles({"!=stageSemanticId": "P"}) == ["Beta", "Gamma"]
    assert titles({"@stageId": ["WON", "LOSE"]}) == ["Beta", "Gamma"]
    assert titles({"!@stageId": ["WON", "LOSE"]}) == ["Alfa", "Delta"]
    assert titles({"%title": "mm"}) == ["Gamma"]
    assert titles({"0": {"logic": "OR", "0": {"title": "Alfa"}, "1": {">opportunity": 800}}}) == ["Alfa", "Gamma"]
    assert titles({}, {"opportunity": "DESC"}) == ["Gamma", "Beta", "Alfa", "Delta"]


def test_paging_120_items_offset_and_fast_mode(hook):
    for start in range(0, 120, 40):
        cmd = {f"a{n}": f"crm.item.add?entityTypeId=2&fields[title]=D{n}" for n in range(start, start + 40)}
        hook.call("batch", {"cmd": cmd})
    seen, start, pages = [], 0, []
    while start is not None:
        body = hook.call("crm.item.list", {"entityTypeId": 2, "select": ["id"], "start": start})
        assert body["total"] == 120
        pages.append(len(body["result"]["items"]))
        seen += [i["id"] for i in body["result"]["items"]]
        start = body.get("next")
    assert pages == [50, 50, 20] and seen == list(range(1, 121))
    fast, last = [], 0
    while True:
        body = hook.call("crm.item.list", {"entityTypeId": 2, "select": ["id"], "order": {"id": "ASC"},
                                           "filter": {">id": last}, "start": -1})
        assert "next" not in body and body.get("total", 0) == 0
        rows = body["result"]["items"]
        fast += [i["id"] for i in rows]
        if len(rows) < 50:
            break
        last = rows[-1]["id"]
    assert fast == list(range(1, 121))


def test_contacts_multifields_only_with_star_and_legacy_shapes(hook):
    company = hook.call("crm.company.add", {"fields": {"TITLE": "Datos SA",
                                                       "PHONE": [{"VALUE": "+52 1", "VALUE_TYPE": "WORK"}]}})
    company_id = company["result"]
    contact_id = hook.result("crm.contact.add", {"fields": {
        "NAME": "Lucía", "LAST_NAME": "Herrera", "COMPANY_ID": company_id,
        "PHONE": [{"VALUE": "+52 55 1", "VALUE_TYPE": "MOBILE"}],
        "EMAIL": [{"VALUE": "lucia@example.mx", "VALUE_TYPE": "WORK"}]}})
    legacy = hook.result("crm.contact.get", {"id": contact_id})
    assert legacy["PHONE"] == [{"ID": legacy["PHONE"][0]["ID"], "VALUE_TYPE": "MOBILE", "VALUE": "+52 55 1",
                                "TYPE_ID": "PHONE"}]
    assert legacy["HAS_EMAIL"] == "Y" and legacy["COMPANY_ID"] == str(company_id)
    plain = hook.result("crm.item.list", {"entityTypeId": 3, "select": ["id", "name"]})["items"][0]
    assert "fm" not in plain
    star = hook.result("crm.item.list", {"entityTypeId": 3, "select": ["*"], "filter": {"@id": [contact_id]}})
    assert {(m["typeId"], m["value"]) for m in star["items"][0]["fm"]} == {("PHONE", "+52 55 1"),
                                                                          ("EMAIL", "lucia@example.mx")}
    assert hook.result("crm.company.contact.items.get", {"id": company_id})[0]["CONTACT_ID"] == contact_id
    assert hook.result("crm.contact.company.items.get", {"id": contact_id})[0]["COMPANY_ID"] == company_id
    deal = hook.result("crm.item.add", {"entityTypeId": 2, "fields": {"contactIds": [contact_id]}})["item"]
    assert deal["contactId"] == contact_id
    assert hook.result("crm.deal.contact.items.get", {"id": deal["id"]})[0]["CONTACT_ID"] == contact_id
    listed = hook.call("crm.company.list", {"select": ["ID", "TITLE", "PHONE"]})
    assert listed["result"][0]["PHONE"][0]["VALUE"] == "+52 1" and listed["total"] == 1
    hook.call("crm.contact.update", {"id": contact_id, "fields": {
        "PHONE": [{"ID": legacy["PHONE"][0]["ID"], "VALUE": ""}]}})
    assert "PHONE" not in hook.result("crm.contact.get", {"id": contact_id})


def test_deal_legacy_list_filter_and_select(hook):
    hook.call("crm.deal.add", {"fields": {"TITLE": "Uno", "OPPORTUNITY": "1200", "CURRENCY_ID": "MXN"}})
    hook.call("crm.deal.add", {"fields": {"TITLE": "Dos", "STAGE_ID": "WON"}})
    body = hook.call("crm.deal.list", {"filter": {"STAGE_SEMANTIC_ID": "S"}, "select": ["ID", "TITLE"]})
    assert body["result"] == [{"ID": "2", "TITLE": "Dos"}] and body["total"] == 1
    one = hook.result("crm.deal.list", {"filter": {">OPPORTUNITY": 1000}})[0]
    assert one["OPPORTUNITY"] == "1200.00" and one["CURRENCY_ID"] == "MXN" and one["CATEGORY_ID"] == "0"
    assert hook.result("crm.deal.update", {"id": 1, "fields": {"TITLE": "Uno bis"}}) is True
    assert hook.result("crm.deal.delete", {"id": 1}) is True
    missing = requests.post(hook.base + "crm.deal.get", json={"id": 1}, timeout=5)
    assert missing.status_code == 400 and missing.json()["error_description"] == "Not found"


def test_item_errors_have_documented_codes(sb, hook):
    missing = requests.post(sb.webhook_url + "crm.item.get", json={"entityTypeId": 2, "id": 77}, timeout=5)
    assert missing.status_code == 400 and missing.json()["error"] == "NOT_FOUND"
    no_type = requests.post(sb.webhook_url + "crm.item.list", json={"entityTypeId": 1044}, timeout=5)
    assert no_type.status_code == 400 and no_type.json()["error"] == "NOT_FOUND"
    bad_stage = requests.post(sb.webhook_url + "crm.item.add",
                              json={"entityTypeId": 2, "fields": {"stageId": "C9:NEW"}}, timeout=5)
    assert bad_stage.status_code == 400 and bad_stage.json()["error"] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    assert hook.result("crm.item.add", {"entityTypeId": 2, "fields": {"title": "x"}})["item"]["id"] == 1
    assert hook.call("crm.item.delete", {"entityTypeId": 2, "id": 1})["result"] == []


def test_type_with_items_cannot_be_deleted(sb, hook, plans):
    item = hook.result("crm.item.add", {"entityTypeId": plans["entityTypeId"], "fields": {"title": "p"}})["item"]
    response = requests.post(sb.webhook_url + "crm.type.delete", json={"id": plans["id"]}, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "BX_ERROR"
    hook.call("crm.item.delete", {"entityTypeId": plans["entityTypeId"], "id": item["id"]})
    hook.call("crm.type.delete", {"id": plans["id"]})
    assert hook.result("crm.item.fields", {"entityTypeId": 2})["fields"].get(f"parentId{plans['entityTypeId']}") is None


def test_status_add_update_delete_for_a_smart_process(hook, plans):
    eti = plans["entityTypeId"]
    cat = hook.result("crm.category.list", {"entityTypeId": eti})["categories"][0]["id"]
    entity = f"DYNAMIC_{eti}_STAGE_{cat}"
    new_id = hook.result("crm.status.add", {"fields": {"ENTITY_ID": entity, "STATUS_ID": "REVIEW",
                                                       "NAME": "Revisión", "SORT": 15}})
    status = [s for s in hook.result("crm.status.list", {"filter": {"ENTITY_ID": entity}})
              if s["ID"] == str(new_id)][0]
    assert status["STATUS_ID"] == f"DT{eti}_{cat}:REVIEW"
    hook.call("crm.status.update", {"id": new_id, "fields": {"NAME": "Revisado", "SEMANTICS": "S"}})
    item = hook.result("crm.item.add", {"entityTypeId": eti, "fields": {"stageId": f"DT{eti}_{cat}:REVIEW"}})
    assert item["item"]["stageId"] == f"DT{eti}_{cat}:REVIEW"
    assert hook.result("crm.status.delete", {"id": new_id}) is True


def test_list_refuses_unknown_filter_and_order_fields(sb, hook, plans):
    def error(params):
        response = requests.post(sb.webhook_url + "crm.item.list", json=params, timeout=5)
        assert response.status_code == 400
        return response.json()

    eti = plans["entityTypeId"]
    assert error({"entityTypeId": eti, "filter": {"stageSemanticId": "S"}}) == {
        "error": "INVALID_ARG_VALUE",
        "error_description": "Invalid filter: field 'STAGE_SEMANTIC_ID' is not allowed in filter"}
    assert error({"entityTypeId": 2, "filter": {"0": {"logic": "OR", ">nope": 1}}})["error"] == "INVALID_ARG_VALUE"
    assert "has invalid value" in error({"entityTypeId": 2, "filter": {">id": "abc"}})["error_description"]
    assert "not allowed in order" in error({"entityTypeId": 2, "order": {"nope": "ASC"}})["error_description"]
    assert "sort directions" in error({"entityTypeId": 2, "order": {"id": "UP"}})["error_description"]
    assert hook.call("crm.item.list", {"entityTypeId": eti, "filter": {"!=stageId": "x", "@companyId": [1]},
                                       "order": {"begindate": "desc"}})["total"] == 0


def test_fm_rows_keyed_by_id_update_in_place_or_add(hook):
    contact = hook.result("crm.item.add", {"entityTypeId": 3, "fields": {
        "name": "Ana", "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+1"}]}})["item"]
    row_id = contact["fm"][0]["id"]
    updated = hook.result("crm.item.update", {"entityTypeId": 3, "id": contact["id"], "fields": {"fm": {
        str(row_id): {"typeId": "PHONE", "valueType": "MOBILE", "value": "+2"},
        "999999": {"typeId": "EMAIL", "valueType": "WORK", "value": "ana@example.mx"}}}})["item"]
    assert [(m["typeId"], m["valueType"], m["value"]) for m in updated["fm"]] == [
        ("PHONE", "MOBILE", "+2"), ("EMAIL", "WORK", "ana@example.mx")]
    assert updated["fm"][0]["id"] == row_id and updated["hasEmail"] == "Y"


def test_deleting_a_client_unlinks_it_from_deals(hook):
    company = hook.result("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Gone SA"}})["item"]
    contact = hook.result("crm.item.add", {"entityTypeId": 3, "fields": {"name": "Eva"}})["item"]
    deal = hook.result("crm.item.add", {"entityTypeId": 2, "fields": {
        "companyId": company["id"], "contactIds": [contact["id"]]}})["item"]
    hook.call("crm.item.delete", {"entityTypeId": 4, "id": company["id"]})
    hook.call("crm.item.delete", {"entityTypeId": 3, "id": contact["id"]})
    after = hook.result("crm.item.get", {"entityTypeId": 2, "id": deal["id"]})["item"]
    assert after["companyId"] == 0 and after["contactIds"] == [] and after["contactId"] == 0
