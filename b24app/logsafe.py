"""Keep tokens and secrets out of logs.

Two layers: code never passes a token to a logger, and this filter masks anything that still looks like
one (``auth=…``, ``access_token…``, ``AUTH_ID=…``) or equals a secret the process registered. Only
verified secrets are registered (stored tokens, tokens of a verified call), at most ``MAX_SECRETS`` of them,
each at least ``MIN_SECRET`` characters long: a value someone posted cannot censor later lines.

Values logged as arguments (``log.info("event %s", name)``) are escaped: a newline or another control
character in something a caller sent cannot forge a log line.
"""

from __future__ import annotations

import json
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
MIN_SECRET = 10  # the shortest real secret is a webhook code (16); nothing this short is a secret
MAX_SECRETS = 10_000  # the oldest are forgotten first (rotated tokens, long-ended sessions)
_known: dict[str, None] = {}  # insertion-ordered set
_lock = threading.Lock()
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def register_secret(*values: str | None) -> None:
    """Remember secret values so they are masked wherever they would appear."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET:
                _known.pop(value, None)
                _known[value] = None
        while len(_known) > MAX_SECRETS:
            del _known[next(iter(_known))]


def secrets_count() -> int:
    """How many secrets are registered (tests: the set never grows from unverified input)."""
    with _lock:
        return len(_known)


def escape(value: object) -> object:
    """A logged argument with control characters (CR, LF, ...) shown as escapes; other types unchanged."""
    if isinstance(value, str) and _CONTROL.search(value):
        return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)
    return value


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
        if isinstance(record.args, tuple):
            record.args = tuple(escape(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: escape(arg) for key, arg in record.args.items()}
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format must not break logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class SafeFormatter(logging.Formatter):
    """A formatter whose whole output (a traceback included) goes through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(SafeFormatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` (and ``exception``), redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                 "logger": record.name, "message": redact(record.getMessage())}
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def install(level: str | int = "INFO", fmt: str = "text") -> None:
    """Attach the filter to the root logger's handlers (and to new ones through the root filter); with
    ``fmt="json"`` every root handler writes one JSON object per line."""
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(RedactingFilter())
    if not root.handlers:
        logging.basicConfig(level=level)
        for handler in root.handlers:
            handler.setFormatter(SafeFormatter(TEXT_FORMAT))
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
        if fmt == "json":
            handler.setFormatter(JsonFormatter())
    root.setLevel(level)
