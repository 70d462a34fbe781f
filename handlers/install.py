"""``/install``: the local app's "Path for initial installation".

Bitrix24 POSTs here the first time an admin opens the app, and again on "Reinstall"
(settings/app-installation/installation-finish.md). The view parses the POST, runs
``b24app.provisioning.installer.install`` and renders what happened in the admin's language (the app's
catalogs, b24app/translations); only a complete install calls ``BX24.installFinish()``. A GET shows a short
explanation (someone opened the URL by hand).

Every answer carries a CSP (b24app/csp.py): only a verified install names its portal (the OAuth answer's
``client_endpoint``) in ``frame-ancestors``; the GET page and refusals, where no portal is vouched for,
may be framed by nobody. The one inline script (``installFinish``) runs with the response's nonce.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext

from b24app import csp
from b24app.db import get_db
from b24app.i18n import locale_for
from b24app.provisioning.installer import InstallForm, InstallOutcome, InstallRefused, install
from b24app.provisioning.report import CREATED, FAILED, FOUND, REMOVED, UPDATED

log = logging.getLogger(__name__)
bp = Blueprint("install", __name__, template_folder="templates")

NOT_COMPLETE = lazy_gettext("The installation is not complete. Fix the problem and open the application again.")
OUTCOMES = {  # a provisioning step's outcome (sync/provision.py); a failed step's row repeats NOT_COMPLETE
    CREATED: lazy_gettext("created"), FOUND: lazy_gettext("already there"), UPDATED: lazy_gettext("updated"),
    FAILED: NOT_COMPLETE, REMOVED: lazy_gettext("removed (the app does not use it)"),
}
KINDS = {  # a provisioning step's kind
    "smart_process": lazy_gettext("Smart process"), "field": lazy_gettext("Field"), "stage": lazy_gettext("Stage"),
    "placement": lazy_gettext("Tab"), "event": lazy_gettext("Event"), "option": lazy_gettext("Application settings"),
}
REASONS = {  # InstallRefused.reason (sync/installer.py)
    "not_admin": lazy_gettext("Only a portal administrator can install the application."),
    "malformed": lazy_gettext("The installation request is incomplete"),
    "oauth_failed": lazy_gettext("The OAuth server did not confirm the installation (check client_id and "
                                 "client_secret)"),
    "oauth_unreachable": lazy_gettext("The OAuth server could not be reached"),
    "member_mismatch": lazy_gettext("The installation data does not belong to this portal"),
    "portal_error": lazy_gettext("The portal answered with an error"),
}


def _paths() -> dict[str, str]:
    manifest = current_app.extensions["b24_manifest"]
    base = str(current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    return {name: base + manifest.handlers[name] for name in ("index", "install", "events")}


def _speak(b24_lang: str | None) -> str:
    """The page's language from Bitrix24's ``LANG`` (Spanish first); gettext follows it."""
    lang = g.ui_locale = locale_for(b24_lang)
    return lang


def _page(lang: str, status: int, outcome: InstallOutcome | None = None, **context: Any) -> ResponseReturnValue:
    """The page, its status and headers; ``outcome`` only once the OAuth server vouched for the portal."""
    nonce = csp.new_nonce()
    bx24_js_url = current_app.config.get("BX24_JS_URL") or ""
    html = render_template("handlers/install.html", lang=lang, paths=_paths(), outcomes=OUTCOMES, kinds=KINDS,
                           reasons=REASONS, not_complete=NOT_COMPLETE, bx24_js_url=bx24_js_url,
                           csp_nonce=nonce, outcome=outcome, **context)
    portal = csp.origin(outcome.installation.client_endpoint) if outcome is not None else ""
    ancestors = f"'self' {portal}" if portal else "'none'"
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": csp.policy(ancestors, bx24_js_url, nonce)}
    return html, status, headers


@bp.get("/install")
def explain() -> ResponseReturnValue:
    lang = _speak(request.args.get("LANG"))
    return _page(lang, 200, mode="info")


@bp.post("/install")
def run() -> ResponseReturnValue:
    """Verify the POST through OAuth, check the portal, provision, report (ARCHITECTURE.md F1)."""
    lang = _speak(request.values.get("LANG"))
    try:
        form = InstallForm.parse(request.values)
        outcome = install(current_app.config, get_db(), form, current_app.extensions["b24_manifest"])
    except InstallRefused as exc:
        log.warning("install refused: %s", exc.reason)
        return _page(lang, exc.status, mode="refused", reason=exc.reason, detail=exc.detail)
    status = 200 if outcome.ok else (409 if outcome.missing else 500)
    return _page(lang, status, outcome, mode="result")
