"""The pure part of the REST client: request bodies, batch commands, answer decoding, error mapping.

No I/O here (the gidgethub "sans-io" idea), so every rule is tested with tables of cases.
Docs: ``settings/how-to-call-rest-api/general-principles.md``, ``.../batch.md``, ``.../data-encoding.md``,
``api-reference/data-types.md#time``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from b24app.phpquery import flatten
from b24app.rest.errors import B24Error, ServerError, error_for
from b24app.version import __version__

USER_AGENT = f"b24plans/{__version__}"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
MAX_BATCH = 50
PAGE_SIZE = 50

Command = tuple[str, Mapping[str, Any] | None]


@dataclass
class Response:
    """One REST answer: ``result`` plus ``total``/``next`` of list methods and the ``time`` block (or None)."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: dict[str, Any] | None = None
    status: int = 200


@dataclass
class BatchResult:
    """A batch answer split per command key (empty sections may come as ``[]`` or ``{}``)."""

    result: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, B24Error] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    next: dict[str, int] = field(default_factory=dict)
    time: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merge(self, other: BatchResult) -> BatchResult:
        for name in ("result", "errors", "total", "next", "time"):
            getattr(self, name).update(getattr(other, name))
        return self

    def raise_first(self) -> None:
        """Raise the first sub-command error, if any."""
        for error in self.errors.values():
            raise error


# ---------------------------------------------------------------- requests

def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot send a {type(value).__name__} to Bitrix24")


def json_body(params: Mapping[str, Any] | None, auth: str | None = None) -> bytes:
    """The JSON body of a call; the token goes in the body (never in the URL)."""
    body = dict(params or {})
    if auth:
        body["auth"] = auth
    return json.dumps(body, default=json_default, ensure_ascii=False).encode("utf-8")


_REF = re.compile(r"\$(?:result|result_error|result_total|result_next|result_time)(?:\[[\w.\-]*\])+")
_KEY_SAFE = "-_.~[]"
_VALUE_SAFE = "-_.~"


def _quote_value(value: str) -> str:
    """Percent-encode a value but keep ``$result[key][items][49][id]`` references readable."""
    out: list[str] = []
    pos = 0
    for match in _REF.finditer(value):
        out.append(quote(value[pos:match.start()], safe=_VALUE_SAFE))
        out.append(match.group(0))
        pos = match.end()
    out.append(quote(value[pos:], safe=_VALUE_SAFE))
    return "".join(out)


def encode_command(method: str, params: Mapping[str, Any] | None = None) -> str:
    """``("crm.item.get", {"id": 5})`` -> ``crm.item.get?id=5``: PHP brackets, Y/N for booleans, "" for None."""
    if not params:
        return method
    query = "&".join(f"{quote(k, safe=_KEY_SAFE)}={_quote_value(v)}" for k, v in flatten(params))
    return f"{method}?{query}"


def check_batch(commands: Mapping[str, Command]) -> None:
    if len(commands) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} commands, got {len(commands)}")
    for key in commands:
        if not isinstance(key, str) or not key or key.isdigit() or not re.fullmatch(r"[\w.\-]+", key):
            raise ValueError(f"batch command keys must be non-numeric words, got {key!r}")


def batch_params(commands: Mapping[str, Command], halt: bool = False) -> dict[str, Any]:
    """The parameters of ``batch``: ``{"halt": 0, "cmd": {key: "method?query"}}``."""
    check_batch(commands)
    return {"halt": 1 if halt else 0,
            "cmd": {key: encode_command(method, params) for key, (method, params) in commands.items()}}


# ---------------------------------------------------------------- answers

def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def operating_of(time_block: Any) -> tuple[float, float] | None:
    """``(operating, operating_reset_at)`` from a ``time`` block, or None when either is missing."""
    if not isinstance(time_block, Mapping):
        return None
    operating = _number(time_block.get("operating"))
    reset_at = _number(time_block.get("operating_reset_at"))
    if operating is None or reset_at is None:
        return None
    return operating, reset_at


def _int_or_none(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def error_from_payload(status: int, payload: Mapping[str, Any], method: str) -> B24Error:
    code = payload.get("error")
    description = payload.get("error_description") or ""
    if not isinstance(code, str):
        code = "" if code is None else str(code)
    reset = operating_of(payload.get("time"))
    return error_for(status, code, str(description), method, reset_at=reset[1] if reset else 0.0)


def is_error_payload(payload: Mapping[str, Any]) -> bool:
    """Errors hide in bodies with HTTP 200 too (``placement.bind``), sometimes with an empty code
    (``userfieldconfig.add``)."""
    return "error" in payload or "error_description" in payload


def decode_response(status: int, text: str, method: str) -> Response:
    """Turn an HTTP answer into a Response or raise the matching B24Error."""
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        what = "an empty answer" if not text else "an answer that is not JSON"
        if 300 <= status < 500:
            raise error_for(status, "", f"{what} with HTTP {status}", method)
        raise ServerError(status, "", f"{what} with HTTP {status}", method)
    if is_error_payload(payload):
        raise error_from_payload(status, payload, method)
    if status >= 400:
        raise error_for(status, "", "error status without an error code", method)
    time_block = payload.get("time")
    return Response(result=payload.get("result"), total=_int_or_none(payload.get("total")),
                    next=_int_or_none(payload.get("next")),
                    time=time_block if isinstance(time_block, dict) else None, status=status)


def _section(value: Any) -> dict[str, Any]:
    """A batch section as a dict whether Bitrix24 sent ``{}``, ``[]`` or a JSON list."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value)}
    return {}


def decode_batch(result: Any, methods: Mapping[str, str]) -> BatchResult:
    """Split ``{"result": .., "result_error": .., "result_total": .., "result_next": .., "result_time": ..}``.

    ``methods`` maps command keys to method names so sub-errors name their method.
    """
    if not isinstance(result, Mapping):
        raise ServerError(200, "", "batch answer without a result object", "batch")
    out = BatchResult(result=_section(result.get("result")))
    for key, err in _section(result.get("result_error")).items():
        method = methods.get(key, "")
        if isinstance(err, Mapping):
            out.errors[key] = error_from_payload(0, err, method)
        else:
            out.errors[key] = error_for(0, "", str(err), method)
        out.result.pop(key, None)
    for key, value in _section(result.get("result_total")).items():
        number = _int_or_none(value)
        if number is not None:
            out.total[key] = number
    for key, value in _section(result.get("result_next")).items():
        number = _int_or_none(value)
        if number is not None:
            out.next[key] = number
    out.time = {k: v for k, v in _section(result.get("result_time")).items() if isinstance(v, dict)}
    return out


# ---------------------------------------------------------------- retry rules

_READ_SUFFIXES = (".get", ".list", ".fields", ".getfields", ".search", ".current", ".info", ".getlist")
_READ_METHODS = {"profile", "app.info", "method.get", "methods", "scope", "server.time", "feature.get"}
_IDEMPOTENT_WRITES = {"app.option.set", "user.option.set", "placement.bind", "placement.unbind",
                      "event.bind", "event.unbind", "userfieldconfig.update"}


def is_idempotent(method: str, params: Mapping[str, Any] | None = None) -> bool:
    """May this call be sent again after a 5xx or a lost answer without doing the work twice?

    Reads and absolute-value writes (``crm.*.update``) may; ``*.add`` never.
    """
    name = method.lower().removesuffix(".json")
    if name == "batch":
        cmd = (params or {}).get("cmd") or {}
        values = cmd.values() if isinstance(cmd, Mapping) else cmd
        return all(is_idempotent(str(c).split("?", 1)[0]) for c in values)
    if name.endswith(".add") or ".add." in name:
        return False
    if name == "event.offline.get":  # clear=1 (the default) deletes what it reads
        return str((params or {}).get("clear", "1")).lower() in {"0", "n", "false"}
    if name in _READ_METHODS or name in _IDEMPOTENT_WRITES or name.startswith("user."):
        return True
    if name.endswith(_READ_SUFFIXES):
        return True
    return name.startswith("crm.") and name.endswith(".update")


def commands_idempotent(commands: Mapping[str, Command]) -> bool:
    return all(is_idempotent(method, params) for method, params in commands.values())


def backoff(attempt: int, rnd: Callable[[], float], base: float = 0.5, cap: float = 30.0,
            floor: float = 0.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base*2^attempt)], at least ``floor``."""
    return max(floor, rnd() * min(cap, base * (2 ** attempt)))


def retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") if headers else None
    return _number(value) if value else None


def is_rest_endpoint(url: str) -> bool:
    return bool(re.match(r"^https?://[^/]+(/.*)?/rest/([^/]+/[^/]+/)?$", url))


def endpoint_from_location(location: str, method: str) -> str | None:
    """``https://new.bitrix24.es/rest/crm.item.list.json`` -> ``https://new.bitrix24.es/rest/``."""
    for suffix in (f"{method}.json", method):
        head, sep, _query = location.partition("?")
        if head.endswith(suffix):
            base = head[: -len(suffix)]
            return base if is_rest_endpoint(base) else None
    return None
