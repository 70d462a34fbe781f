"""userfieldconfig.add/list/get/update/delete (api-reference/crm/universal/userfieldconfig/*.md).

Errors come with an EMPTY ``error`` code and a text ``error_description``, as the docs show.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from b24sandbox import filters
from b24sandbox.auth import AuthContext
from b24sandbox.crm_fields import UF_ENTITY_IDS, uf_prefix
from b24sandbox.errors import RestError
from b24sandbox.methods import Page, method, paging, param
from b24sandbox.wire import as_int, yn

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

TYPES = ("string", "integer", "double", "boolean", "date", "datetime", "enumeration", "money", "url", "address",
         "file", "employee", "crm_status", "crm", "iblock_section", "iblock_element")
LANGS = ("la", "en", "ru", "de")
LABELS = ("editFormLabel", "listColumnLabel", "listFilterLabel", "errorMessage", "helpMessage")
_NAME = re.compile(r"^[A-Z0-9_]+$")


def uf_error(text: str) -> RestError:
    return RestError("", text, 400)


def _entity_ok(portal: Portal, entity_id: str) -> bool:
    if entity_id in UF_ENTITY_IDS:
        return True
    match = re.fullmatch(r"CRM_(\d+)", entity_id)
    return bool(match) and portal.store.doc("types", int(match.group(1))) is not None


def _label_map(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if value in (None, ""):
        return {}
    return {lang: str(value) for lang in LANGS}


def _can_configure(portal: Portal, ctx: AuthContext) -> None:
    if portal.crm_access(ctx.user_id) != "admin":
        raise uf_error("Access denied")


def _present(field: dict[str, Any], language: str | None, with_labels: bool = True) -> dict[str, Any]:
    """A field setting; labels as full lang maps, or (list with ``select.language``) maps of that language only."""
    out = {k: v for k, v in field.items() if k not in LABELS}
    if not with_labels:
        return out
    if language:
        out["languageId"] = {language: language}
    for key in LABELS:
        labels = field.get(key) or {}
        if language:
            out[key] = {language: labels[language]} if language in labels else None
        else:
            out[key] = labels
    return out


def _module_scope(ctx: AuthContext) -> None:
    if not ctx.has_scope("crm"):
        raise uf_error("The current method required more scopes. (crm)")


@method("userfieldconfig.add", scope="userfieldconfig")
def add(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    _module_scope(ctx)
    _can_configure(portal, ctx)
    if str(param(params, "moduleId", default="") or "") != "crm":
        raise uf_error("Module not found")
    field = param(params, "field", default=None)
    if not isinstance(field, dict):
        raise uf_error("The 'FIELD_NAME' field is not found")
    entity_id = str(field.get("entityId") or "")
    name = str(field.get("fieldName") or "")
    kind = str(field.get("userTypeId") or "")
    if not kind or kind not in TYPES and not kind.startswith("rest_"):
        raise uf_error("The 'USER_TYPE_ID' field is not found")
    if not name:
        raise uf_error("The 'FIELD_NAME' field is not found")
    if not entity_id or not _entity_ok(portal, entity_id) or not name.startswith(uf_prefix(entity_id)):
        raise uf_error("You cannot create custom fields")
    if not _NAME.match(name) or len(name) > 50 or len(name) <= len(uf_prefix(entity_id)):
        raise uf_error("Fail to create new user field")
    if list(portal.store.db["userfields"].rows_where("entity_id = ? and field_name = ?", [entity_id, name])):
        raise uf_error(f"Field {name} already exists")
    new_id = portal.store.next_id("userfield", start=100)
    enum = []
    for index, entry in enumerate(field.get("enum") or []):
        if isinstance(entry, dict) and entry.get("value"):
            enum.append({"id": str(portal.store.next_id("uf_enum")), "value": str(entry["value"]),
                         "def": yn(entry.get("def", "N")), "sort": str(entry.get("sort", (index + 1) * 100)),
                         "xmlId": str(entry.get("xmlId") or entry["value"])})
    doc = {
        "id": str(new_id), "entityId": entity_id, "fieldName": name, "userTypeId": kind,
        "xmlId": field.get("xmlId"), "sort": str(field.get("sort") or 100), "multiple": yn(field.get("multiple")),
        "mandatory": yn(field.get("mandatory")), "showFilter": str(field.get("showFilter") or "N"),
        "showInList": "Y", "editInList": yn(field.get("editInList", "Y")),
        "isSearchable": yn(field.get("isSearchable")), "settings": field.get("settings") or {},
        "editFormLabel": _label_map(field.get("editFormLabel")), "listColumnLabel": {},
        "listFilterLabel": {}, "errorMessage": {}, "helpMessage": _label_map(field.get("helpMessage")),
    }
    if kind == "enumeration":
        doc["enum"] = enum
    doc["listColumnLabel"] = dict(doc["editFormLabel"])
    doc["listFilterLabel"] = dict(doc["editFormLabel"])
    portal.store.put("userfields", {"id": new_id, "entity_id": entity_id, "field_name": name}, doc)
    return {"field": _present(doc, None)}


@method("userfieldconfig.list", scope="userfieldconfig")
def list_(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    _module_scope(ctx)
    if portal.crm_access(ctx.user_id) == "none":
        raise uf_error("You do not have permission to view user field settings")
    if str(param(params, "moduleId", default="") or "") != "crm":
        raise uf_error("Module not found")
    select = param(params, "select", default={}) or {}
    language = (select.get("language") or select.get("languageId")) if isinstance(select, dict) else None
    flt = param(params, "filter", default={}) or {}
    rows = [f for f in portal.store.docs("userfields") if filters.matches(flt, lambda n, f=f: f.get(n))]
    order = param(params, "order", default=None) or {"sort": "ASC", "id": "ASC"}
    rows = filters.sort_rows(rows, order, lambda f, k: f.get(k))
    page, total, nxt, _ = paging(params, rows)
    return Page({"fields": [_present(f, language, with_labels=bool(language)) for f in page]}, total, nxt)


def _by_id(portal: Portal, params: dict[str, Any]) -> dict[str, Any]:
    number = as_int(param(params, "id", "ID"))
    doc = portal.store.doc("userfields", number) if number else None
    if doc is None:
        raise uf_error("Field not found")
    return doc


@method("userfieldconfig.get", scope="userfieldconfig")
def get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    if portal.crm_access(ctx.user_id) == "none":
        raise uf_error("Access denied")
    return {"field": _present(_by_id(portal, params), None)}


@method("userfieldconfig.update", scope="userfieldconfig")
def update(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    _can_configure(portal, ctx)
    doc = _by_id(portal, params)
    field = param(params, "field", default={}) or {}
    for key in ("sort", "mandatory", "showFilter", "editInList", "isSearchable", "settings", "xmlId"):
        if key in field:
            doc[key] = field[key] if key in ("settings", "xmlId") else (
                str(field[key]) if key in ("sort", "showFilter") else yn(field[key]))
    for key in LABELS:
        if key in field:
            doc[key] = _label_map(field[key])
    portal.store.put("userfields", {"id": int(doc["id"]), "entity_id": doc["entityId"],
                                    "field_name": doc["fieldName"]}, doc)
    return {"field": _present(doc, None)}


@method("userfieldconfig.delete", scope="userfieldconfig")
def delete(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    _can_configure(portal, ctx)
    doc = _by_id(portal, params)
    portal.store.delete("userfields", int(doc["id"]))
    return True
