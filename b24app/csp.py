"""The Content-Security-Policy of the app's pages: the frames, their refusals and the install page.

Who may frame a page is the caller's to say (its portal, ``'none'``, or ``*`` for the data-free expiry page).
Scripts: the app's own static files (``'self'``), the BX24 library from ``BX24_JS_URL``'s origin, and an
inline script only when it carries the response's nonce; never ``'unsafe-inline'``. No plugins
(``object-src 'none'``) and no ``<base>`` that could move where relative script URLs point.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")  # what may go into a header as a host-source


def new_nonce() -> str:
    """A fresh nonce for one response's inline script."""
    return secrets.token_urlsafe(18)


def origin(url: str) -> str:
    """``https://portal.bitrix24.es/rest/`` -> ``https://portal.bitrix24.es``; "" when it names no host.

    A scheme-less URL (``//api.bitrix24.com/api/v1/``) gives the bare host, which a CSP matches with the
    page's own scheme; anything that is not a plain host is dropped rather than put in a header.
    """
    parts = urlsplit(url or "")
    if not parts.netloc or not _HOST.match(parts.netloc):
        return ""
    if not parts.scheme:
        return parts.netloc
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


def policy(frame_ancestors: str, bx24_js_url: str = "", nonce: str = "") -> str:
    """The header's value: ``frame_ancestors`` as given, scripts from ourselves and the BX24 library."""
    scripts = ["'self'"]
    library = origin(bx24_js_url)
    if library:
        scripts.append(library)
    if nonce:
        scripts.append(f"'nonce-{nonce}'")
    return "; ".join([f"frame-ancestors {frame_ancestors}", "script-src " + " ".join(scripts),
                      "object-src 'none'", "base-uri 'none'"])
