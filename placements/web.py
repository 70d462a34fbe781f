"""Plumbing shared by the frame blueprints: entering a frame, rendering, links that carry the session, the
pages for refusals and failed portal calls.

It knows no feature: a view passes everything its template shows (what the page watches for changes comes
from ``placements.live.watch``), and a blueprint whose redirects carry a confirmation registers its URL
flag with ``notice_flag``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext

from b24app import csp, planstore, ratestore
from b24app.db import get_db
from b24app.i18n import DEFAULT_LOCALE, LOCALES, locale_for
from b24app.installations import NEEDS_REAUTH, InstallationStore
from b24app.rest.clients import clients_for
from b24app.rest.errors import AccessDenied, AuthError, B24Error, NotFound
from b24app.schema import PlanSchema
from placements import frames
from placements.portal_data import PortalData
from placements.reauth import resume_with_admin

log = logging.getLogger(__name__)


def blueprint(name: str) -> Blueprint:
    """A frame blueprint: user locale before, frame headers after, quiet 401/403 pages, and a notice for
    a portal call that failed (a view lets ``B24Error`` through unless it answers otherwise)."""
    bp = Blueprint(name, __name__, template_folder="templates")
    bp.before_request(_set_locale)
    bp.after_request(frames.frame_headers)
    bp.teardown_request(_close_client)
    for status in (400, 401, 403, 404):
        bp.register_error_handler(status, _refused)
    bp.register_error_handler(B24Error, portal_error)
    return bp


def _close_client(_exc: BaseException | None = None) -> None:
    client = g.pop("b24_client", None)
    if client is not None:
        client.close()


def _set_locale() -> None:
    user = frames.load_session()
    lang = user.lang if user else request.values.get("LANG")
    if not lang and user is None:
        stale = frames.stale_session()
        lang = stale[1] if stale else None
        if not lang:  # no portal told us the user's language (the app's own address): the browser's
            g.ui_locale = request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE
            return
    g.ui_locale = locale_for(lang)


def _refused(exc: Any) -> tuple[str, int]:
    return refusal(getattr(exc, "code", 403) or 403)


def refusal(status: int) -> tuple[str, int]:
    """A page that says why, and shows no data.

    401 (no live session) is framed by the portal that opened the frame and reloads the frame once
    through BX24 (static/app.js), so Bitrix24 posts it again with a fresh AUTH_ID; see
    ``frames.frame_headers`` for who may frame it.
    """
    texts = {401: gettext("Your session has expired or could not be verified. Open the app again from "
                          "Bitrix24."),
             403: gettext("Access denied."), 404: gettext("Not found."), 400: gettext("Bad request.")}
    message = texts.get(status, texts[403])
    entry = "AUTH_ID" in request.form or "member_id" in request.form  # a (forged) frame POST: stays unframeable
    if status == 401 and not entry:
        _frame_expired_page()
        if request.method == "GET" and not frames.names_a_session():
            message = gettext("Open this app from Bitrix24 (Applications menu → Sales plans).")
    recover = status == 401 and not entry
    page = render_template("placements/refused.html", message=message, status=status,
                           locale=g.get("ui_locale", "es"), title=gettext("Sales plans"),
                           bx24_js_url=(current_app.config.get("BX24_JS_URL") or "") if recover else "")
    return page, status


def _frame_expired_page() -> None:
    """Let the portal of the (expired) session frame the 401 page; any site when it is unknown."""
    if g.get("frame_origin"):
        return
    stale = frames.stale_session()
    inst = InstallationStore(get_db()).find(stale[0]) if stale else None
    if inst is not None and inst.is_active:
        g.frame_origin = csp.origin(inst.client_endpoint)
    else:
        g.frame_anywhere = True


def portal_error(exc: B24Error) -> tuple[str, int]:
    """The portal refused or failed: say so in the user's language, without technical details."""
    log.warning("portal call failed for a frame: %s", exc)
    if isinstance(exc, AuthError):
        return refusal(401)
    if isinstance(exc, AccessDenied):
        return render("placements/notice.html", message=gettext(
            "Bitrix24 does not allow you to see this. Ask your administrator for access to the sales plans.")), 403
    if isinstance(exc, NotFound):
        if smart_process_gone():
            return render("placements/notice.html", message=gettext(
                "The app's smart process was deleted in this portal, and the plans with it. An administrator must "
                "open the app's Settings and re-run the set-up to create it again.")), 503
        return render("placements/notice.html", message=gettext(
            "This item no longer exists in Bitrix24 (it may have been deleted).")), 404
    return render("placements/notice.html", message=gettext(
        "Bitrix24 did not answer in time. Please try again in a moment.")), 502


def smart_process_gone() -> bool:
    """After a NOT_FOUND: is it the app's smart process itself that the portal no longer has (an admin deleted
    it)? One ``crm.type.list`` filtered by the type's id with the app's stored token (a list, not ``crm.type.get``,
    whose "not found" comes with the error code 0); False when that cannot be told."""
    inst = g.get("installation")
    if inst is None or not inst.type_id:
        return False
    try:
        with clients_for(current_app.config).admin(inst) as client:
            answer = client.call("crm.type.list", {"filter": {"id": inst.type_id}})
    except B24Error:
        return False
    types = answer.get("types") if isinstance(answer, dict) else answer
    if any(isinstance(t, dict) and str(t.get("id")) == str(inst.type_id) for t in types or []):
        return False
    log.error("portal %s: the app's smart process (type %s) no longer exists; an admin must re-run the set-up",
              inst.member_id, inst.type_id)
    return True


def missing_fields_banner(missing: list[str]) -> str:
    """The banner of a page whose plans came back without some of the app's fields (deleted in the portal)."""
    if not missing:
        return ""
    inst = g.get("installation")
    log.error("portal %s: the app's field(s) %s no longer exist; an admin must re-run the set-up",
              inst.member_id if inst else "?", ", ".join(missing))
    return gettext("Some fields of the app's smart process were deleted in this portal (%(fields)s), so the figures "
                   "shown are incomplete. An administrator must open the app's Settings and re-run the set-up.",
                   fields=", ".join(missing))


def not_ready() -> str:
    """The installation has not finished provisioning the smart process in this portal."""
    return render("placements/notice.html", message=gettext(
        "The app is still being set up in this portal. An administrator must open it once to finish."))


def enter_frame() -> frames.FrameUser | tuple[str, int]:
    """Verify Bitrix24's POST into a frame and start the session; a refusal page (401/403) otherwise."""
    try:
        inst, profile = frames.check_frame_post(request.form, InstallationStore(get_db()),
                                                frames.portal_profile)
    except frames.FrameRefused as refused:
        return refusal(refused.status)
    lang = request.values.get("LANG") or inst.lang or "la"
    g.ui_locale = locale_for(lang)
    user = frames.start_session(inst, profile, request.form.get("AUTH_ID", ""), lang)
    g.installation = resume_with_admin(inst, request.form, user)
    g.frame_origin = csp.origin(inst.client_endpoint)
    return user


def placement_options() -> dict[str, Any]:
    """``PLACEMENT_OPTIONS`` arrives as a JSON string (api-reference/widgets/_includes/widget_data.md)."""
    raw = request.form.get("PLACEMENT_OPTIONS") or "{}"
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def furl(endpoint: str, **values: Any) -> str:
    """``url_for`` plus the signed session token, so links work even when the frame drops cookies."""
    user = g.get("frame_user")
    if user is not None:
        values[frames.SESSION_PARAM] = frames.session_token(user)
    return url_for(endpoint, **values)


def data() -> PortalData:
    """The portal, as the current frame user sees it."""
    user: frames.FrameUser = g.frame_user
    inst, clients = g.installation, clients_for(current_app.config)
    client = g.get("b24_client")
    if client is None:
        client = g.b24_client = clients.user(inst, user.access_token)
    # a plan the worker wrote since a cached scan makes that scan stale (the totals follow an open page's rows);
    # a rate set the worker recorded (a currency event) makes the cached currencies stale
    db = get_db()
    return PortalData(client, inst, user.user_id, admin_client=lambda: clients.admin(inst),
                      data_version=planstore.latest_snapshot(db, inst.member_id),
                      reference_version=str(ratestore.latest_id(db, inst.member_id)))


NoticeFlag = Callable[[str | None], dict[str, Any]]
_notice_flags: dict[str, NoticeFlag] = {}


def notice_flag(name: str) -> Callable[[NoticeFlag], NoticeFlag]:
    """Register a URL flag that a redirect sets for the page it lands on (``saved=<plan id>``): the
    function gets the flag's value (None when absent) and returns template variables, ``notice`` being
    the confirmation shown. Flags carry no tokens and nothing secret; a redirect sets one of them."""

    def register(function: NoticeFlag) -> NoticeFlag:
        _notice_flags[name] = function
        return function

    return register


def notice_flags() -> tuple[str, ...]:
    """The registered flags: a page's reload URL drops them so the confirmation is not shown twice."""
    return tuple(_notice_flags)


def render(template: str, **context: Any) -> str:
    """A frame page: the view's context, the session's tokens and links, the notices of the URL flags."""
    user = g.get("frame_user")
    context.setdefault("title", gettext("Sales plans"))
    for name, flag in _notice_flags.items():
        for key, value in flag(request.args.get(name)).items():
            context.setdefault(key, value)
    context.setdefault("notice", "")
    inst = g.get("installation")
    context.setdefault("needs_reauth", bool(user and user.is_admin and inst and inst.status == NEEDS_REAUTH))
    # the series parts of the pages show once the portal has the series fields (_series_*.html)
    context.setdefault("has_series", bool(inst is not None and inst.is_provisioned
                                          and PlanSchema.of(inst).has_series))
    _currency_decimals()
    return render_template(
        template, user=user, furl=furl, locale=g.get("ui_locale", "es"),
        session_token=frames.session_token(user) if user else "",
        csrf_token=frames.csrf_token(user) if user else "",
        bx24_js_url=current_app.config.get("BX24_JS_URL") or "", **context)


def _currency_decimals() -> None:
    """Put the portal's ``DECIMALS`` per currency, and its formats for the user's language, where
    ``placements.i18n.money`` finds them (from the currencies cached per installation: no call of their own
    when the view's batch read them)."""
    inst = g.get("installation")
    user = g.get("frame_user")
    if "currency_decimals" in g or user is None or inst is None or not inst.is_provisioned:
        return
    try:
        portal = data()
        g.currency_decimals = portal.currency_decimals()
        g.currency_formats = portal.currency_formats(user.lang or inst.lang or "la")
    except B24Error as exc:  # the page still renders, with the locale's digits
        log.warning("currency decimals unavailable: %s", exc)
        g.currency_decimals, g.currency_formats = {}, {}


def go(endpoint: str, **values: Any) -> Response:
    """Redirect (303) inside the frame, keeping the session token in the URL."""
    return redirect(furl(endpoint, **values), code=303)  # type: ignore[return-value]
