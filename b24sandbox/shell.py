"""The sandbox portal's shell in the browser: menu, user/language switchers, app frames and BX24.

`register(app, portal)` is called by `b24sandbox.server.create_sandbox_app`. CRM pages (lists and cards)
live in `shell_crm.py`; labels in `shell_i18n.py`; the browser side in `static/shell.js` (the parent of app
frames) and `static/bx24.js` (what an app frame loads).

Frames open the way Bitrix24 opens them (settings/oauth/simple-way.md,
api-reference/widgets/_includes/widget_data.md): a hidden form with AUTH_ID, AUTH_EXPIRES, REFRESH_ID,
SERVER_ENDPOINT, APPLICATION_TOKEN, APPLICATION_SCOPE, member_id, status, PLACEMENT, PLACEMENT_OPTIONS is
POSTed into a named iframe, with DOMAIN, PROTOCOL, LANG and APP_SID in the handler URL's query.

URLs (all at the sandbox's base URL):

- ``/`` -> ``/crm/deal/list/`` (inline stage select per row, ``POST`` ``id`` + ``STAGE_ID``);
  ``/crm/deal/details/{id}/``, ``/crm/company/list/``, ``/crm/company/details/{id}/``, ``/crm/contact/list/``,
  ``/crm/contact/details/{id}/``, ``/crm/type/{entityTypeId}/list/``, ``/crm/type/{entityTypeId}/details/{id}/``
  (the card form POSTs only the changed fields to ``crm.item.update``). ``?IFRAME=Y`` renders without menu
  (what the slider shows).
- ``/marketplace/app/{client_id}/`` the app's page (the install URL while not installed; non-admins then see
  "La aplicación aún no está completamente instalada"); ``?PLACEMENT=LEFT_MENU``, ``?PARAMS={json}``
  (BX24.openApplication).
- ``/api/v1/``, ``/bx24.js``, ``/bitrix/js/rest/bx24.js``: the BX24 library for app pages.
- ``POST /sandbox/shell/prefs`` (``user_id``, ``lang``, ``back``); ``POST /sandbox/shell/frame-auth`` (what
  BX24.refreshAuth gets through the portal page).
- The acting person and language are the cookies ``b24sb_user`` (default 1, the admin) and ``b24sb_lang``
  (``la`` default, ``en``, ``ru``).

Browser tests of an app: register it (``portal.register_app``), install it (``installer.install_app`` or let
the page do it), then open ``{sandbox}/crm/deal/details/{id}/#{client_id}``: the hash opens that app's tab
(tabs load on first click, like Bitrix24). In Playwright the frame is
``page.frame_locator(".tab-panel[data-panel='{client_id}'] iframe")``; the app page's frame is
``page.frame_locator(".app-frame iframe")``. A second binding of the same placement by one app gets the key
``{client_id}-2``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
)

from b24sandbox.auth import UserSession
from b24sandbox.shell_i18n import LANGS, label, localized_title, normalize_lang

log = logging.getLogger(__name__)

bp = Blueprint("sandbox_shell", __name__, template_folder="templates", static_folder="static",
               static_url_path="/sandbox/static/shell")

STATIC = Path(__file__).parent / "static"
USER_COOKIE = "b24sb_user"
LANG_COOKIE = "b24sb_lang"
COOKIE_AGE = 3600 * 24 * 365


class ShellRestError(Exception):
    """A REST error the shell shows to the person instead of the page."""

    def __init__(self, status: int, body: dict[str, Any]):
        self.status = status
        self.code = str(body.get("error", ""))
        self.description = str(body.get("error_description", ""))
        super().__init__(f"{self.code}: {self.description}")


def portal() -> Any:
    return current_app.extensions["b24_sandbox"]


def rest(method: str, params: dict[str, Any] | None = None, user_id: int | None = None) -> dict[str, Any]:
    """One REST method run by the portal as the acting person; events fire exactly as for a user edit.

    ``UserSession`` calls are what Bitrix24's own pages do: they do not count against the REST rate limit
    and REST fault injection does not hit them (see the sandbox README).
    """
    uid = user_id if user_id is not None else g.shell_user_id
    status, body = portal().call(method, params or {}, UserSession(uid))
    if not isinstance(body, dict) or "error" in body:
        raise ShellRestError(status, body if isinstance(body, dict) else {"error": "ERROR"})
    return body


# --------------------------------------------------------------------------- request context

def _users() -> list[dict[str, Any]]:
    if "shell_users" not in g:
        users = rest("user.get", {}, user_id=1).get("result") or []
        for user in users:
            user["ADMIN"] = portal().is_admin(int(user["ID"]))
        g.shell_users = users
    return g.shell_users


def is_admin(user_id: int) -> bool:
    return any(int(u["ID"]) == user_id and u["ADMIN"] for u in _users())


@bp.before_app_request
def _load_person() -> None:
    try:
        g.shell_user_id = int(request.cookies.get(USER_COOKIE, "1"))
    except ValueError:
        g.shell_user_id = 1
    g.shell_lang = normalize_lang(request.cookies.get(LANG_COOKIE))
    g.shell_iframe = request.args.get("IFRAME") == "Y"


def _menu() -> dict[str, Any]:
    types = rest("crm.type.list", {}, user_id=1).get("result", {}).get("types", [])
    apps = []
    for info in portal().apps():
        if info.get("handler_url") and not info.get("uninstalled"):  # a deleted local app leaves the menu
            apps.append({"client_id": info["client_id"], "title": info.get("title") or info["client_id"],
                         "href": f"/marketplace/app/{info['client_id']}/"})
    for binding in portal().placements_for("LEFT_MENU"):
        apps.append({"client_id": binding["client_id"],
                     "title": localized_title(binding.get("title") or "", binding.get("lang_all"), g.shell_lang),
                     "href": f"/marketplace/app/{binding['client_id']}/?PLACEMENT=LEFT_MENU&BINDING={binding['id']}"})
    return {"types": types, "apps": apps}


_URL = re.compile(r"https?://\S+")


def _bell() -> list[dict[str, Any]]:
    """The acting person's ``im.notify.system.add`` notifications, newest first, as Bitrix24's bell lists
    them; a URL in the text becomes a link (a path on this portal opens here)."""
    shown = []
    for note in portal().notifications(g.shell_user_id)[:20]:
        text = str(note.get("message") or "")
        found = _URL.search(text)
        href = ""
        if found:
            parts = urlsplit(found.group(0))
            href = f"{parts.path}?{parts.query}" if parts.query else parts.path
            text = (text[:found.start()] + text[found.end():]).strip()
        shown.append({"id": note.get("id"), "text": text, "href": href, "created": note.get("created")})
    return shown


def render(template: str, section: str = "", **context: Any) -> str:
    """Render a shell page with the menu, switchers, the notifications bell and labels in the person's
    language."""
    lang = g.shell_lang
    return render_template(
        template, t=lambda key: label(key, lang), lang=lang, langs=LANGS, user_id=g.shell_user_id,
        users=_users(), menu=_menu() if not g.shell_iframe else {}, iframe_mode=g.shell_iframe,
        section=section, portal_domain=portal().domain, bell=_bell() if not g.shell_iframe else [], **context)


# --------------------------------------------------------------------------- frames

@dataclass
class Frame:
    """One application frame: the hidden form POSTed into the named iframe, and BX24's init data."""

    client_id: str
    placement: str
    action: str                      # handler (or install) URL with DOMAIN, PROTOCOL, LANG, APP_SID
    form: dict[str, str]
    query: dict[str, str]
    installing: bool
    title: str = ""
    init: dict[str, Any] = field(default_factory=dict)

    @property
    def sid(self) -> str:
        return self.query["APP_SID"]

    @property
    def name(self) -> str:
        """The iframe's window.name (and the form's target): ``DOMAIN|PROTOCOL|APP_SID``."""
        return f"{self.query['DOMAIN']}|{self.query['PROTOCOL']}|{self.query['APP_SID']}"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.action)
        return f"{parts.scheme}://{parts.netloc}"


def with_query(url: str, query: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(query)


def build_frame(client_id: str, user_id: int, lang: str, placement: str = "DEFAULT",
                options: dict[str, Any] | None = None, handler: str | None = None,
                title: str = "") -> Frame | str:
    """A Frame for ``client_id`` as ``user_id`` sees it, or the text a non-admin sees before install.

    ``handler`` picks one binding's handler when the app bound the placement more than once.
    """
    data = portal().frame_fields(client_id, user_id=user_id, placement=placement,
                                 placement_options=options, lang=lang, handler=handler)
    if data.blocked:
        return label("not_installed", lang)
    form = {k: str(v) for k, v in data.form.items()}
    query = {k: str(v) for k, v in data.query.items()}
    url = data.url
    frame = Frame(client_id=client_id, placement=form.get("PLACEMENT", placement), action=with_query(url, query),
                  form=form, query=query, installing=bool(data.installing), title=title)
    frame.init = {
        "DOMAIN": query.get("DOMAIN"), "PROTOCOL": int(query.get("PROTOCOL") or 0), "LANG": query.get("LANG"),
        "APP_SID": query.get("APP_SID"), "PATH": urlsplit(url).path,
        "AUTH_ID": form.get("AUTH_ID"), "AUTH_EXPIRES": int(form.get("AUTH_EXPIRES") or 3600),
        "REFRESH_ID": form.get("REFRESH_ID"), "MEMBER_ID": form.get("member_id"),
        "IS_ADMIN": is_admin(user_id), "INSTALL": frame.installing, "FIRST_RUN": frame.installing,
        "PLACEMENT": frame.placement, "PLACEMENT_OPTIONS": json.loads(form.get("PLACEMENT_OPTIONS") or "{}"),
        "APP_OPTIONS": {}, "USER_OPTIONS": {},
    }
    return frame


@dataclass
class Tab:
    key: str
    title: str
    frame: Frame


def placement_tabs(code: str, entity_id: int, uri: str) -> list[Tab]:
    """The installed apps' tabs for a card (api-reference/widgets/crm/detail-tab.md).

    Bindings of apps that have not run BX24.installFinish() are not returned by the portal, so their
    tabs are not shown. PLACEMENT_OPTIONS is ``{"ID": "<id as string>", "URI": "<card path>"}``.
    """
    tabs: list[Tab] = []
    seen: dict[str, int] = {}
    for binding in portal().placements_for(code):
        client_id = binding["client_id"]
        seen[client_id] = seen.get(client_id, 0) + 1
        key = client_id if seen[client_id] == 1 else f"{client_id}-{seen[client_id]}"
        title = localized_title(binding.get("title") or "", binding.get("lang_all"), g.shell_lang)
        frame = build_frame(client_id, g.shell_user_id, g.shell_lang, placement=code,
                            options={"ID": str(entity_id), "URI": uri}, handler=binding.get("handler"),
                            title=title)
        if isinstance(frame, Frame):
            tabs.append(Tab(key=key, title=title or client_id, frame=frame))
    return tabs


# --------------------------------------------------------------------------- routes

@bp.route("/")
def home() -> Response:
    return redirect("/crm/deal/list/")


@bp.route("/favicon.ico")
def favicon() -> tuple[str, int]:
    return "", 204


@bp.route("/marketplace/app/<client_id>/", methods=["GET", "POST"])
def app_page(client_id: str) -> str:
    """The app's own page (PLACEMENT=DEFAULT); the install URL while the app is not installed."""
    info = portal().app(client_id)
    if not info:
        abort(404)
    placement = "LEFT_MENU" if request.args.get("PLACEMENT") == "LEFT_MENU" else "DEFAULT"
    options: dict[str, Any] | None = None
    handler: str | None = None
    title = info.get("title") or client_id
    if request.args.get("PARAMS"):
        try:
            options = json.loads(request.args["PARAMS"])
        except ValueError:
            options = None
    elif placement == "LEFT_MENU":
        # api-reference/widgets/left-menu.md: the handler full-page, options {"URI": the page the user came from}
        options = {"URI": request.referrer and urlsplit(request.referrer).path or "/"}
        binding = next((b for b in portal().placements_for("LEFT_MENU") if b["client_id"] == client_id
                        and str(b.get("id")) == request.args.get("BINDING", str(b.get("id")))), None)
        if binding is None:
            abort(404)
        handler = binding.get("handler")
        title = localized_title(binding.get("title") or "", binding.get("lang_all"), g.shell_lang) or title
    frame = build_frame(client_id, g.shell_user_id, g.shell_lang, placement=placement, options=options,
                        handler=handler, title=title)
    if isinstance(frame, str):
        return render("shell/app.html", section=f"app:{client_id}", app_title=title, blocked=frame)
    return render("shell/app.html", section=f"app:{client_id}", app_title=title, blocked=None, frame=frame)


@bp.route("/sandbox/shell/frame-auth", methods=["POST"])
def frame_auth() -> Response:
    """New tokens for a frame (what the portal answers when BX24.refreshAuth asks the parent)."""
    client_id = request.form.get("client_id", "")
    if not portal().app(client_id):
        abort(404)
    try:
        options = json.loads(request.form.get("options") or "{}")
    except ValueError:
        options = {}
    data = portal().frame_fields(client_id, user_id=g.shell_user_id,
                                 placement=request.form.get("placement") or "DEFAULT",
                                 placement_options=options, lang=g.shell_lang)
    if data.blocked:
        abort(403)
    response = jsonify({"AUTH_ID": data.form["AUTH_ID"], "REFRESH_ID": data.form["REFRESH_ID"],
                        "AUTH_EXPIRES": int(data.form.get("AUTH_EXPIRES") or 3600)})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sandbox/shell/prefs", methods=["POST"])
def prefs() -> Response:
    """The user and language switchers: kept in cookies."""
    back = request.form.get("back") or "/"
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = redirect(back)
    if request.form.get("user_id", "").isdigit():
        response.set_cookie(USER_COOKIE, request.form["user_id"], max_age=COOKIE_AGE, samesite="Lax")
    if request.form.get("lang"):
        response.set_cookie(LANG_COOKIE, normalize_lang(request.form["lang"]), max_age=COOKIE_AGE, samesite="Lax")
    return response


@bp.route("/bx24.js")
@bp.route("/bitrix/js/rest/bx24.js")
@bp.route("/api/v1/")
def bx24_js() -> Response:
    """The BX24 library for app frames (the sandbox's stand-in for ``//api.bitrix24.com/api/v1/``)."""
    response = send_file(STATIC / "bx24.js", mimetype="application/javascript", max_age=0)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.app_errorhandler(ShellRestError)
def _rest_error(exc: ShellRestError) -> tuple[str, int]:
    missing = exc.code == "NOT_FOUND" or "not found" in exc.description.lower()
    status = 404 if missing else (403 if exc.code == "ACCESS_DENIED" else 400)
    heading = label("not_found" if status == 404 else "error", g.shell_lang)
    return render("shell/message.html", heading=heading, message=f"{exc.code or exc.status}: {exc.description}"), status


# --------------------------------------------------------------------------- CORS on REST for app frames

def _rest_preflight() -> Response | None:
    if request.method == "OPTIONS" and request.path.startswith("/rest/"):
        response = current_app.make_default_options_response()
        response.status_code = 204
        return _cors(response)
    return None


def _cors(response: Response) -> Response:
    """App frames (another origin, e.g. :5000) call the portal's REST directly, as on a real portal."""
    if request.path.startswith("/rest/") and "Access-Control-Allow-Origin" not in response.headers:
        response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin") or "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers.add("Vary", "Origin")
    return response


def register(app: Flask, portal_obj: Any) -> None:
    """Mount the shell on the sandbox app (`portal_obj` is also at ``app.extensions["b24_sandbox"]``)."""
    from b24sandbox import shell_crm, shell_items

    app.extensions.setdefault("b24_sandbox", portal_obj)
    if not app.secret_key:  # only for the shell's flash messages ("Guardado")
        app.secret_key = secrets.token_hex(16)
    if "sandbox_shell" not in app.blueprints:
        app.register_blueprint(bp)
        app.register_blueprint(shell_crm.bp)
        app.register_blueprint(shell_items.bp)
    app.before_request(_rest_preflight)
    app.after_request(_cors)
