"""Firing events: which handlers get what payload, and the offline queue.

api-reference/events/index.md (payload: event, event_handler_id, data, ts, auth);
_includes/auth-params-in-events.md (tokens of the acting user; none for automation or webhooks);
api-reference/events/offline-events.md (the offline queue keeps only the latest state per object).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from b24sandbox import oauth
from b24sandbox.auth import AuthContext
from b24sandbox.wire import now_iso

if TYPE_CHECKING:
    from b24sandbox.portal import Portal


def _strings(value: Any) -> Any:
    """Every leaf of an event body is a string (it is form-encoded)."""
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    return "" if value is None else str(value)


class EventsMixin:
    """Mixed into Portal."""

    def _event_auth(self: Portal, app: dict[str, Any], user_id: int | None,
                    minimal: bool = False) -> dict[str, Any]:
        """The ``auth`` block in the key order of the docs' samples (_includes/auth-params-in-events.md)."""
        base = {"domain": self.domain, "client_endpoint": self.client_endpoint,
                "server_endpoint": self.server_endpoint, "member_id": self.member_id,
                "application_token": app["application_token"]}
        if minimal:
            return base
        auth: dict[str, Any] = {}
        row = oauth.issue(self.store, app["client_id"], user_id, self.token_lifetime) if user_id else None
        if row:
            auth.update({"access_token": row["access_token"], "expires_in": self.token_lifetime})
        auth.update({"scope": app["scopes"], "domain": self.domain, "server_endpoint": self.server_endpoint,
                     "status": "L", "client_endpoint": self.client_endpoint, "member_id": self.member_id})
        if row:
            auth["refresh_token"] = row["refresh_token"]
        auth["application_token"] = app["application_token"]
        return auth

    def _handlers(self: Portal, client_id: str | None, event: str) -> list[dict[str, Any]]:
        where, args = "upper(event) = ?", [event.upper()]
        if client_id:
            where += " and client_id = ?"
            args.append(client_id)
        rows = []
        for row in self.store.rows(f"SELECT * FROM event_handlers WHERE {where} ORDER BY id", args):
            rows.append({"id": row["id"], "client_id": row["client_id"], "event": row["event"],
                         **json.loads(row["data"])})
        return rows

    def fire(self: Portal, ctx: AuthContext | None, event: str, fields: dict[str, Any],
             auth_connector: str | None = None) -> None:
        """An object changed: every installed app's handler for ``event`` gets it (call under the lock)."""
        acting_user = ctx.user_id if ctx is not None and ctx.kind in ("oauth", "user") else None
        for handler in self._handlers(None, event):
            app = self.store.doc("apps", handler["client_id"])
            if not app or not app["installed"] or app["uninstalled"]:
                continue  # no events before installFinish (installation-finish.md)
            if handler.get("event_type") == "offline":
                if auth_connector and handler.get("auth_connector") == auth_connector:
                    continue
                self._queue_offline(app["client_id"], event, fields, handler.get("auth_connector"))
                self._ping_offline(app)
                continue
            token_user = int(handler.get("auth_type") or 0) or acting_user
            payload = {
                "event": event.upper(),
                "event_handler_id": handler["id"],
                "data": {"FIELDS": fields},
                "ts": int(time.time()),
                "auth": self._event_auth(app, token_user),
            }
            self.dispatcher.submit(handler["handler"], _strings(payload))

    def fire_app_event(self: Portal, app: dict[str, Any], event: str, data: dict[str, Any],
                       with_tokens: bool, minimal_auth: bool = False) -> None:
        """App lifecycle events (ONAPPUNINSTALL, ONAPPUPDATE) go to that app's own handlers."""
        for handler in self._handlers(app["client_id"], event):
            if handler.get("event_type") == "offline":
                continue
            payload = {
                "event": event.upper(),
                "event_handler_id": handler["id"],
                "data": data,
                "ts": int(time.time()),
                "auth": self._event_auth(app, 1 if with_tokens else None, minimal=minimal_auth),
            }
            self.dispatcher.submit(handler["handler"], _strings(payload))

    def _ping_offline(self: Portal, app: dict[str, Any]) -> None:
        """ONOFFLINEEVENT: an online event with empty data telling the app the queue has rows, at most once
        per ``options.minTimeout`` seconds (default 1; 0 = every hit) (api-reference/events/on-offline-event.md)."""
        last_pings = self.__dict__.setdefault("_offline_pings", {})
        for handler in self._handlers(app["client_id"], "ONOFFLINEEVENT"):
            if handler.get("event_type") == "offline":
                continue
            options = handler.get("options") or {}
            min_timeout = float(options.get("minTimeout", 1) if isinstance(options, dict) else 1)
            now = time.monotonic()
            if now - last_pings.get(handler["id"], -1e9) < min_timeout:
                continue
            last_pings[handler["id"]] = now
            payload = {"event": "ONOFFLINEEVENT", "event_handler_id": handler["id"], "data": {},
                       "ts": int(time.time()),
                       "auth": self._event_auth(app, int(handler.get("user_id") or 1))}
            self.dispatcher.submit(handler["handler"], _strings(payload))

    def _queue_offline(self: Portal, client_id: str, event: str, fields: dict[str, Any],
                       auth_connector: str | None) -> None:
        object_key = f"{event.upper()}|{json.dumps(fields, sort_keys=True)}"
        message_id = hashlib.md5(f"{client_id}|{object_key}".encode()).hexdigest()
        table = self.store.db["offline_events"]
        for row in table.rows_where("client_id = ? and object_key = ?", [client_id, object_key]):
            data = json.loads(row["data"])
            if not data.get("PROCESS_ID"):
                data["TIMESTAMP_X"] = now_iso()
                table.update(row["id"], {"data": json.dumps(data)})
                return
        new_id = self.store.next_id("offline_event")
        data = {"ID": str(new_id), "TIMESTAMP_X": now_iso(), "EVENT_NAME": event.upper(),
                "EVENT_DATA": {"FIELDS": fields}, "EVENT_ADDITIONAL": False, "MESSAGE_ID": message_id,
                "PROCESS_ID": None, "ERROR": 0, "AUTH_CONNECTOR": auth_connector}
        table.insert({"id": new_id, "client_id": client_id, "object_key": object_key, "data": json.dumps(data)})
