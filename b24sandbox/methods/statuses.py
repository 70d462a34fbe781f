"""crm.status.list/add/update/delete and crm.category.list/get/add (api-reference/crm/status/*.md,
api-reference/crm/universal/category/*.md)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from b24sandbox import errors, filters, pipelines
from b24sandbox.auth import AuthContext
from b24sandbox.crm_fields import DEAL
from b24sandbox.crm_model import (
    categories,
    check_read_type,
    dynamic_type,
    invalidate_semantics,
    require_crm_admin,
    type_info,
)
from b24sandbox.errors import RestError
from b24sandbox.methods import Page, method, paging, param
from b24sandbox.wire import as_int, as_map, truthy

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

_STAGE_DIR = re.compile(r"^(?:DEAL_STAGE(?:_(\d+))?|DYNAMIC_(\d+)_STAGE_(\d+))$")


def _status_prefix(entity_id: str) -> str:
    match = _STAGE_DIR.match(entity_id)
    if not match:
        return ""
    if entity_id.startswith("DEAL_STAGE"):
        return f"C{match.group(1)}:" if match.group(1) else ""
    return f"DT{match.group(2)}_{match.group(3)}:"


def _save(portal: Portal, status: dict[str, Any]) -> None:
    portal.store.put("statuses", {"id": int(status["ID"]), "entity_id": status["ENTITY_ID"],
                                  "status_id": status["STATUS_ID"]}, status)
    invalidate_semantics(portal)


def _by_id(portal: Portal, params: dict[str, Any]) -> dict[str, Any]:
    number = as_int(param(params, "id", "ID"))
    status = portal.store.doc("statuses", number) if number else None
    if status is None:
        raise RestError("", "Not found", 400)
    return status


@method("crm.status.list", scope="crm")
def status_list(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    if portal.crm_access(ctx.user_id) == "none":
        raise errors.access_denied("Access denied.")
    flt = param(params, "filter", "FILTER", default={}) or {}
    rows = [s for s in portal.store.docs("statuses") if filters.matches(flt, lambda n, s=s: s.get(n.upper()))]
    order = as_map(param(params, "order", "ORDER")) or {"SORT": "ASC"}
    rows = filters.sort_rows(rows, {str(k).upper(): v for k, v in order.items()},
                             lambda s, f: s.get(f))
    page, total, nxt, _ = paging(params, rows)
    return Page(page, total, nxt)


@method("crm.status.add", scope="crm")
def status_add(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    fields = {str(k).upper(): v for k, v in as_map(param(params, "fields", "FIELDS")).items()}
    for required in ("ENTITY_ID", "STATUS_ID", "NAME"):
        if not fields.get(required):
            raise RestError("", f"The field '{required}' is required.", 400)
    entity_id = str(fields["ENTITY_ID"])
    prefix = _status_prefix(entity_id)
    status_id = str(fields["STATUS_ID"])
    if prefix and not status_id.startswith(prefix):
        status_id = prefix + status_id
    existing = portal.store.docs("statuses", "entity_id = ?", [entity_id])
    if any(s["STATUS_ID"] == status_id for s in existing):
        raise RestError("", f"Status with ID '{status_id}' already exists.", 400)
    semantics = str(fields.get("SEMANTICS") or "").upper() or None
    if semantics not in (None, "S", "F"):
        semantics = None
    match = _STAGE_DIR.match(entity_id)
    category = None
    if match and (match.group(1) or match.group(3)):
        category = int(match.group(1) or match.group(3))
    status = pipelines.add_status(portal, entity_id, status_id, str(fields["NAME"]),
                                  as_int(fields.get("SORT"), 10) or 10, semantics, fields.get("COLOR"), "N",
                                  category)
    return int(status["ID"])


@method("crm.status.update", scope="crm")
def status_update(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    status = _by_id(portal, params)
    fields = {str(k).upper(): v for k, v in as_map(param(params, "fields", "FIELDS")).items()}
    if "NAME" in fields:
        status["NAME"] = str(fields["NAME"])
    if "SORT" in fields:
        status["SORT"] = str(as_int(fields["SORT"], 10))
    if "COLOR" in fields:
        status["COLOR"] = fields["COLOR"]
        status["EXTRA"] = {**(status.get("EXTRA") or {}), "COLOR": fields["COLOR"]}
    if "SEMANTICS" in fields:
        semantics = str(fields["SEMANTICS"] or "").upper() or None
        status["SEMANTICS"] = semantics if semantics in ("S", "F") else None
        status["EXTRA"] = {**(status.get("EXTRA") or {}),
                           "SEMANTICS": pipelines.EXTRA_SEMANTICS.get(status["SEMANTICS"], "process")}
    _save(portal, status)
    return True


@method("crm.status.delete", scope="crm")
def status_delete(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    status = _by_id(portal, params)
    forced = truthy(as_map(param(params, "params", "PARAMS")).get("FORCED", "N"))
    if status.get("SYSTEM") == "Y" and not forced:
        raise RestError("", "Can't delete system status", 400)
    portal.store.delete("statuses", int(status["ID"]))
    invalidate_semantics(portal)
    return True


@method("crm.category.list", scope="crm")
def category_list(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = type_info(portal, param(params, "entityTypeId", "ENTITY_TYPE_ID"))
    check_read_type(portal, ctx)
    rows = categories(portal, info.entity_type_id)
    page, total, nxt, _ = paging(params, rows)
    return Page({"categories": page}, total, nxt)


@method("crm.category.get", scope="crm")
def category_get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = type_info(portal, param(params, "entityTypeId", "ENTITY_TYPE_ID"))
    check_read_type(portal, ctx)
    wanted = as_int(param(params, "id", "ID"))
    for category in categories(portal, info.entity_type_id):
        if int(category["id"]) == wanted:
            return {"category": category}
    raise errors.not_found("Category not found")


@method("crm.category.add", scope="crm")
def category_add(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    info = type_info(portal, param(params, "entityTypeId", "ENTITY_TYPE_ID"))
    require_crm_admin(portal, ctx)
    if info.entity_type_id != DEAL:
        spa = dynamic_type(portal, info.entity_type_id)
        if not spa or spa.get("isCategoriesEnabled") != "Y":
            raise RestError("ENTITY_TYPE_NOT_SUPPORTED", "Categories are not supported for this type", 400)
    fields = as_map(param(params, "fields", "FIELDS"))
    if not fields.get("name"):
        raise RestError("CRM_FIELD_ERROR_REQUIRED", 'The "Name" field is required', 400)
    category = pipelines.create_category(portal, info.entity_type_id, str(fields["name"]),
                                         as_int(fields.get("sort"), 500) or 500)
    return {"category": category}
