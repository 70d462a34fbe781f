"""crm.deal.*, crm.company.*, crm.contact.* (deprecated upstream, still used) and crm.company.contact.items.get.

UPPER_CASE keys and string values (``OPPORTUNITY`` "1000.00"), ``PHONE``/``EMAIL`` multifields,
``PARENT_ID_{N}``, ``STAGE_SEMANTIC_ID``. api-reference/crm/deals/crm-deal-*.md, crm/contacts, crm/companies,
crm/data-types.md#crm_multifield. Legacy errors carry an empty ``error`` code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24sandbox import crm_write, errors, filters
from b24sandbox.auth import AuthContext
from b24sandbox.crm_fields import COMPANY, CONTACT, DEAL, MULTIFIELD_TYPES, Field
from b24sandbox.crm_model import TypeInfo, company_contact_ids, semantics_map, type_info
from b24sandbox.errors import RestError
from b24sandbox.field_names import system_names
from b24sandbox.methods import Page, method, paging, param
from b24sandbox.methods.crm_items import visible_items
from b24sandbox.wire import as_int, date_iso, parse_date

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

ENTITIES = {"deal": DEAL, "contact": CONTACT, "company": COMPANY}
SKIP_MULTIPLE = {"contactIds", "companyIds", "observers"}


def legacy_error(exc: RestError) -> RestError:
    if exc.code == "NOT_FOUND":
        return RestError("", "Not found", 400)
    if exc.code == "ACCESS_DENIED":
        return RestError("", "Access denied.", 400)
    return exc


def _upper_value(f: Field, value: Any) -> Any:
    if value is None or value == []:
        return None
    if f.type == "double":
        return f"{float(value):.2f}"
    if f.type == "date":
        day = parse_date(value)
        return date_iso(day) if day else None
    return str(value)


def to_upper(portal: Portal, info: TypeInfo, item: dict[str, Any], select: set[str] | None,
             single: bool) -> dict[str, Any]:
    everything = not select or "*" in select
    uf_all = single or bool(select and "UF_*" in select)
    out: dict[str, Any] = {}
    for f in info.fields:
        if f.name in SKIP_MULTIPLE or (not everything and f.upper not in select and f.upper != "ID"):
            continue
        if f.name == "stageSemanticId":
            out[f.upper] = semantics_map(portal).get(item.get("stageId") or "", "P")
        else:
            out[f.upper] = _upper_value(f, item.get(f.name))
    for parent in info.parents:
        key = f"PARENT_ID_{parent}"
        if everything or key in select:
            value = item.get(f"parentId{parent}")
            out[key] = str(value) if value else None
    for uf in info.userfields:
        if uf_all or (select and uf["fieldName"] in select):
            value = item.get(uf["fieldName"])
            if isinstance(value, list):
                out[uf["fieldName"]] = [str(v) for v in value]
            elif isinstance(value, bool):
                out[uf["fieldName"]] = "1" if value else "0"
            else:
                out[uf["fieldName"]] = None if value is None else str(value)
    if info.entity_type_id in (CONTACT, COMPANY):
        for kind in MULTIFIELD_TYPES:
            if (single or (select and kind in select)):
                rows = [{"ID": str(m["id"]), "VALUE_TYPE": m["valueType"], "VALUE": m["value"], "TYPE_ID": kind}
                        for m in item.get("fm") or [] if m["typeId"] == kind]
                if rows or (select and kind in select):
                    out[kind] = rows
    return out


def from_upper(info: TypeInfo, fields: dict[str, Any]) -> dict[str, Any]:
    """UPPER_CASE input -> the camelCase fields crm_write understands (user fields stay UF_*)."""
    by_upper = system_names(info)
    out: dict[str, Any] = {}
    fm: list[dict[str, Any]] = []
    for key, value in fields.items():
        key_u = str(key).upper()
        if key_u in MULTIFIELD_TYPES and info.entity_type_id in (CONTACT, COMPANY):
            entries = value.values() if isinstance(value, dict) else (value or [])
            for entry in entries:
                if isinstance(entry, dict):
                    fm.append({**entry, "TYPE_ID": key_u})
        elif key_u.startswith("PARENT_ID_"):
            out[f"parentId{key_u[len('PARENT_ID_'):]}"] = value
        elif key_u.startswith("UF_"):
            out[key_u] = value
        elif key_u == "CONTACT_IDS":
            out["contactIds"] = value
        elif key_u == "COMPANY_IDS":
            out["companyIds"] = value
        elif key_u in by_upper:
            out[by_upper[key_u]] = value
    if fm:
        out["fm"] = fm
    return out


def _map_filter(info: TypeInfo, flt: Any) -> Any:
    by_upper = system_names(info)
    entries = flt.items() if isinstance(flt, dict) else enumerate(flt or [])
    out: dict[str, Any] = {}
    for key, value in entries:
        key = str(key)
        if key.upper() == "LOGIC":
            out["logic"] = value
            continue
        if key.isdigit() and isinstance(value, dict | list):
            out[key] = _map_filter(info, value)
            continue
        op, name = filters.split_key(key)
        name_u = name.upper()
        if name_u.startswith("PARENT_ID_"):
            camel = f"parentId{name_u[len('PARENT_ID_'):]}"
        elif name_u.startswith("UF_"):
            camel = name_u
        else:
            camel = by_upper.get(name_u, name)
        out[("" if op == "=" and not key.startswith("=") else op) + camel] = value
    return out


def _select(params: dict[str, Any]) -> set[str] | None:
    select = param(params, "select", "SELECT")
    if not select:
        return None
    values = select.values() if isinstance(select, dict) else (select if isinstance(select, list) else [select])
    return {str(v).upper() if str(v) != "UF_*" else "UF_*" for v in values}


def _register(entity: str) -> None:
    eti = ENTITIES[entity]

    def info(portal: Portal) -> TypeInfo:
        return type_info(portal, eti)

    def add(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
        fields = param(params, "fields", "FIELDS")
        if not isinstance(fields, dict):
            raise RestError("", "Parameter 'fields' must be array.", 400)
        ti = info(portal)
        try:
            item = crm_write.add_item(portal, ctx, ti, from_upper(ti, fields), True,
                                      param(params, "auth_connector") or None)
        except RestError as exc:
            raise legacy_error(exc) from exc
        return int(item["id"])

    def get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
        ti = info(portal)
        if not as_int(param(params, "id", "ID")):
            raise RestError("", "ID is not defined or invalid.", 400)
        try:
            item = crm_write.get_visible(portal, ctx, ti, param(params, "id", "ID"))
        except RestError as exc:
            raise legacy_error(exc) from exc
        return to_upper(portal, ti, item, None, single=True)

    def list_(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
        ti = info(portal)
        flt = _map_filter(ti, param(params, "filter", "FILTER", default={}) or {})
        order = param(params, "order", "ORDER")
        order_c = _map_filter(ti, order) if order else None
        try:
            rows = visible_items(portal, ctx, ti, flt, order_c)
        except RestError as exc:
            raise legacy_error(exc) from exc
        page, total, nxt, _ = paging(params, rows)
        select = _select(params)
        return Page([to_upper(portal, ti, item, select, single=False) for item in page], total, nxt)

    def update(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
        ti = info(portal)
        fields = param(params, "fields", "FIELDS")
        if not as_int(param(params, "id", "ID")):
            raise RestError("", "ID is not defined or invalid.", 400)
        if not isinstance(fields, dict):
            raise RestError("", "Parameter 'fields' must be array.", 400)
        try:
            crm_write.update_item(portal, ctx, ti, param(params, "id", "ID"), from_upper(ti, fields), True,
                                  param(params, "auth_connector") or None)
        except RestError as exc:
            raise legacy_error(exc) from exc
        return True

    def delete(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
        ti = info(portal)
        if not as_int(param(params, "id", "ID")):
            raise RestError("", "ID is not defined or invalid.", 400)
        try:
            crm_write.delete_item(portal, ctx, ti, param(params, "id", "ID"), param(params, "auth_connector") or None)
        except RestError as exc:
            raise legacy_error(exc) from exc
        return True

    def fields_(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
        ti = info(portal)
        out: dict[str, Any] = {}
        for f in ti.fields:
            if f.name in SKIP_MULTIPLE:
                continue
            out[f.upper] = {"type": f.type, "isRequired": False, "isReadOnly": f.read_only,
                            "isImmutable": False, "isMultiple": f.multiple, "isDynamic": False,
                            "title": f.title or f.upper}
        for parent in ti.parents:
            out[f"PARENT_ID_{parent}"] = {"type": "crm_entity", "isRequired": False, "isReadOnly": False,
                                          "isImmutable": False, "isMultiple": False, "isDynamic": False,
                                          "title": "Parent", "settings": {"parentEntityTypeId": parent}}
        for uf in ti.userfields:
            out[uf["fieldName"]] = {"type": uf["userTypeId"], "isRequired": uf.get("mandatory") == "Y",
                                    "isReadOnly": False, "isImmutable": False,
                                    "isMultiple": uf.get("multiple") == "Y", "isDynamic": True,
                                    "title": uf["fieldName"]}
        return out

    for action, func in (("add", add), ("get", get), ("list", list_), ("update", update), ("delete", delete),
                         ("fields", fields_)):
        method(f"crm.{entity}.{action}", scope="crm")(func)


for _entity in ENTITIES:
    _register(_entity)


@method("crm.company.contact.items.get", scope="crm")
def company_contacts(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    ti = type_info(portal, COMPANY)
    try:
        company = crm_write.get_visible(portal, ctx, ti, param(params, "id", "ID"))
    except RestError as exc:
        if exc.code == "ACCESS_DENIED":
            raise errors.access_denied() from exc
        raise legacy_error(exc) from exc
    ids = company_contact_ids(portal, int(company["id"]))
    return [{"CONTACT_ID": cid, "SORT": (index + 1) * 10, "ROLE_ID": 0, "IS_PRIMARY": "Y" if index == 0 else "N"}
            for index, cid in enumerate(ids)]


@method("crm.deal.contact.items.get", scope="crm")
def deal_contacts(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    """api-reference/crm/deals/contacts/crm-deal-contact-items-get.md"""
    ti = type_info(portal, DEAL)
    try:
        deal = crm_write.get_visible(portal, ctx, ti, param(params, "id", "ID"))
    except RestError as exc:
        raise legacy_error(exc) from exc
    return [{"CONTACT_ID": cid, "SORT": (index + 1) * 10, "ROLE_ID": 0, "IS_PRIMARY": "Y" if index == 0 else "N"}
            for index, cid in enumerate(deal.get("contactIds") or [])]


@method("crm.contact.company.items.get", scope="crm")
def contact_companies(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    """api-reference/crm/contacts/company/crm-contact-company-items-get.md"""
    ti = type_info(portal, CONTACT)
    try:
        contact = crm_write.get_visible(portal, ctx, ti, param(params, "id", "ID"))
    except RestError as exc:
        raise legacy_error(exc) from exc
    return [{"COMPANY_ID": cid, "SORT": (index + 1) * 10, "ROLE_ID": 0, "IS_PRIMARY": "Y" if index == 0 else "N"}
            for index, cid in enumerate(contact.get("companyIds") or [])]
