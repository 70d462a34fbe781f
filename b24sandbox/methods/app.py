"""app.info, profile, method.get, app.option.get/set (api-reference/common/system/app-info.md,
common/users/profile.md, common/system/method-get.md, common/settings/app-option-*.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from b24sandbox import errors
from b24sandbox.auth import AuthContext
from b24sandbox.methods import method, param

if TYPE_CHECKING:
    from b24sandbox.portal import Portal


def current_app(portal: Portal, ctx: AuthContext) -> dict[str, Any]:
    app = portal.store.doc("apps", ctx.client_id or "")
    if app is None:
        raise errors.access_denied("Access denied! Application context required")
    return app


@method("app.info", app_only=True)
def app_info(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    return {"ID": app["id"], "CODE": app["client_id"], "VERSION": app["version"], "STATUS": "L",
            "INSTALLED": bool(app["installed"]), "PAYMENT_EXPIRED": "N", "DAYS": None, "LANGUAGE_ID": "la",
            "LICENSE": "la_project", "LICENSE_TYPE": "project", "LICENSE_FAMILY": "project"}


@method("profile")
def profile(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    user = portal.user(ctx.user_id) or {}
    if not user.get("ACTIVE"):
        return {}
    return {"ID": user["ID"], "ADMIN": bool(user.get("ADMIN")), "NAME": user["NAME"],
            "LAST_NAME": user["LAST_NAME"], "PERSONAL_GENDER": user.get("PERSONAL_GENDER", ""),
            "TIME_ZONE": user.get("TIME_ZONE", "")}


@method("method.get")
def method_get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    name = str(param(params, "name", "NAME", default="") or "").lower()
    spec = None if name in portal.missing_methods else portal.methods.get(name)
    if spec is None:
        return {"isExisting": False, "isAvailable": False}
    available = ctx.has_scope(spec.scope, spec.alt_scopes) and not (spec.app_only and ctx.kind != "oauth")
    return {"isExisting": True, "isAvailable": available}


@method("app.option.set", app_only=True)
def option_set(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    if not portal.is_admin(ctx.user_id):
        raise errors.access_denied("Access denied! Administrator access required", 403)
    options = param(params, "options", "OPTIONS")
    if not isinstance(options, dict) or not options:
        raise errors.argument_error("options")
    for key, value in options.items():
        portal.store.db["app_options"].upsert({"client_id": app["client_id"], "key": str(key),
                                               "value": json.dumps(value, ensure_ascii=False)},
                                              pk=("client_id", "key"))
    return True


@method("app.option.get", app_only=True)
def option_get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    rows = {r["key"]: json.loads(r["value"])
            for r in portal.store.db["app_options"].rows_where("client_id = ?", [app["client_id"]])}
    name = param(params, "option", "OPTION")
    if name:
        return rows.get(str(name))
    return rows


@method("server.time")
def server_time(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    """api-reference/common/system/server-time.md"""
    from b24sandbox.wire import now_iso

    return now_iso()


@method("scope")
def scope(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    """api-reference/common/system/scope.md: the caller's scopes, or every scope of the portal with ``full``."""
    from b24sandbox.auth import ALL_SCOPES
    from b24sandbox.wire import truthy

    if truthy(param(params, "full", "FULL", default=False)) or ctx.kind != "oauth":
        return sorted(ALL_SCOPES - {"basic"})
    return sorted(ctx.scopes - {"basic"})
