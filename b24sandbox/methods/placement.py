"""placement.bind/unbind/get/list (api-reference/widgets/placement-*.md).

Deviation: handlers on http://127.0.0.1 / localhost are accepted (everything is local); a real portal
refuses them. Binding the same PLACEMENT + HANDLER again updates the binding (undocumented upstream).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from b24sandbox import errors
from b24sandbox.auth import AuthContext
from b24sandbox.crm_model import all_types
from b24sandbox.errors import RestError
from b24sandbox.methods import method, param
from b24sandbox.methods.app import current_app
from b24sandbox.wire import as_int, truthy

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

CRM_OBJECTS = ("LEAD", "DEAL", "CONTACT", "COMPANY", "QUOTE", "SMART_INVOICE")
CRM_SLOTS = ("DETAIL_TAB", "LIST_MENU", "DETAIL_TOOLBAR", "DETAIL_ACTIVITY", "LIST_TOOLBAR")
GENERAL = ("LEFT_MENU", "REST_APP_URI", "PAGE_BACKGROUND_WORKER")
SINGLE_INSTANCE = ("REST_APP_URI", "PAGE_BACKGROUND_WORKER")


def available(portal: Portal) -> dict[str, str]:
    """placement code -> the scope it needs."""
    codes = {code: "placement" for code in GENERAL}
    for obj in CRM_OBJECTS:
        for slot in CRM_SLOTS:
            codes[f"CRM_{obj}_{slot}"] = "crm"
    codes["CRM_ANALYTICS_MENU"] = "crm"
    for spa in all_types(portal):
        for slot in CRM_SLOTS:
            codes[f"CRM_DYNAMIC_{spa['entityTypeId']}_{slot}"] = "crm"
    return codes


def check_handler(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RestError("ERROR_UNSUPPORTED_PROTOCOL", "Unsupported event handler protocol", 400)
    if not parts.hostname:
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL", 400)


def _require_admin(portal: Portal, ctx: AuthContext) -> None:
    if not portal.is_admin(ctx.user_id):
        raise errors.access_denied("Access denied! Administrator access required", 403)


@method("placement.bind", scope="placement", app_only=True)
def bind(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    _require_admin(portal, ctx)
    code = str(param(params, "PLACEMENT", "placement", default="") or "").upper()
    if not code:
        raise errors.argument_error("PLACEMENT", status=200)
    needed = available(portal).get(code)
    if needed is None or (needed != "placement" and not ctx.has_scope(needed)):
        raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found", 400)
    handler = str(param(params, "HANDLER", "handler", default="") or "")
    if not handler:
        raise errors.argument_error("HANDLER", status=200)
    check_handler(handler)
    user_id = as_int(param(params, "USER_ID", "user_id"), 0) or 0
    if user_id and code != "PAGE_BACKGROUND_WORKER":
        raise RestError("ERROR_PLACEMENT_USER_MODE", "User mode is not available for this placement", 200)
    table = portal.store.db["placements"]
    existing = list(table.rows_where("client_id = ? and placement = ?", [app["client_id"], code]))
    if code in SINGLE_INSTANCE and existing:
        raise RestError("ERROR_PLACEMENT_MAX_COUNT", "Placement max count exceeded", 200)
    lang_all = param(params, "LANG_ALL", "lang_all", default={}) or {}
    title = param(params, "TITLE", "title", default="") or app["title"]
    data = {"handler": handler, "title": str(title),
            "description": str(param(params, "DESCRIPTION", "description", default="") or ""),
            "group_name": str(param(params, "GROUP_NAME", "group_name", default="") or ""),
            "lang_all": lang_all if isinstance(lang_all, dict) else {},
            "options": param(params, "OPTIONS", "options", default={}) or {}, "user_id": user_id}
    for row in existing:
        if json.loads(row["data"])["handler"] == handler:
            portal.store.put("placements", {"id": row["id"], "client_id": app["client_id"], "placement": code},
                             data)
            return True
    new_id = portal.store.next_id("placement")
    portal.store.put("placements", {"id": new_id, "client_id": app["client_id"], "placement": code}, data)
    return True


@method("placement.unbind", scope="placement", app_only=True)
def unbind(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    _require_admin(portal, ctx)
    code = str(param(params, "PLACEMENT", "placement", default="") or "").upper()
    if not code:
        raise errors.argument_error("PLACEMENT")
    handler = param(params, "HANDLER", "handler")
    count = 0
    for row in list(portal.store.db["placements"].rows_where("client_id = ? and placement = ?",
                                                             [app["client_id"], code])):
        if handler and json.loads(row["data"])["handler"] != handler:
            continue
        portal.store.delete("placements", row["id"])
        count += 2  # the rest module counts each record once when found and once when removed
    return {"count": count}


@method("placement.get", scope="placement", app_only=True)
def get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    _require_admin(portal, ctx)
    out = []
    for row in portal.store.db["placements"].rows_where("client_id = ?", [app["client_id"]], order_by="id"):
        data = json.loads(row["data"])
        out.append({"placement": row["placement"], "userId": data["user_id"], "handler": data["handler"],
                    "options": data["options"], "title": data["title"], "description": data["description"],
                    "langAll": data["lang_all"]})
    return out


@method("placement.list", scope="placement", app_only=True)
def list_(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    current_app(portal, ctx)
    scope = param(params, "SCOPE", "scope")
    codes = [c for c, needed in available(portal).items()
             if (needed == "placement" or ctx.has_scope(needed)) and (not scope or needed == str(scope))]
    if truthy(param(params, "FULL", "full", default=False)):
        return {c: {"scope": available(portal)[c]} for c in codes}
    return codes
