"""Adding, updating and deleting CRM items, with stage logic, multifields and events.

crm-item-add.md (unknown fields are ignored; defaults; stage from the pipeline), crm-item-update.md (only the
given fields change; nothing changed = no save and no event), api-reference/crm/deals/events/index.md (a
pipeline move fires ONCRMDEALMOVETOCATEGORY and no ONCRMDEALUPDATE).
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from b24sandbox import errors
from b24sandbox.auth import AuthContext
from b24sandbox.crm_fields import COMPANY, CONTACT, DEAL, MULTIFIELD_TYPES, Field
from b24sandbox.crm_model import (
    TypeInfo,
    can_see,
    categories,
    check_read_type,
    default_category,
    default_dates,
    semantics_map,
    stages,
)
from b24sandbox.errors import RestError
from b24sandbox.wire import as_int, now_iso, parse_date, parse_datetime, truthy

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

EVENT_PREFIX = {DEAL: "ONCRMDEAL", CONTACT: "ONCRMCONTACT", COMPANY: "ONCRMCOMPANY"}
ID_TYPES = ("integer", "user", "crm_company", "crm_contact", "crm_lead", "crm_quote", "crm_category")


def rounded(value: Any, places: int) -> float:
    """A number rounded half away from zero, as MySQL stores DECIMAL and PHP's round() does."""
    number = Decimal(str(value).strip().replace(",", "."))
    if not number.is_finite():
        raise ValueError(value)
    return float(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def invalid(title: str) -> RestError:
    return RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f'Incorrect value for field "{title}"', 400)


def coerce(f: Field, value: Any) -> Any:
    if f.multiple:
        if value in (None, "", False):
            return []
        if isinstance(value, dict):
            value = list(value.values())
        if not isinstance(value, list):
            raise RestError("100", f"Expected iterable value for multiple field {f.name}", 400)
        ids = [as_int(v) for v in value]
        if any(v is None for v in ids):
            raise invalid(f.title or f.name)
        return [v for v in ids if v]
    if value is None or (value == "" and f.type != "string" and f.type != "text"):
        return None
    if f.type in ID_TYPES:
        number = as_int(value)
        if number is None:
            raise invalid(f.title or f.name)
        return number
    if f.type == "double":  # money columns are DECIMAL(18,2)
        try:
            return rounded(value, 2)
        except (ValueError, ArithmeticError) as exc:
            raise invalid(f.title or f.name) from exc
    if f.type == "boolean":
        return "Y" if truthy(value) else "N"
    if f.type == "date":
        try:
            day = parse_date(value)
        except ValueError as exc:
            raise invalid(f.title or f.name) from exc
        return day.isoformat() if day else None
    if f.type == "datetime":
        try:
            moment = parse_datetime(value)
        except ValueError as exc:
            raise invalid(f.title or f.name) from exc
        return moment.replace(microsecond=0).isoformat() if moment else None
    return str(value)


def coerce_uf(uf: dict[str, Any], value: Any) -> Any:
    if uf.get("multiple") == "Y":
        if value in (None, "", False):
            return []
        if isinstance(value, dict):
            value = list(value.values())
        if not isinstance(value, list):
            raise RestError("100", f"Expected iterable value for multiple field {uf['fieldName']}", 400)
        return [coerce_uf({**uf, "multiple": "N"}, v) for v in value]
    if value is None or value == "":
        return None
    kind = uf["userTypeId"]
    label = uf["fieldName"]
    try:
        if kind == "double":  # CUserTypeDouble rounds to the field's PRECISION (default 4) on save
            settings = uf.get("settings") if isinstance(uf.get("settings"), dict) else {}
            return rounded(value, as_int(settings.get("PRECISION"), 4) or 0)
        if kind in ("integer", "employee", "enumeration"):
            number = as_int(value)
            if number is None:
                raise ValueError(value)
            return number
        if kind == "boolean":
            return truthy(value)
        if kind == "date":
            day = parse_date(value)
            return day.isoformat() if day else None
        if kind == "datetime":
            moment = parse_datetime(value)
            return moment.replace(microsecond=0).isoformat() if moment else None
    except (ValueError, ArithmeticError) as exc:
        raise invalid(label) from exc
    return str(value) if not isinstance(value, list | dict) else value


def apply_fm(item: dict[str, Any], entries: Any, portal: Portal, replace: bool) -> None:
    """``fm`` rows: with ``id`` = change that row (empty value = delete); without = add."""
    current = [] if replace else [dict(m) for m in item.get("fm") or []]
    if isinstance(entries, dict):  # {"15": {...}} keys are row ids (crm-item-update.md)
        entries = [{"id": k, **v} if str(k).isdigit() and isinstance(v, dict) and "id" not in v else v
                   for k, v in entries.items()]
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        type_id = str(entry.get("typeId") or entry.get("TYPE_ID") or "").upper()
        value = entry.get("value", entry.get("VALUE"))
        value_type = str(entry.get("valueType") or entry.get("VALUE_TYPE") or "WORK").upper()
        row_id = as_int(entry.get("id", entry.get("ID")))
        delete = truthy(entry.get("DELETE")) or (row_id and (value is None or value == ""))
        existing = [row for row in current if row_id and row["id"] == row_id]
        if existing:
            if delete:
                current.remove(existing[0])
            else:
                existing[0].update({"value": str(value), "valueType": value_type})
            continue
        if delete and row_id:
            continue
        if type_id not in MULTIFIELD_TYPES or value in (None, ""):
            continue
        current.append({"id": portal.store.next_id("fm"), "valueType": value_type, "value": str(value),
                        "typeId": type_id})
    item["fm"] = current
    item["hasPhone"] = "Y" if any(m["typeId"] == "PHONE" for m in current) else "N"
    item["hasEmail"] = "Y" if any(m["typeId"] == "EMAIL" for m in current) else "N"


def _stage_logic(portal: Portal, info: TypeInfo, item: dict[str, Any], old: dict[str, Any] | None,
                 given: dict[str, Any], ctx: AuthContext) -> None:
    eti = info.entity_type_id
    if eti not in (DEAL,) and not info.is_dynamic:
        return
    cat_ids = {int(c["id"]) for c in categories(portal, eti)}
    if "categoryId" in given and given["categoryId"] is not None:
        if int(given["categoryId"]) not in cat_ids:
            raise invalid("Pipeline")
    if item.get("categoryId") is None:
        item["categoryId"] = 0 if eti == DEAL else default_category(portal, eti)
    stage_list = stages(portal, eti, int(item["categoryId"]))
    stage_ids = [s["STATUS_ID"] for s in stage_list]
    category_changed = old is not None and int(old.get("categoryId") or 0) != int(item["categoryId"])
    if "stageId" in given and given["stageId"]:
        if given["stageId"] not in stage_ids:
            raise invalid("Stage")
    elif old is None or category_changed:
        item["stageId"] = stage_ids[0] if stage_ids else None
    if old is None or old.get("stageId") != item.get("stageId"):
        now = now_iso()
        item["movedTime"], item["movedBy"] = now, ctx.user_id
        if old is not None:
            item["previousStageId"] = old.get("stageId")
    semantic = semantics_map(portal).get(item.get("stageId") or "", "P")
    if eti == DEAL:
        item["closed"] = "Y" if semantic in ("S", "F") else "N"
        item["isNew"] = "Y" if stage_ids and item.get("stageId") == stage_ids[0] else "N"


RAW_CHANGE = "__raw_change__"


def _raw_differs(value: Any, stored: Any) -> bool:
    """The value as sent differs from the stored one (before the save rounds it): the portal's change
    tracking sees 33.3333 vs a stored 33.33 as a change, saves (rounding again) and fires the update event."""
    try:
        sent = float(str(value).strip().replace(",", "."))
    except ValueError:
        return False
    return stored is None or sent != float(stored)


def _apply(portal: Portal, info: TypeInfo, item: dict[str, Any], fields: dict[str, Any],
           original: bool) -> dict[str, Any]:
    """Copy the writable given fields into ``item``; returns the coerced values that were given."""
    given: dict[str, Any] = {}
    for f in info.fields:
        if f.read_only or f.name not in fields or not info.enabled(f):
            continue
        if f.name == "contactIds" and info.entity_type_id == COMPANY:
            given[f.name] = coerce(f, fields[f.name])
            continue
        before = item.get(f.name)
        given[f.name] = item[f.name] = coerce(f, fields[f.name])
        if f.type == "double" and _raw_differs(fields[f.name], before):
            given[RAW_CHANGE] = True
    for parent in info.parents:
        name = f"parentId{parent}"
        if name in fields:
            given[name] = item[name] = as_int(fields[name]) or None
    for uf in info.userfields:
        for key in (uf["fieldName"], info.uf_name(uf, False)) if not original else (uf["fieldName"],):
            if key in fields:
                before = item.get(uf["fieldName"])
                given[uf["fieldName"]] = item[uf["fieldName"]] = coerce_uf(uf, fields[key])
                if uf["userTypeId"] == "double" and uf.get("multiple") != "Y" and _raw_differs(fields[key], before):
                    given[RAW_CHANGE] = True
                break
    # contactId <-> contactIds, companyId <-> companyIds stay in step
    for single, many in (("contactId", "contactIds"), ("companyId", "companyIds")):
        if many in given and info.entity_type_id != COMPANY:
            item[single] = (item[many] or [None])[0]
        elif single in given and many in info.field_map:
            rest = [i for i in item.get(many) or [] if i != item[single]]
            item[many] = ([item[single]] if item[single] else []) + rest
    if info.entity_type_id in (CONTACT, COMPANY) and "fm" in fields:
        apply_fm(item, fields["fm"], portal, replace=False)
    return given


def _defaults(portal: Portal, info: TypeInfo, ctx: AuthContext, item_id: int) -> dict[str, Any]:
    now = now_iso()
    item: dict[str, Any] = {f.name: ([] if f.multiple else None) for f in info.fields}
    item.update({"id": item_id, "createdBy": ctx.user_id, "updatedBy": ctx.user_id, "createdTime": now,
                 "updatedTime": now, "assignedById": ctx.user_id, "opened": "Y"})
    base = portal.store.meta("base_currency") or "USD"
    if "currencyId" in info.field_map and info.enabled(info.field_map["currencyId"]):
        item.update({"currencyId": base, "opportunity": 0.0, "isManualOpportunity": "N", "taxValue": 0.0})
    begin, close = default_dates()
    if info.entity_type_id == DEAL:
        item.update({"title": f"Negociación #{item_id}", "typeId": "SALE", "probability": None,
                     "begindate": begin, "closedate": close, "isRecurring": "N", "isReturnCustomer": "N",
                     "isRepeatedApproach": "N", "sourceId": None})
    elif info.entity_type_id == COMPANY:
        item.update({"title": f"Compañía #{item_id}", "typeId": "CUSTOMER", "isMyCompany": "N", "fm": [],
                     "hasPhone": "N", "hasEmail": "N", "hasImol": "N"})
    elif info.entity_type_id == CONTACT:
        item.update({"typeId": "CLIENT", "export": "Y", "fm": [], "hasPhone": "N", "hasEmail": "N",
                     "hasImol": "N", "name": ""})
    else:
        item["title"] = f"{info.type['title']} #{item_id}" if info.type else f"#{item_id}"
        if info.type and info.type.get("isBeginCloseDatesEnabled") == "Y":
            item.update({"begindate": begin, "closedate": close})
    return item


def _check_required(info: TypeInfo, item: dict[str, Any]) -> None:
    for uf in info.userfields:
        if uf.get("mandatory") == "Y" and item.get(uf["fieldName"]) in (None, "", []):
            raise RestError("CRM_FIELD_ERROR_REQUIRED", f'The "{uf["fieldName"]}" field is required', 400)


def _sync_company_contacts(portal: Portal, company_id: int, contact_ids: list[int]) -> None:
    for contact in list(portal.store.items(CONTACT).values()):
        ids = list(contact.get("companyIds") or [])
        want = int(contact["id"]) in contact_ids
        if want and company_id not in ids:
            ids.append(company_id)
        elif not want and company_id in ids:
            ids.remove(company_id)
        else:
            continue
        contact["companyIds"] = ids
        contact["companyId"] = ids[0] if ids else None
        portal.store.save_item(CONTACT, contact)


def _fire(portal: Portal, ctx: AuthContext, info: TypeInfo, action: str, item_id: int,
          extra: dict[str, Any] | None = None, auth_connector: str | None = None) -> None:
    eti = info.entity_type_id
    if eti in EVENT_PREFIX:
        portal.fire(ctx, EVENT_PREFIX[eti] + action, {"ID": item_id, **(extra or {})}, auth_connector)
    else:
        fields = {"ID": item_id, "ENTITY_TYPE_ID": eti}
        portal.fire(ctx, "ONCRMDYNAMICITEM" + action, fields, auth_connector)
        portal.fire(ctx, f"ONCRMDYNAMICITEM{action}_{eti}", fields, auth_connector)


def add_item(portal: Portal, ctx: AuthContext, info: TypeInfo, fields: dict[str, Any], original: bool = False,
             auth_connector: str | None = None) -> dict[str, Any]:
    check_read_type(portal, ctx)
    if not isinstance(fields, dict):
        raise errors.required_param("fields")
    item_id = portal.store.peek_id(f"item:{info.entity_type_id}")
    item = _defaults(portal, info, ctx, item_id)
    given = _apply(portal, info, item, fields, original)
    _stage_logic(portal, info, item, None, given, ctx)
    _check_required(info, item)
    portal.store.next_id(f"item:{info.entity_type_id}")  # taken only once the item is valid
    portal.store.save_item(info.entity_type_id, item)
    if info.entity_type_id == COMPANY and "contactIds" in given:
        _sync_company_contacts(portal, item_id, given["contactIds"])
    _fire(portal, ctx, info, "ADD", item_id, auth_connector=auth_connector)
    return item


def get_visible(portal: Portal, ctx: AuthContext, info: TypeInfo, item_id: Any) -> dict[str, Any]:
    access = check_read_type(portal, ctx)
    number = as_int(item_id)
    if number is None:
        raise errors.required_param("id")
    item = portal.store.items(info.entity_type_id).get(number)
    if item is None:
        raise errors.not_found("Element not found")
    if not can_see(portal, ctx, item, access):
        raise errors.access_denied()
    return item


def update_item(portal: Portal, ctx: AuthContext, info: TypeInfo, item_id: Any, fields: dict[str, Any],
                original: bool = False, auth_connector: str | None = None) -> tuple[dict[str, Any], bool]:
    """Returns (item, changed). Nothing changed: no save, no event (crm-item-update.md)."""
    old = get_visible(portal, ctx, info, item_id)
    if not isinstance(fields, dict):
        raise errors.required_param("fields")
    item = copy.deepcopy(old)
    given = _apply(portal, info, item, fields, original)
    _stage_logic(portal, info, item, old, given, ctx)
    company_contacts_changed = (info.entity_type_id == COMPANY and "contactIds" in given)
    if item == old and not company_contacts_changed and not given.pop(RAW_CHANGE, False):
        return old, False
    _check_required(info, item)
    item["updatedTime"], item["updatedBy"] = now_iso(), ctx.user_id
    portal.store.save_item(info.entity_type_id, item)
    if company_contacts_changed:
        _sync_company_contacts(portal, int(item["id"]), given["contactIds"])
    if info.entity_type_id == DEAL and int(old.get("categoryId") or 0) != int(item.get("categoryId") or 0):
        portal.fire(ctx, "ONCRMDEALMOVETOCATEGORY",
                    {"ID": item["id"], "CATEGORY_ID": item["categoryId"], "STAGE_ID": item["stageId"]},
                    auth_connector)
    else:
        _fire(portal, ctx, info, "UPDATE", int(item["id"]), auth_connector=auth_connector)
    return item, True


def _unlink_everywhere(portal: Portal, entity_type_id: int, item_id: int) -> None:
    """Other items lose their links to a deleted one (parent field, client fields), without events."""
    name = f"parentId{entity_type_id}"
    for eti, items in list(portal.store._items.items()):
        for other in list(items.values()):
            changed = False
            if other.get(name) == item_id:
                other[name], changed = None, True
            if entity_type_id == COMPANY and eti != CONTACT and other.get("companyId") == item_id:
                other["companyId"], changed = None, True
            if entity_type_id == CONTACT and item_id in (other.get("contactIds") or []):
                other["contactIds"] = [c for c in other["contactIds"] if c != item_id]
                other["contactId"] = (other["contactIds"] or [None])[0]
                changed = True
            if changed:
                portal.store.save_item(eti, other)


def delete_item(portal: Portal, ctx: AuthContext, info: TypeInfo, item_id: Any,
                auth_connector: str | None = None) -> None:
    item = get_visible(portal, ctx, info, item_id)
    portal.store.delete_item(info.entity_type_id, int(item["id"]))
    _unlink_everywhere(portal, info.entity_type_id, int(item["id"]))
    if info.entity_type_id == COMPANY:
        _sync_company_contacts(portal, int(item["id"]), [])
    _fire(portal, ctx, info, "DELETE", int(item["id"]), auth_connector=auth_connector)
