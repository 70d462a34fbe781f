"""crm.item.add/get/list/update/delete/fields for deals (2), contacts (3), companies (4) and smart processes.

api-reference/crm/universal/crm-item-*.md. Page size 50; ``start=-1`` skips counting; ``fm`` only with
``select: ["*"]`` in lists; items the user may not read are silently left out. Field names may come in
UPPER_CASE or camelCase (``field_names.py``); answers are camelCase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24sandbox import crm_write, errors, filters, item_query
from b24sandbox import field_names as names
from b24sandbox.auth import AuthContext
from b24sandbox.crm_model import (
    TypeInfo,
    can_see,
    check_filter,
    check_order,
    check_read_type,
    reader,
    render,
    type_info,
)
from b24sandbox.methods import Page, method, param
from b24sandbox.wire import truthy

if TYPE_CHECKING:
    from b24sandbox.portal import Portal


def _info(portal: Portal, params: dict[str, Any]) -> TypeInfo:
    return type_info(portal, param(params, "entityTypeId", "ENTITY_TYPE_ID"))


def _original(params: dict[str, Any]) -> bool:
    return truthy(param(params, "useOriginalUfNames", default="N"))


def _connector(params: dict[str, Any]) -> str | None:
    return param(params, "auth_connector", "AUTH_CONNECTOR") or None


def visible_items(portal: Portal, ctx: AuthContext, info: TypeInfo, flt: Any, order: Any) -> list[dict[str, Any]]:
    access = check_read_type(portal, ctx)
    read = reader(portal, info)
    rows = [item for item in portal.store.items(info.entity_type_id).values()
            if can_see(portal, ctx, item, access) and filters.matches(flt, lambda n, i=item: read(i, n))]
    rows.sort(key=lambda i: int(i["id"]))
    if order:
        rows = filters.sort_rows(rows, order, read)
    return rows


@method("crm.item.list", scope="crm")
def item_list(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = _info(portal, params)
    spelled = names.item_names(info)
    flt = names.in_filter(spelled, param(params, "filter", default={}) or {})
    order = names.in_keys(spelled, param(params, "order", default=None))
    check_filter(info, flt)
    check_order(info, order)
    access = check_read_type(portal, ctx)
    page, total, nxt = item_query.list_page(portal, info, access, ctx.user_id, flt, order, params)
    select = param(params, "select", default=None) or ["*"]
    select_list = names.in_select(spelled, list(select.values()) if isinstance(select, dict) else (
        select if isinstance(select, list) else [select]))
    with_fm = "*" in select_list
    items = [render(portal, info, item, select_list, _original(params), with_fm) for item in page]
    return Page({"items": items}, total, nxt)


@method("crm.item.get", scope="crm")
def item_get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = _info(portal, params)
    item = crm_write.get_visible(portal, ctx, info, param(params, "id", "ID"))
    return {"item": render(portal, info, item, None, _original(params))}


@method("crm.item.add", scope="crm")
def item_add(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = _info(portal, params)
    fields = names.in_keys(names.item_names(info), param(params, "fields", default=None))
    if not isinstance(fields, dict):
        raise errors.required_param("fields")
    item = crm_write.add_item(portal, ctx, info, fields, _original(params), _connector(params))
    return {"item": render(portal, info, item, None, _original(params))}


@method("crm.item.update", scope="crm")
def item_update(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = _info(portal, params)
    fields = names.in_keys(names.item_names(info), param(params, "fields", default=None))
    if not isinstance(fields, dict):
        raise errors.required_param("fields")
    item, _ = crm_write.update_item(portal, ctx, info, param(params, "id", "ID"), fields, _original(params),
                                    _connector(params))
    return {"item": render(portal, info, item, None, _original(params))}


@method("crm.item.delete", scope="crm")
def item_delete(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = _info(portal, params)
    crm_write.delete_item(portal, ctx, info, param(params, "id", "ID"), _connector(params))
    return []


@method("crm.item.fields", scope="crm")
def item_fields(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = _info(portal, params)
    check_read_type(portal, ctx)
    original = _original(params)
    out: dict[str, Any] = {}
    for f in info.fields:
        if not info.enabled(f):
            continue
        out[f.name] = {"type": f.type, "isRequired": False, "isReadOnly": f.read_only, "isImmutable": False,
                       "isMultiple": f.multiple, "isDynamic": False, "title": f.title or f.name,
                       "upperName": f.upper}
    for parent in info.parents:
        out[f"parentId{parent}"] = {"type": "crm_entity", "isRequired": False, "isReadOnly": False,
                                    "isImmutable": False, "isMultiple": False, "isDynamic": False,
                                    "title": "Parent", "settings": {"parentEntityTypeId": parent},
                                    "upperName": f"PARENT_ID_{parent}"}
    for uf in info.userfields:
        labels = uf.get("editFormLabel") or {}
        out[info.uf_name(uf, original)] = {
            "type": uf["userTypeId"], "isRequired": uf.get("mandatory") == "Y", "isReadOnly": False,
            "isImmutable": False, "isMultiple": uf.get("multiple") == "Y", "isDynamic": True,
            "title": labels.get("la") or labels.get("en") or uf["fieldName"], "upperName": uf["fieldName"],
            "settings": uf.get("settings") or {}}
        if uf["userTypeId"] == "enumeration":  # a list field names its items: the value stored is the ID
            out[info.uf_name(uf, original)]["items"] = [{"ID": str(e["id"]), "VALUE": e["value"]}
                                                        for e in uf.get("enum") or []]
    if info.entity_type_id in (3, 4):
        out["fm"] = {"type": "crm_multifield", "isRequired": False, "isReadOnly": False, "isImmutable": False,
                     "isMultiple": True, "isDynamic": False, "title": "Multifields", "upperName": "FM"}
    return {"fields": out}
