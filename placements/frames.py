"""Frame security: verify Bitrix24's POST into a frame, then a signed session for the frame's later requests.

Every frame POST carries ``member_id``, ``APPLICATION_TOKEN`` and the user's ``AUTH_ID``
(api-reference/widgets/_includes/widget_data.md). We check the first two against the stored installation
(constant time) and the token by calling ``profile`` at the STORED ``client_endpoint`` — never at the posted
``DOMAIN`` (api-reference/common/users/profile.md; ARCHITECTURE.md F3).

The user's token stays server-side in ``frame_sessions``; the Flask session cookie and the signed ``_s``
fallback (for browsers that drop third-party cookies inside frames) both carry only the session id. Links
and forms carry ``_s``; app.js sends it on XHR in the ``X-Frame-Session`` header, so the URLs it fetches
(the ones access logs keep) hold no session. The cookie wins over a token naming a session this browser
never opened, and a session opened before the installation's last verified install, Reinstall or
uninstall is refused.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

from b24app import csp
from b24app.db import get_db
from b24app.installations import Installation, InstallationStore
from b24app.rest.clients import clients_for

log = logging.getLogger(__name__)

SESSION_SECONDS = 3600  # AUTH_ID lives one hour (settings/oauth/index.md)
STALE_KEEP_SECONDS = 86400  # an expired session row (token blanked) still names its portal for a day
SESSION_PARAM = "_s"
SESSION_HEADER = "X-Frame-Session"  # how app.js sends the session token on XHR (never in the URL)
COOKIE_SESSIONS = 8  # sessions the cookie remembers: the frames of one browser open at the same time
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_DUMMY = "x" * 32

F = TypeVar("F", bound=Callable[..., Any])


class FrameRefused(Exception):
    """The frame call is not from the installed portal (403) or carries no valid user token (401)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class FrameUser:
    sid: str
    member_id: str
    user_id: int
    is_admin: bool
    lang: str
    access_token: str

    def __repr__(self) -> str:  # never show the token
        return f"FrameUser(member_id={self.member_id!r}, user_id={self.user_id}, admin={self.is_admin})"


def signer(salt: str) -> URLSafeTimedSerializer:
    """A serializer signed with the app's key; each use has a salt of its own."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def check_frame_post(form: Any, store: InstallationStore,
                     profile_of: Callable[[Installation, str], dict[str, Any]]) -> tuple[Installation, dict]:
    """Verify a frame POST; return the installation and the user's ``profile``, or raise FrameRefused.

    ``profile_of(installation, auth_id)`` calls ``profile`` with the user's token at the stored endpoint.
    """
    member_id = (form.get("member_id") or "").strip()
    app_token = form.get("APPLICATION_TOKEN") or ""
    auth_id = form.get("AUTH_ID") or ""
    if not member_id or not auth_id:
        raise FrameRefused(401, "missing member_id or AUTH_ID")
    inst = store.find(member_id)
    stored = inst.application_token if inst and inst.serves_frames and inst.application_token else None
    token_ok = hmac.compare_digest((stored or _DUMMY).encode(), app_token.encode())
    if stored is None or not token_ok:
        log.warning("frame refused for member %s: %s", member_id[:40],
                    "unknown or inactive installation" if stored is None else "APPLICATION_TOKEN mismatch")
        raise FrameRefused(403, "unknown installation or wrong application token")
    assert inst is not None
    try:
        profile = profile_of(inst, auth_id)
    except FrameRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to prove the token is a refusal
        log.warning("frame refused for member %s: AUTH_ID not accepted by the portal (%s)",
                    member_id, type(exc).__name__)
        raise FrameRefused(401, "the portal did not accept the user token") from None
    if not isinstance(profile, dict) or not profile.get("ID"):
        raise FrameRefused(401, "the portal returned no user for the token")
    return inst, profile


def portal_profile(inst: Installation, auth_id: str) -> dict[str, Any]:
    """``profile`` with the user's own token at the stored client_endpoint (api-reference/common/users/profile.md)."""
    with clients_for(current_app.config).user(inst, auth_id) as client:
        return client.call("profile")


def start_session(inst: Installation, profile: dict[str, Any], auth_id: str, lang: str) -> FrameUser:
    """Store the verified user server-side and point the Flask session at it."""
    db = get_db()
    now = time.time()
    sid = secrets.token_urlsafe(32)
    admin = profile.get("ADMIN") in (True, 1, "1", "Y", "true")
    user = FrameUser(sid, inst.member_id, int(profile["ID"]), admin, lang, auth_id)
    with db.transaction():
        # Expired rows lose their token at once but stay a day: they let the "session expired" page be
        # framed by the right portal and speak the user's language (stale_session); they never grant access.
        db.execute("UPDATE frame_sessions SET access_token = '' WHERE expires_at < ? AND access_token != ''",
                   [now])
        db.execute("DELETE FROM frame_sessions WHERE expires_at < ?", [now - STALE_KEEP_SECONDS])
        db.table("frame_sessions").insert({"sid": sid, "member_id": user.member_id, "user_id": user.user_id,
                                     "is_admin": int(user.is_admin), "lang": lang, "access_token": auth_id,
                                     "created_at": now, "expires_at": now + SESSION_SECONDS})
    earlier = [s for s in _cookie_sids() if s != sid][:COOKIE_SESSIONS - 1]  # the browser's other frames
    session.clear()
    session["sids"] = [sid, *earlier]
    session.permanent = False
    g.frame_user = user
    return user


def session_token(user: FrameUser) -> str:
    """The signed ``_s`` value that carries the session in links and forms (XHR sends it as a header)."""
    return signer("frame-session").dumps(user.sid)


def _sent_token() -> str:
    return request.headers.get(SESSION_HEADER) or request.values.get(SESSION_PARAM) or ""


def _token_sid(max_age: int | None) -> str | None:
    """The session id signed into the header or ``_s``, when one is sent and the signature is ours."""
    token = _sent_token()
    if not token:
        return None
    try:
        return str(signer("frame-session").loads(token, max_age=max_age))
    except BadSignature:
        return None


def _cookie_sids() -> list[str]:
    """The sessions this browser opened (newest first), from the Flask session cookie."""
    sids = session.get("sids")
    if isinstance(sids, list):
        return [str(s) for s in sids if s]
    return [str(session["sid"])] if session.get("sid") else []


def _candidates(max_age: int | None) -> list[str]:
    """Session ids to try, in order.

    The cookie is preferred: a token (header or ``_s``) is taken alone when it names one of the sessions
    this browser opened (another frame of the same browser) or when there is no cookie (a browser that
    drops third-party cookies); a token naming a session this browser never opened, e.g. from a planted
    link, comes only after the cookie's sessions, so it counts only when none of them is live.
    """
    sent, mine = _token_sid(max_age), _cookie_sids()
    if sent is not None and sent in mine:
        return [sent]
    return [*mine, *([sent] if sent is not None else [])]


def names_a_session() -> bool:
    """Whether the request carries any session reference (``_s``, header or cookie), valid or not."""
    return bool(_sent_token() or _cookie_sids())


def stale_session() -> tuple[str, str] | None:
    """``(member_id, lang)`` of the session this request names, even when it has expired.

    Only for the "session expired" page (which portal may frame it, which language it speaks); it
    never grants access: ``load_session`` is the only way to a FrameUser. The ``_s`` signature must
    still be ours (any age); the cookie is signed by Flask.
    """
    if _sent_token() and _token_sid(None) is None:
        return None
    for sid in _candidates(None):
        rows = list(get_db().query("SELECT member_id, lang FROM frame_sessions WHERE sid = ?", [sid]))
        if rows:
            return str(rows[0]["member_id"]), str(rows[0]["lang"] or "")
    return None


def _live_session(sid: str) -> FrameUser | None:
    """The session ``sid`` while it lives and its installation has not been (re)installed or uninstalled
    since it was opened (``Installation.sessions_from``)."""
    db = get_db()
    rows = list(db.query("SELECT * FROM frame_sessions WHERE sid = ? AND expires_at > ?", [sid, time.time()]))
    if not rows:
        return None
    row = rows[0]
    inst = InstallationStore(db).find(row["member_id"])
    if inst is None or float(row["created_at"] or 0) < inst.sessions_from:
        return None
    return FrameUser(row["sid"], row["member_id"], int(row["user_id"]), bool(row["is_admin"]),
                     row["lang"] or "", row["access_token"] or "")


def load_session() -> FrameUser | None:
    """The frame user of this request (cookie first, then the header or ``_s``); None when expired."""
    if "frame_user" in g:
        return g.frame_user
    for sid in _candidates(SESSION_SECONDS):
        user = _live_session(sid)
        if user is not None:
            g.frame_user = user
            return user
    return None


def csrf_token(user: FrameUser) -> str:
    return signer("csrf").dumps(user.sid)


def csrf_ok(user: FrameUser) -> bool:
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    try:
        value = signer("csrf").loads(sent, max_age=SESSION_SECONDS)
    except BadSignature:
        return False
    return hmac.compare_digest(str(value), user.sid)


def frame_required(view: F) -> F:
    """Views after the frame POST: a live session (401 otherwise) and, on POST, a valid CSRF token (403)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = load_session()
        if user is None:
            abort(401)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not csrf_ok(user):
            log.warning("CSRF token missing or wrong on %s", request.path)
            abort(403)
        inst = InstallationStore(get_db()).find(user.member_id)
        if inst is None or not inst.serves_frames:
            abort(403)
        g.installation = inst
        g.frame_origin = csp.origin(inst.client_endpoint)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def frame_headers(response: Any) -> Any:
    """Framed pages may be framed only by the installation's portal; never X-Frame-Options.

    The data-free "session expired" page (``g.frame_anywhere``, set by placements.web.refusal) may be
    framed by any site when the request no longer names its portal: it holds a fixed text and a button
    that asks the framing page to reload the frame, nothing a foreign framer could read or abuse; the
    portal must be able to show it, or the user sees the browser's "refused to connect". Scripts: the
    app's static files and the BX24 library only (the templates hold no inline script; b24app/csp.py).
    """
    origin = g.get("frame_origin")
    response.headers.pop("X-Frame-Options", None)
    if origin:
        ancestors = f"'self' {origin}"
    elif g.get("frame_anywhere"):
        ancestors = "*"
    else:
        ancestors = "'none'"
    response.headers["Content-Security-Policy"] = csp.policy(ancestors, current_app.config.get("BX24_JS_URL") or "")
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if g.get("frame_user") is not None:
        response.headers["Cache-Control"] = "private, no-store"
    return response
