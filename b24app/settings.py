"""Settings declared as data and read from ``B24_*`` environment variables.

Every setting has a name, a default and a help text; ``tests/test_settings.py`` checks that each one
is documented in the README.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the environment variable."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on", "y"}:
        return True
    if lowered in {"0", "false", "no", "off", "n", ""}:
        return False
    raise ValueError(f"expected on/off, got {value!r}")


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _days(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 (keep everything) or more days")
    return number


def _percent(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 100:
        raise ValueError("must be a percentage from 0 to 100")
    return number


def _log_format(value: str) -> str:
    if value not in {"text", "json"}:
        raise ValueError("must be text or json")
    return value


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        upper = value.strip().upper()
        if upper not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return upper
    return parse


def _growth(value: str) -> float:
    number = float(value)
    if not -100 <= number <= 1000:
        raise ValueError("must be a percentage from -100 to 1000")
    return number


def _cap(value: str) -> float | None:
    number = float(value)
    if number < 0:
        raise ValueError("must be 0 or more (empty: no cap)")
    return number


def _env_name(value: str) -> str:
    if value not in {"production", "development", "test"}:
        raise ValueError("must be production, development or test")
    return value


@dataclass(frozen=True)
class Setting:
    name: str  # key in app.config
    default: Any
    help: str
    parse: Callable[[str], Any] = str
    required_in_production: bool = False
    secret: bool = False

    @property
    def env(self) -> str:
        return f"B24_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting("ENV", "production", "production, development or test; production refuses to start "
            "without the required settings", _env_name),
    Setting("CLIENT_ID", None, "client_id of the local application (local.xxxx.yyyy)",
            required_in_production=True),
    Setting("CLIENT_SECRET", None, "client_secret of the local application; sent only to the OAuth server",
            required_in_production=True, secret=True),
    Setting("PUBLIC_URL", None, "the app's public base URL as Bitrix24 reaches it, e.g. https://plans.example.com",
            required_in_production=True),
    Setting("SECRET_KEY", None, "key that signs the frame sessions and CSRF tokens",
            required_in_production=True, secret=True),
    Setting("DATABASE", "instance/b24plans.db", "the app's store: a path (SQLite) or a postgresql:// URL",
            secret=True),
    Setting("DATABASE_POOL", 20, "connections each process keeps to PostgreSQL at most (B24_DATABASE a URL)",
            _positive_int),
    Setting("MANIFEST", None, "path of app.yaml (default: the one beside the package)"),
    Setting("OAUTH_URL", "https://oauth.bitrix.info/oauth/token/", "OAuth token endpoint used to refresh tokens"),
    Setting("BX24_JS_URL", "//api.bitrix24.com/api/v1/", "where app pages load the BX24 JavaScript library from"),
    Setting("RATE_BURST", 40, "requests the client may burst to one portal (Bitrix24 allows 50; Enterprise 250)",
            _positive_int),
    Setting("RATE_PER_SECOND", 2.0, "sustained requests per second to one portal (Enterprise: 5)",
            _positive_float),
    Setting("OPERATING_LIMIT", 480.0, "per-method execution-time budget in seconds per 10 minutes "
            "(cloud 480, self-hosted 420)", _positive_float),
    Setting("HTTP_CONNECT_TIMEOUT", 5.0, "seconds to wait for a connection to a portal", _positive_float),
    Setting("HTTP_READ_TIMEOUT", 70.0, "seconds to wait for a portal's answer", _positive_float),
    Setting("MAX_RETRIES", 8, "retries for rate-limited or failed idempotent calls", _positive_int),
    Setting("SCHEDULER", True, "run the worker, reconcile and period-end jobs inside the app process", _bool),
    Setting("WORKER_INTERVAL", 2.0, "seconds between inbox drains", _positive_float),
    Setting("RECONCILE_MINUTES", 15, "minutes between full reconciles", _positive_int),
    Setting("CLOSE_PERIODS_HOUR", 1, "hour of the day (each portal's own time) of the period-end job", int),
    Setting("GRACE_DAYS", 0, "days after a plan's period during which a won deal still counts toward it",
            _non_negative_int),
    Setting("SERIES_RECURRENCE", "NONE", "recurrence a new plan starts with in the app's form: NONE, MONTHLY, "
            "QUARTERLY or YEARLY", _choice("NONE", "MONTHLY", "QUARTERLY", "YEARLY")),
    Setting("SERIES_GROWTH", 0.0, "growth in % a new plan starts with, and a plan with an empty growth field uses "
            "(-100 to 1000)", _growth),
    Setting("SERIES_CARRYOVER", "NONE", "carry-over policy a new plan starts with, and a plan with an empty policy "
            "field uses: NONE, SHORTFALL, SURPLUS or BOTH", _choice("NONE", "SHORTFALL", "SURPLUS", "BOTH")),
    Setting("SERIES_CAP", None, "carry-over cap (plan currency) a new plan starts with, and a plan with an empty "
            "cap field uses (empty: no cap)", _cap),
    Setting("RISK_MARGIN", 10, "percent of a plan's amount its expected finish may fall short before the plan is "
            "at risk", _percent),
    Setting("RISK_PACE_MARGIN", 20, "percent a plan's pace (execution % ÷ elapsed %) may fall below 1 before it is "
            "at risk", _percent),
    Setting("RISK_MIN_ELAPSED", 25, "percent of a plan's period that must elapse before it can be at risk",
            _percent),
    Setting("FORECAST_DEFAULT_PROBABILITY", 0, "probability (%) of an open deal whose probability is empty "
            "(Bitrix24 has no per-stage default)", _percent),
    Setting("AUTO_LINK", True, "link a client's deal without a plan to the client's one active plan for its date "
            "(README: Auto-linking)", _bool),
    Setting("LOG_LEVEL", "INFO", "logging level"),
    Setting("LOG_FORMAT", "text", "text (one readable line per record) or json (one JSON object per line)",
            _log_format),
    Setting("KEEP_INBOX_DAYS", 7, "days to keep processed event-inbox rows (0: keep all)", _days),
    Setting("KEEP_AUDIT_DAYS", 365, "days to keep audit-log rows (0: keep all)", _days),
    Setting("KEEP_SNAPSHOT_DAYS", 730, "days to keep plan snapshots; each plan's newest stays (0: keep all)", _days),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}


def load_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every setting from the environment; raise SettingsError naming the variable on bad input."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            shown = "***" if setting.secret else repr(raw)
            raise SettingsError(f"{setting.env}={shown} is not valid: {exc}") from None
    return values


def check_required(config: Mapping[str, Any]) -> None:
    """In production every required setting must be present; name the missing variables."""
    if config.get("ENV") != "production":
        return
    missing = [s.env for s in SETTINGS if s.required_in_production and not config.get(s.name)]
    if missing:
        raise SettingsError(
            "missing required setting(s): " + ", ".join(missing)
            + " (set them in the environment, or B24_ENV=development for local use)"
        )
