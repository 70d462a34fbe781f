"""crm.type.* — smart processes (api-reference/crm/universal/user-defined-object-types/*.md).

``id`` and ``entityTypeId`` are independent numbers; a new type gets its default pipeline (a portal-wide
category id, NOT 0) and the stage directory ``DYNAMIC_{eti}_STAGE_{cat}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24sandbox import errors, filters, pipelines
from b24sandbox.auth import AuthContext
from b24sandbox.crm_model import all_types, dynamic_type, require_crm_admin
from b24sandbox.errors import RestError
from b24sandbox.methods import Page, method, paging, param
from b24sandbox.wire import as_int, now_iso, truthy

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

FLAGS = {  # flag -> default
    "isCategoriesEnabled": "N", "isStagesEnabled": "N", "isBeginCloseDatesEnabled": "N",
    "isClientEnabled": "N", "isUseInUserfieldEnabled": "N", "isLinkWithProductsEnabled": "N",
    "isMycompanyEnabled": "N", "isDocumentsEnabled": "N", "isSourceEnabled": "N", "isObserversEnabled": "N",
    "isRecyclebinEnabled": "N", "isAutomationEnabled": "N", "isBizProcEnabled": "N",
    "isSetOpenPermissions": "Y", "isPaymentsEnabled": "N", "isCountersEnabled": "N",
}


def not_found() -> RestError:
    return RestError(0, "SPA not found", 400)  # type: ignore[arg-type]  # the docs show "error": 0


def valid_entity_type_id(value: int) -> bool:
    return 128 <= value <= 192 or (value >= 1030 and value % 2 == 0)


def _relations(raw: Any, client_enabled: bool) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"parent": [], "child": []}
    if client_enabled:
        for eti in (3, 4):
            out["parent"].append({"entityTypeId": eti, "isChildrenListEnabled": "Y", "isPredefined": "Y"})
    raw = raw if isinstance(raw, dict) else {}
    for kind in ("parent", "child"):
        entries = raw.get(kind) or []
        if isinstance(entries, dict):
            entries = list(entries.values())
        for rel in entries:
            if not isinstance(rel, dict) or not as_int(rel.get("entityTypeId")):
                continue
            eti = int(as_int(rel["entityTypeId"]) or 0)
            if any(r["entityTypeId"] == eti for r in out[kind]):
                continue
            enabled = str(rel.get("isChildrenListEnabled", "false")).lower() == "true"  # only "true"/"false"
            out[kind].append({"entityTypeId": eti, "isChildrenListEnabled": "Y" if enabled else "N",
                              "isPredefined": "N"})
    return out


def _save(portal: Portal, spa: dict[str, Any]) -> None:
    portal.store.put("types", {"id": spa["id"], "entity_type_id": spa["entityTypeId"]}, spa)


def _by_id(portal: Portal, type_id: Any) -> dict[str, Any]:
    number = as_int(type_id)
    if number is None:
        raise errors.required_param("id")
    spa = portal.store.doc("types", number)
    if spa is None:
        raise not_found()
    return spa


def _read_check(portal: Portal, ctx: AuthContext) -> None:
    if portal.crm_access(ctx.user_id) == "none":
        raise errors.access_denied()


@method("crm.type.add", scope="crm")
def add(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    fields = param(params, "fields", "FIELDS")
    if not isinstance(fields, dict) or not fields:
        raise errors.required_param("fields")
    if not fields.get("title"):
        raise RestError("CRM_FIELD_ERROR_REQUIRED", 'The "Name" field is required', 400)
    eti = as_int(fields.get("entityTypeId"))
    used = {int(t["entityTypeId"]) for t in all_types(portal)}
    if eti:
        if not valid_entity_type_id(eti):
            raise RestError("INVALID_ARG_VALUE", "entityTypeId is out of allowed range", 400)
        if eti in used:
            raise RestError("INVALID_ARG_VALUE", "entityTypeId is already in use", 400)
    else:
        eti = 1030
        while eti in used:
            eti += 2
    type_id = portal.store.next_id("type")
    now = now_iso()
    spa: dict[str, Any] = {"id": type_id, "title": str(fields["title"]), "code": fields.get("code"),
                           "createdBy": ctx.user_id, "entityTypeId": eti, "customSectionId": None}
    for flag, default in FLAGS.items():
        spa[flag] = "Y" if truthy(fields.get(flag, default)) else "N"
    spa.update({"createdTime": now, "updatedTime": now, "updatedBy": ctx.user_id,
                "relations": _relations(fields.get("relations"), spa["isClientEnabled"] == "Y"),
                "linkedUserFields": fields.get("linkedUserFields") or {}, "customSections": []})
    _save(portal, spa)
    pipelines.create_category(portal, eti, "General", sort=500, is_default=True)
    portal.fire(ctx, "ONCRMTYPEADD", {"ID": type_id})
    return {"type": spa}


@method("crm.type.update", scope="crm")
def update(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    spa = _by_id(portal, param(params, "id", "ID"))
    fields = param(params, "fields", "FIELDS") or {}
    if not isinstance(fields, dict):
        raise errors.required_param("fields")
    if fields.get("title"):
        spa["title"] = str(fields["title"])
    for flag in FLAGS:
        if flag in fields:
            spa[flag] = "Y" if truthy(fields[flag]) else "N"
    if "relations" in fields:  # sent in full: they are overwritten
        spa["relations"] = _relations(fields["relations"], spa["isClientEnabled"] == "Y")
    elif "isClientEnabled" in fields:
        spa["relations"] = _relations({k: [r | {"isChildrenListEnabled": "true" if r["isChildrenListEnabled"] == "Y"
                                                 else "false"} for r in v if r["isPredefined"] == "N"]
                                       for k, v in spa["relations"].items()}, spa["isClientEnabled"] == "Y")
    spa["updatedTime"], spa["updatedBy"] = now_iso(), ctx.user_id
    _save(portal, spa)
    portal.fire(ctx, "ONCRMTYPEUPDATE", {"ID": spa["id"]})
    return {"type": spa}


@method("crm.type.get", scope="crm")
def get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    _read_check(portal, ctx)
    return {"type": _by_id(portal, param(params, "id", "ID"))}


@method("crm.type.getByEntityTypeId", scope="crm")
def get_by_eti(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    _read_check(portal, ctx)
    eti = as_int(param(params, "entityTypeId", "ENTITY_TYPE_ID"))
    if eti is None:
        raise errors.required_param("entityTypeId")
    spa = dynamic_type(portal, eti)
    if spa is None:
        raise not_found()
    return {"type": spa}


@method("crm.type.list", scope="crm")
def list_(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    flt = param(params, "filter", "FILTER", default={}) or {}
    rows = [t for t in all_types(portal) if filters.matches(flt, lambda n, t=t: t.get(n))]
    order = param(params, "order", "ORDER") or {"id": "ASC"}
    rows = filters.sort_rows(rows, order, lambda t, f: t.get(f))
    page, total, nxt, _ = paging(params, rows)
    return Page({"types": [{k: v for k, v in t.items() if k != "relations"} for t in page]}, total, nxt)


@method("crm.type.delete", scope="crm")
def delete(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    spa = _by_id(portal, param(params, "id", "ID"))
    eti = int(spa["entityTypeId"])
    if portal.store.items(eti):
        raise RestError("BX_ERROR", "You cannot delete an entity type that has elements", 400)
    pipelines.delete_pipelines(portal, eti)
    portal.store.db["userfields"].delete_where("entity_id = ?", [f"CRM_{spa['id']}"])
    portal.store.delete("types", spa["id"])
    portal.fire(ctx, "ONCRMTYPEDELETE", {"ID": spa["id"]})
    return None


@method("crm.type.fields", scope="crm")
def fields_(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    out: dict[str, Any] = {
        "id": {"type": "integer", "isReadOnly": True, "title": "ID"},
        "title": {"type": "string", "isRequired": True, "title": "Name"},
        "entityTypeId": {"type": "integer", "isImmutable": True, "title": "Entity type ID"},
    }
    for flag in FLAGS:
        out[flag] = {"type": "boolean", "isRequired": False, "isReadOnly": False, "title": flag}
    out["relations"] = {"type": "relations", "title": "Relations"}
    return {"fields": out}
