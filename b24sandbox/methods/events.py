"""event.bind/unbind/get, events, event.offline.get/clear/error/list (api-reference/events/*.md)."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from b24sandbox import errors, filters
from b24sandbox.auth import AuthContext
from b24sandbox.crm_model import all_types
from b24sandbox.errors import RestError
from b24sandbox.methods import Page, method, paging, param
from b24sandbox.methods.app import current_app
from b24sandbox.methods.placement import check_handler
from b24sandbox.wire import as_int, truthy

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

STATIC_EVENTS = [f"ONCRM{obj}{act}" for obj in ("DEAL", "CONTACT", "COMPANY")
                 for act in ("ADD", "UPDATE", "DELETE")] + [
    "ONCRMDEALMOVETOCATEGORY", "ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE",
    "ONCRMCURRENCYADD", "ONCRMCURRENCYUPDATE", "ONCRMCURRENCYDELETE", "ONCRMTYPEADD", "ONCRMTYPEUPDATE",
    "ONCRMTYPEDELETE", "ONAPPINSTALL", "ONAPPUPDATE", "ONAPPUNINSTALL", "ONAPPTEST", "ONOFFLINEEVENT"]


def event_names(portal: Portal, ctx: AuthContext | None = None) -> list[str]:
    """All event names, or those the caller's scopes allow (ONAPP* need none, ONCRM* need ``crm``)."""
    names = list(STATIC_EVENTS)
    for spa in all_types(portal):
        names += [f"ONCRMDYNAMICITEM{act}_{spa['entityTypeId']}" for act in ("ADD", "UPDATE", "DELETE")]
    if ctx is not None:
        names = [n for n in names if event_scope(n) == "basic" or ctx.has_scope(event_scope(n))]
    return names


def event_scope(name: str) -> str:
    return "crm" if name.startswith("ONCRM") else "basic"


def _handlers(portal: Portal, client_id: str) -> list[dict[str, Any]]:
    return [{"id": r["id"], "event": r["event"], **json.loads(r["data"])}
            for r in portal.store.db["event_handlers"].rows_where("client_id = ?", [client_id], order_by="id")]


@method("events", app_only=True)
def events(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    """api-reference/events/events.md: SCOPE filters, FULL lists everything, else what the app's scopes allow."""
    scope = param(params, "SCOPE", "scope")
    if scope:
        return [n for n in event_names(portal) if event_scope(n) == str(scope)]
    if truthy(param(params, "FULL", "full", default=False)):
        return event_names(portal)
    return event_names(portal, ctx)


@method("event.bind", app_only=True)
def bind(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    event = str(param(params, "event", "EVENT", default="") or "").upper()
    if not event:
        raise errors.argument_error("event")
    if event not in event_names(portal, ctx):
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    offline = str(param(params, "event_type", "EVENT_TYPE", default="online") or "online").lower() == "offline"
    handler = str(param(params, "handler", "HANDLER", default="") or "")
    auth_type = as_int(param(params, "auth_type", "AUTH_TYPE"), 0) or 0
    admin = portal.is_admin(ctx.user_id)
    if offline and not admin:
        raise errors.access_denied("Offline events binding requires administrator access rights", 403)
    if auth_type and auth_type != ctx.user_id and not admin:
        raise errors.access_denied("Event binding with AUTH_TYPE requires administrator access rights", 403)
    if not offline:
        if not handler:
            raise errors.argument_error("handler")
        check_handler(handler)
    connector = str(param(params, "auth_connector", "AUTH_CONNECTOR", default="") or "") or None
    for row in _handlers(portal, app["client_id"]):
        if (row["event"] == event and row["handler"] == handler and row["auth_type"] == auth_type
                and (row["event_type"] == "offline") == offline):
            raise RestError("ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!", 400)
    new_id = portal.store.next_id("event_handler")
    data = {"handler": handler, "auth_type": auth_type, "event_type": "offline" if offline else "online",
            "auth_connector": connector, "options": param(params, "options", "OPTIONS", default={}) or {},
            "user_id": ctx.user_id}
    portal.store.put("event_handlers", {"id": new_id, "client_id": app["client_id"], "event": event}, data)
    return True


@method("event.unbind", app_only=True)
def unbind(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    event = str(param(params, "event", "EVENT", default="") or "").upper()
    handler = param(params, "handler", "HANDLER")
    auth_type = param(params, "auth_type", "AUTH_TYPE")
    event_type = str(param(params, "event_type", "EVENT_TYPE", default="") or "").lower()
    admin = portal.is_admin(ctx.user_id)
    count = 0
    for row in _handlers(portal, app["client_id"]):
        if event and row["event"] != event or handler and row["handler"] != handler:
            continue
        if auth_type is not None and (as_int(auth_type, 0) or 0) != row["auth_type"]:
            continue
        if event_type and row["event_type"] != event_type:
            continue
        if not admin and row["user_id"] != ctx.user_id:
            continue
        portal.store.delete("event_handlers", row["id"])
        count += 1
    return {"count": count}


@method("event.get", app_only=True)
def get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = current_app(portal, ctx)
    admin = portal.is_admin(ctx.user_id)
    return [{"event": r["event"], "handler": r["handler"], "auth_type": str(r["auth_type"]),
             "offline": 1 if r["event_type"] == "offline" else 0}
            for r in _handlers(portal, app["client_id"]) if admin or r["user_id"] == ctx.user_id]


# offline queue -------------------------------------------------------------------------------------
def _offline_rows(portal: Portal, client_id: str) -> list[dict[str, Any]]:
    return [json.loads(r["data"]) | {"_rowid": r["id"]}
            for r in portal.store.db["offline_events"].rows_where("client_id = ?", [client_id], order_by="id")]


def _public(record: dict[str, Any], extended: bool = False) -> dict[str, Any]:
    keys = ["ID", "TIMESTAMP_X", "EVENT_NAME", "EVENT_DATA", "EVENT_ADDITIONAL", "MESSAGE_ID"]
    if extended:
        keys += ["PROCESS_ID", "ERROR"]
    return {k: record.get(k) for k in keys}


def _offline_admin(portal: Portal, ctx: AuthContext) -> dict[str, Any]:
    app = current_app(portal, ctx)
    if not portal.is_admin(ctx.user_id):
        raise errors.access_denied("Access denied! Administrator access required", 403)
    return app


def _offline_select(rows: list[dict[str, Any]], params: dict[str, Any], default_order: dict[str, str]
                    ) -> list[dict[str, Any]]:
    flt = param(params, "filter", "FILTER", default={}) or {}
    rows = [r for r in rows if filters.matches(flt, lambda name, r=r: r.get(name.upper()))]
    order = param(params, "order", "ORDER", default=default_order) or default_order
    return filters.sort_rows(rows, order, lambda r, f: r.get(f.upper()))


@method("event.offline.get", app_only=True)
def offline_get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = _offline_admin(portal, ctx)
    rows = _offline_rows(portal, app["client_id"])
    process_id = param(params, "process_id", "PROCESS_ID")
    want_error = as_int(param(params, "error", "ERROR"), 0) == 1
    if process_id:
        rows = [r for r in rows if r.get("PROCESS_ID") == process_id]
    else:
        rows = [r for r in rows if not r.get("PROCESS_ID") and bool(r.get("ERROR")) == want_error]
    connector = param(params, "auth_connector", "AUTH_CONNECTOR")
    if connector:
        rows = [r for r in rows if r.get("AUTH_CONNECTOR") != connector]
    rows = _offline_select(rows, params, {"TIMESTAMP_X": "ASC"})
    limit = as_int(param(params, "limit", "LIMIT"), 50) or 50
    rows = rows[:limit]
    clear = as_int(param(params, "clear", "CLEAR"), 1)
    table = portal.store.db["offline_events"]
    new_pid = None
    if clear == 1:
        for r in rows:
            table.delete(r["_rowid"])
    elif rows and not process_id:
        new_pid = secrets.token_hex(16)
        for r in rows:
            r["PROCESS_ID"] = new_pid
            data = {k: v for k, v in r.items() if k != "_rowid"}
            table.update(r["_rowid"], {"data": json.dumps(data)})
    return {"process_id": new_pid or process_id or None, "events": [_public(r) for r in rows]}


def _process_rows(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    app = _offline_admin(portal, ctx)
    process_id = param(params, "process_id", "PROCESS_ID")
    if not process_id:
        raise errors.argument_error("process_id")
    rows = [r for r in _offline_rows(portal, app["client_id"]) if r.get("PROCESS_ID") == process_id]
    ids = param(params, "id", "ID")
    message_ids = param(params, "message_id", "MESSAGE_ID")
    if ids:
        wanted = {str(i) for i in (ids if isinstance(ids, list) else [ids])}
        rows = [r for r in rows if str(r["ID"]) in wanted]
    elif message_ids:
        wanted = {str(i) for i in (message_ids if isinstance(message_ids, list) else [message_ids])}
        rows = [r for r in rows if r["MESSAGE_ID"] in wanted]
    return rows


@method("event.offline.clear", app_only=True)
def offline_clear(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    for r in _process_rows(portal, ctx, params):
        portal.store.db["offline_events"].delete(r["_rowid"])
    return True


@method("event.offline.error", app_only=True)
def offline_error(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    for r in _process_rows(portal, ctx, params):
        r.update({"ERROR": 1, "PROCESS_ID": None})
        data = {k: v for k, v in r.items() if k != "_rowid"}
        portal.store.db["offline_events"].update(r["_rowid"], {"data": json.dumps(data)})
    return True


@method("event.offline.list", app_only=True)
def offline_list(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    app = _offline_admin(portal, ctx)
    rows = _offline_select(_offline_rows(portal, app["client_id"]), params, {"ID": "ASC"})
    page, total, nxt, _ = paging(params, rows)
    return Page([_public(r, extended=True) for r in page], total, nxt)
