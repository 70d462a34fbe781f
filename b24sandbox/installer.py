"""A headless installer: opens a local app for the first time the way Bitrix24 would, as far as HTTP allows.

What a browser does (settings/app-installation/local-apps/installation-master.md,
sdk/bx24-js-sdk/system-functions/bx24-install-finish.md):

1. an admin opens the app; the portal POSTs the frame fields (AUTH_ID, REFRESH_ID, APPLICATION_TOKEN,
   member_id, PLACEMENT=DEFAULT, ...) to the app's INSTALL URL with DOMAIN, PROTOCOL, LANG, APP_SID in the
   query, into an iframe;
2. the install page does its server-side setup and answers HTML whose script calls ``BX24.installFinish()``;
3. that script tells the portal page, which marks the app installed (the sandbox's
   ``POST /sandbox/apps/{client_id}/install-finish`` with the frame's APP_SID).

Here step 1 is the same HTTP POST, step 2 is checked by reading the answer (status 200, HTML, a call to
``BX24.installFinish(`` in the page or in a script it loads from the app's origin) and step 3 is done on
the page's behalf, because no JavaScript runs. Browser tests (tests/sandbox/test_shell_browser.py) cover
the real path where the app's own JS calls installFinish.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

log = logging.getLogger(__name__)

INSTALL_FINISH = re.compile(r"BX24\s*\.\s*installFinish\s*\(")
SCRIPT_SRC = re.compile(r"<script[^>]+src=[\"']([^\"']+)[\"']", re.IGNORECASE)


class InstallError(Exception):
    """The install page did not answer like a page that finishes the installation."""


@dataclass
class InstallResult:
    client_id: str
    install_url: str          # the URL that was POSTed (without the query)
    status: int               # the install page's HTTP status
    calls_install_finish: bool
    installed: bool           # the portal's INSTALLED flag afterwards
    already_installed: bool = False


def _frame(target: Any, client_id: str, user_id: int, lang: str, session: requests.Session,
           timeout: float) -> dict[str, Any]:
    """The frame fields for the app's DEFAULT page: from a Portal object, or a sandbox over HTTP."""
    if isinstance(target, str):
        response = session.get(f"{target.rstrip('/')}/sandbox/apps/{client_id}/frame",
                               params={"user_id": user_id, "placement": "DEFAULT", "lang": lang}, timeout=timeout)
        response.raise_for_status()
        return response.json()
    return target.frame_fields(client_id, user_id=user_id, placement="DEFAULT", lang=lang).as_dict()


def _finish(target: Any, client_id: str, app_sid: str, session: requests.Session, timeout: float) -> bool:
    """What the portal page does when the frame calls BX24.installFinish()."""
    if isinstance(target, str):
        response = session.post(f"{target.rstrip('/')}/sandbox/apps/{client_id}/install-finish",
                                data={"APP_SID": app_sid}, timeout=timeout)
        response.raise_for_status()
        apps = session.get(f"{target.rstrip('/')}/sandbox/apps", timeout=timeout).json()
        rows = apps.get("apps", apps) if isinstance(apps, dict) else apps
        return any(a.get("client_id") == client_id and a.get("installed") for a in rows)
    target.finish_install(client_id, app_sid)
    return bool(target.app(client_id)["installed"])


def page_calls_install_finish(html: str, page_url: str, session: requests.Session, timeout: float) -> bool:
    """True when the page, or a script it loads from the app's own origin, calls BX24.installFinish()."""
    if INSTALL_FINISH.search(html):
        return True
    origin = urlsplit(page_url)[:2]
    for src in SCRIPT_SRC.findall(html):
        url = urljoin(page_url, src)
        if urlsplit(url)[:2] != origin:
            continue
        try:
            script = session.get(url, timeout=timeout)
        except requests.RequestException:
            continue
        if script.ok and INSTALL_FINISH.search(script.text):
            return True
    return False


def mark_for_reinstall(portal: Any, client_id: str) -> None:
    """Bitrix24's "Reinstall" (right-click in the integrations list): the install path runs again."""
    with portal.lock:
        app = portal.app(client_id)
        if app and app.get("installed"):
            app["installed"] = False
            portal._save_app(app)


def install_app(target: Any, client_id: str, user_id: int = 1, lang: str = "la",
                timeout: float = 60.0, reinstall: bool = True) -> InstallResult:
    """Install ``client_id`` on ``target`` (a sandbox base URL like ``http://127.0.0.1:5050`` or a Portal).

    Raises InstallError when the install page does not answer 200 HTML calling BX24.installFinish();
    the app then stays "not installed" (no tabs, no events), as on a real portal. An app that is already
    installed is installed again ("Reinstall") when ``target`` is a Portal and ``reinstall`` is true;
    over HTTP it is left alone (``already_installed=True``).
    """
    if reinstall and not isinstance(target, str):
        mark_for_reinstall(target, client_id)
    with requests.Session() as session:
        frame = _frame(target, client_id, user_id, lang, session, timeout)
        if frame.get("blocked"):
            raise InstallError(f"user {user_id} cannot install {client_id}: {frame['blocked']}")
        if not frame.get("installing"):
            return InstallResult(client_id, frame["url"], 0, False, True, already_installed=True)
        response = session.post(frame["action"], data=frame["form"], timeout=timeout, allow_redirects=True)
        is_html = "html" in response.headers.get("Content-Type", "")
        calls = is_html and page_calls_install_finish(response.text, response.url, session, timeout)
        if response.status_code != 200 or not is_html or not calls:
            raise InstallError(f"install page {frame['url']} answered {response.status_code} "
                               f"{response.headers.get('Content-Type', '')!r}; "
                               f"calls BX24.installFinish(): {bool(calls)}")
        installed = _finish(target, client_id, frame["query"]["APP_SID"], session, timeout)
        log.info("installed %s (install page %s answered %s)", client_id, frame["url"], response.status_code)
        return InstallResult(client_id, frame["url"], response.status_code, True, installed)
