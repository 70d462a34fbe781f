"""Keep tokens and secrets out of logs.

Two layers: code never passes a token to a logger, and this filter masks anything that still looks like
one (``auth=…``, ``access_token…``, ``AUTH_ID=…``) or equals a secret the process registered.
"""

from __future__ import annotations

import logging
import re
import threading

_KEYS = (
    r"auth|access_token|refresh_token|application_token|client_secret|AUTH_ID|REFRESH_ID|"
    r"APPLICATION_TOKEN|auth\[access_token\]|auth\[refresh_token\]|auth\[application_token\]"
)
# ``_s`` is the app's signed frame-session parameter (placements/frames.py): it grants a user's view of the
# plans for up to an hour, so an access-log line with it is as sensitive as a token.
_SESSION_PARAM = r"(?<![A-Za-z0-9])_s"
_PATTERN = re.compile(
    r"(?P<key>(?:" + _KEYS + "|" + _SESSION_PARAM + r")['\"]?\s*[:=]\s*['\"]?)(?P<value>[^&'\"\s,}]+)",
    re.IGNORECASE,
)
_known: set[str] = set()
_lock = threading.Lock()


def register_secret(*values: str | None) -> None:
    """Remember secret values so they are masked wherever they would appear."""
    with _lock:
        for value in values:
            if value and len(value) >= 6:
                _known.add(value)


def redact(text: str) -> str:
    text = _PATTERN.sub(lambda m: m.group("key") + "***", text)
    with _lock:
        known = list(_known)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format must not break logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install(level: str | int = "INFO") -> None:
    """Attach the filter to the root logger's handlers (and to new ones through the root filter)."""
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(RedactingFilter())
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for handler in root.handlers:
            handler.addFilter(RedactingFilter())
    root.setLevel(level)
