"""user.current, user.get, user.admin, user.access (api-reference/user/*.md, common/users/*.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24sandbox import filters
from b24sandbox.auth import AuthContext
from b24sandbox.methods import Page, method, paging, param
from b24sandbox.wire import as_map

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

USER_SCOPES = ("user", "user_brief", "user_basic")
INTERNAL = ("ADMIN", "CRM_ACCESS")


def public_user(user: dict[str, Any], ctx: AuthContext) -> dict[str, Any]:
    shown = {k: v for k, v in user.items() if k not in INTERNAL}
    if ctx.kind == "oauth" and not ({"user", "user_basic"} & set(ctx.scopes)):
        shown.pop("EMAIL", None)  # user_brief: no contact data
    return shown


@method("user.current", scope="user", alt_scopes=USER_SCOPES)
def user_current(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    return public_user(portal.user(ctx.user_id) or {}, ctx)


@method("user.get", scope="user", alt_scopes=USER_SCOPES)
def user_get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    flt = as_map(param(params, "FILTER", "filter"))
    for key, value in params.items():  # user.get also takes filter keys at the top level (ID=5)
        if key.upper() in ("ID", "ACTIVE", "NAME", "LAST_NAME", "EMAIL", "UF_DEPARTMENT", "USER_TYPE"):
            flt.setdefault(key.upper(), value)
    users = [u for u in portal.store.docs("users")]

    def get_for(user: dict[str, Any]) -> Any:
        def get(name: str) -> Any:
            value = user.get(name.upper())
            if isinstance(value, bool):
                return "Y" if value else "N"
            return value
        return get

    rows = [u for u in users if filters.matches(flt, get_for(u))]
    sort = param(params, "sort", "SORT")
    order = param(params, "order", "ORDER", default="ASC")
    if sort:
        rows = filters.sort_rows(rows, {str(sort).upper(): order}, lambda u, f: u.get(f))
    page, total, nxt, _ = paging(params, rows)
    return Page([public_user(u, ctx) for u in page], total, nxt)


@method("user.admin")
def user_admin(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    return portal.is_admin(ctx.user_id)


@method("user.access")
def user_access(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    if portal.is_admin(ctx.user_id):
        return True
    codes = param(params, "ACCESS", "access", default=[]) or []
    codes = codes if isinstance(codes, list) else [codes]
    mine = {f"U{ctx.user_id}", "AU", "G2"}
    return any(str(code) in mine for code in codes)
