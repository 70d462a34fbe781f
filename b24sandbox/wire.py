"""The wire format: PHP ``json_encode`` rules, the ``time`` block, dates, request parameters.

settings/how-to-call-rest-api/general-principles.md; api-reference/data-types.md#time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from b24sandbox.phpform import parse_str

PORTAL_TZ = timezone(timedelta(hours=1))  # the portal's server time zone (Madrid, winter: UTC+01:00)


def php_value(value: Any) -> Any:
    """What PHP's json_encode would emit for the same PHP array: empty maps become ``[]``."""
    if isinstance(value, Mapping):
        if not value:
            return []
        return {str(k): php_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [php_value(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def php_keyed(mapping: Mapping[str, Any]) -> Any:
    """A PHP array keyed by command keys: keys exactly 0..n-1 (in order) become a JSON list."""
    keys = list(mapping)
    if keys and keys == [str(i) for i in range(len(keys))]:
        return [mapping[k] for k in keys]
    return dict(mapping)


def dumps(body: Any) -> str:
    return json.dumps(php_value(body), ensure_ascii=False, separators=(",", ":"))


def php_json_string(value: Any) -> str:
    """``json_encode`` as PHP writes it by default: ``\\/`` for slashes, ``\\uXXXX`` for non-ASCII."""
    return json.dumps(php_value(value), separators=(",", ":")).replace("/", "\\/")


def now_iso(ts: float | None = None) -> str:
    """``YYYY-MM-DDThh:mm:ss±hh:mm`` in the portal's time zone."""
    moment = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).astimezone(PORTAL_TZ)
    return moment.replace(microsecond=0).isoformat()


def date_iso(day: date) -> str:
    """How a date field comes back from crm.item / crm.deal: midnight UTC shown in the portal's zone,
    e.g. ``2024-08-30T01:00:00+01:00`` (the docs' samples: ``2024-08-30T02:00:00+02:00``)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).astimezone(PORTAL_TZ).isoformat()


def parse_date(value: Any) -> date | None:
    if value in (None, "", False):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y"):
        try:
            return datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {value!r}")


def parse_datetime(value: Any) -> datetime | None:
    if value in (None, "", False):
        return None
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        day = parse_date(text)
        moment = datetime(day.year, day.month, day.day) if day else None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PORTAL_TZ)
    return moment


def time_block(start: float, finish: float, processing: float, operating: float,
               reset_at: float) -> dict[str, Any]:
    return {
        "start": start,
        "finish": finish,
        "duration": finish - start,
        "processing": processing,
        "date_start": now_iso(start),
        "date_finish": now_iso(finish),
        "operating_reset_at": int(reset_at),
        "operating": round(operating, 6),
    }


def merge_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Query string, then the JSON or form body on top (what PHP's $_REQUEST would hold)."""
    params: dict[str, Any] = parse_str(query) if query else {}
    if not body:
        return params
    ctype = (content_type or "").lower()
    text = body.decode("utf-8", errors="replace")
    if "json" in ctype or (not ctype and text.lstrip().startswith("{")):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            params.update(data)
        return params
    if "multipart/" in ctype:
        return params  # handled by the caller (rare; Flask parses it)
    params.update(parse_str(text))
    return params


def as_map(value: Any) -> dict[str, Any]:
    """A parameter that should be an object: anything else counts as empty."""
    return dict(value) if isinstance(value, Mapping) else {}


def truthy(value: Any) -> bool:
    """Y/N, 1/0, true/false, as the REST methods read booleans."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() in ("y", "1", "true", "yes", "on")


def as_int(value: Any, default: int | None = None) -> int | None:
    if value is None or value == "" or isinstance(value, dict | list):
        return default
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return default


def yn(value: Any) -> str:
    return "Y" if truthy(value) else "N"
