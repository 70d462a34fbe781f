"""Local applications, the Bitrix24 way: registry, frames, install, installFinish, uninstall, update.

local-integrations/local-apps.md; settings/oauth/simple-way.md (frame fields);
settings/app-installation/installation-finish.md (nothing shows and no event flows before installFinish);
api-reference/common/events/on-app-uninstall.md, on-app-update.md.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests

from b24sandbox import oauth
from b24sandbox.auth import parse_scopes
from b24sandbox.wire import php_json_string

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

log = logging.getLogger(__name__)

NOT_INSTALLED_TEXT = ("The application is not fully installed yet. "
                      "Please contact your Bitrix24 administrator.")


@dataclass
class FrameData:
    """What the portal POSTs into an app frame: ``url`` + ``query`` as the action, ``form`` as hidden fields."""

    client_id: str
    url: str
    form: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    installing: bool = False
    blocked: str | None = None

    @property
    def action(self) -> str:
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}{urlencode(self.query)}" if self.query else self.url

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "action": self.action}


def public_app(app: dict[str, Any], with_secret: bool = False) -> dict[str, Any]:
    shown = {k: v for k, v in app.items() if k not in ("client_secret", "application_token")}
    if with_secret:
        shown["client_secret"] = app["client_secret"]
        shown["application_token"] = app["application_token"]
    return shown


class AppsMixin:
    """Mixed into Portal; relies on ``self.store``, ``self.lock`` and the event bus."""

    def register_app(self: Portal, handler_url: str, install_url: str, scopes: list[str] | str,
                     title: str, client_id: str | None = None, client_secret: str | None = None,
                     version: int = 1) -> dict[str, Any]:
        """A new local app (``local.xxxxxxxx.xxxxxxxx``) with its secret; not installed yet."""
        scope_set = parse_scopes(scopes if isinstance(scopes, list | str) else list(scopes))
        with self.lock:
            client_id = client_id or f"local.{secrets.token_hex(7)[:13]}.{secrets.token_hex(4)}"
            if self.store.doc("apps", client_id) is not None:
                raise ValueError(f"app {client_id} already exists")
            app = {
                "id": self.store.next_id("app"),
                "client_id": client_id,
                "client_secret": client_secret or secrets.token_urlsafe(36)[:50],
                "title": title,
                "handler_url": handler_url,
                "install_url": install_url or handler_url,
                "scopes": ",".join(sorted(scope_set)),
                "version": int(version),
                "installed": False,
                "uninstalled": False,
                "application_token": secrets.token_hex(16),
                "created": time.time(),
            }
            self.store.put("apps", {"client_id": client_id}, app)
            return dict(app)

    def app(self: Portal, client_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.store.doc("apps", client_id)

    def apps(self: Portal) -> list[dict[str, Any]]:
        with self.lock:
            return self.store.docs("apps")

    def _save_app(self: Portal, app: dict[str, Any]) -> None:
        self.store.put("apps", {"client_id": app["client_id"]}, app)

    def _require_app(self: Portal, client_id: str) -> dict[str, Any]:
        app = self.store.doc("apps", client_id)
        if app is None:
            raise KeyError(client_id)
        return app

    def frame_fields(self: Portal, client_id: str, user_id: int = 1, placement: str = "DEFAULT",
                     placement_options: dict[str, Any] | None = None, lang: str = "la",
                     handler: str | None = None) -> FrameData:
        """Open the app (or one of its placements) for a user: issues that user's tokens for the app."""
        with self.lock:
            app = self._require_app(client_id)
            user = self.user(user_id)
            if user is None or not user.get("ACTIVE", True):
                raise KeyError(f"user {user_id}")
            installing = not app["installed"]
            if installing and not user.get("ADMIN"):
                return FrameData(client_id, app["handler_url"], installing=True, blocked=NOT_INSTALLED_TEXT)
            if app["uninstalled"]:  # an admin opening a removed app installs it again
                app["uninstalled"] = False
                app["application_token"] = secrets.token_hex(16)
                self._save_app(app)
            if installing:
                placement, placement_options = "DEFAULT", None
            elif handler is None and placement != "DEFAULT":
                bound = [b for b in self.placements_for(placement) if b["client_id"] == client_id]
                handler = bound[0]["handler"] if bound else None
            url = app["install_url"] if installing else (handler or app["handler_url"])
            row = oauth.issue(self.store, client_id, user_id, self.token_lifetime)
            sid = secrets.token_hex(16)
            self.store.set_meta(f"app_sid:{sid}", client_id)  # kept across restarts, like a rendered page
            form = {
                "AUTH_ID": row["access_token"],
                "AUTH_EXPIRES": str(self.token_lifetime),
                "REFRESH_ID": row["refresh_token"],
                "SERVER_ENDPOINT": self.server_endpoint,
                "APPLICATION_TOKEN": app["application_token"],
                "APPLICATION_SCOPE": app["scopes"],
                "member_id": self.member_id,
                "status": "L",
                "PLACEMENT": placement,
                # PHP's json_encode: {"ID":"8","URI":"\/crm\/deal\/details\/8\/"}; the main page gets
                # {"any":"<app id>\/"} as real portals send it
                "PLACEMENT_OPTIONS": php_json_string(placement_options or {"any": f"{app['id']}/"}),
            }
            query = {"DOMAIN": self.domain, "PROTOCOL": "1" if self.base_url.startswith("https") else "0",
                     "LANG": lang, "APP_SID": sid}
            return FrameData(client_id, url, form, query, installing=installing)

    def finish_install(self: Portal, client_id: str, app_sid: str | None = None) -> bool:
        """``BX24.installFinish()``: the app counts as installed from now on."""
        with self.lock:
            app = self._require_app(client_id)
            if app_sid is not None and self.store.meta(f"app_sid:{app_sid}") != client_id:
                raise PermissionError("unknown APP_SID for this app")
            app["installed"] = True
            app["uninstalled"] = False
            self._save_app(app)
            return True

    def install_app(self: Portal, client_id: str, user_id: int = 1, finish: bool = True,
                    lang: str = "la", timeout: float = 60.0) -> dict[str, Any]:
        """What the first opening does, without a browser: POST the install URL, then installFinish."""
        with self.lock:
            app = self._require_app(client_id)
            if app["installed"]:  # "Reinstall": the install path runs again
                app["installed"] = False
                self._save_app(app)
        frame = self.frame_fields(client_id, user_id, lang=lang)
        if frame.blocked:
            raise PermissionError(frame.blocked)
        response = requests.post(frame.action, data=frame.form, timeout=timeout, allow_redirects=False)
        if finish and response.status_code < 400:
            self.finish_install(client_id)
        return {"status": response.status_code, "installed": bool(self.app(client_id)["installed"]),
                "url": frame.url}

    def uninstall_app(self: Portal, client_id: str, clean: bool = True) -> None:
        """Delete the app from the portal: ONAPPUNINSTALL, then its handlers, placements, options, tokens."""
        with self.lock:
            app = self._require_app(client_id)
            self.fire_app_event(app, "ONAPPUNINSTALL", {"LANGUAGE_ID": "la", "CLEAN": 1 if clean else 0},
                                with_tokens=False, minimal_auth=True)
            for table in ("placements", "event_handlers", "offline_events", "app_options"):
                self.store.db[table].delete_where("client_id = ?", [client_id])
            oauth.revoke_app(self.store, client_id)
            app["installed"] = False
            app["uninstalled"] = True
            self._save_app(app)

    def update_app(self: Portal, client_id: str, version: int, rotate_token: bool = True) -> dict[str, Any]:
        """A new version: ONAPPUPDATE (with a new ``application_token`` when rotated)."""
        with self.lock:
            app = self._require_app(client_id)
            previous = app["version"]
            app["version"] = int(version)
            if rotate_token:
                app["application_token"] = secrets.token_hex(16)
            self._save_app(app)
            self.fire_app_event(app, "ONAPPUPDATE", {"VERSION": str(version), "PREVIOUS_VERSION": str(previous),
                                                     "LANGUAGE_ID": "la"}, with_tokens=True)
            return public_app(app)

    def placements_for(self: Portal, code: str) -> list[dict[str, Any]]:
        """Bindings of installed apps for a placement code (what a card shows as tabs)."""
        with self.lock:
            shown = []
            for row in self.store.db["placements"].rows_where("upper(placement) = ?", [code.upper()],
                                                              order_by="id"):
                app = self.store.doc("apps", row["client_id"])
                if not app or not app["installed"]:
                    continue
                data = json.loads(row["data"])
                shown.append({"id": row["id"], "client_id": row["client_id"], "app_title": app["title"],
                              "placement": row["placement"], **data})
            return shown
