"""PHP-bracket query strings, as Bitrix24 reads and writes them.

``encode({"filter": {">id": 5, "opened": True}})`` → ``filter%5B%3Eid%5D=5&filter%5Bopened%5D=Y``.
Booleans become ``Y``/``N`` and ``None`` an empty string, never ``True``/``None``
(settings/how-to-call-rest-api/data-encoding.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote

_SAFE = "-_.~"


def scalar(value: Any) -> str:
    if value is True:
        return "Y"
    if value is False:
        return "N"
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts/lists → ``[("a[b][0]", "x"), ...]`` (unencoded keys and values)."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return [(prefix, scalar(value))]
    empty = True
    for key, item in items:
        empty = False
        name = f"{prefix}[{key}]" if prefix else str(key)
        pairs.extend(flatten(item, name))
    if empty and prefix:
        pairs.append((prefix, ""))
    return pairs


def encode(params: Mapping[str, Any]) -> str:
    """Percent-encoded PHP-bracket query string."""
    return "&".join(f"{quote(k, safe=_SAFE)}={quote(v, safe=_SAFE)}" for k, v in flatten(params))


_KEY_RE = re.compile(r"^([^\[\]]*)((?:\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")


class TooDeep(ValueError):
    """A key with more levels of brackets than the caller allows."""


def _insert(target: dict[str, Any], key: str, value: str, appends: dict[int, int], max_depth: int) -> None:
    """Put one ``a[b][]`` pair into ``target``. ``appends`` holds each dict's next ``[]`` index (PHP: the largest
    integer key + 1), so a thousand appends cost a thousand steps, not a million."""
    match = _KEY_RE.match(key)
    if not match or not match.group(1):
        target[key] = value
        return
    parts = [match.group(1), *_PART_RE.findall(match.group(2))]
    if len(parts) > max_depth:
        raise TooDeep(f"{len(parts)} levels")
    node: dict[str, Any] = target
    for i, part in enumerate(parts):
        if part == "":
            part = str(appends.get(id(node), 0))
        if part.isdigit():
            appends[id(node)] = max(appends.get(id(node), 0), int(part) + 1)
        if i == len(parts) - 1:
            node[part] = value
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child


def _listify(value: Any) -> Any:
    """Dicts whose keys are exactly 0..n-1 become lists (what PHP's json_encode would emit)."""
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted) and sorted(int(k) for k in converted) == list(
        range(len(converted))
    ):
        return [converted[str(i)] for i in range(len(converted))]
    return converted


def unflatten(pairs: Iterable[tuple[str, str]], listify: bool = True, max_depth: int = 32) -> dict[str, Any]:
    """``[("data[FIELDS][ID]", "5")]`` → ``{"data": {"FIELDS": {"ID": "5"}}}``; TooDeep past ``max_depth``."""
    result: dict[str, Any] = {}
    appends: dict[int, int] = {}
    for key, value in pairs:
        _insert(result, key, value, appends, max_depth)
    if not listify:
        return result
    return {k: _listify(v) for k, v in result.items()}


def decode(query: str, listify: bool = True) -> dict[str, Any]:
    """Parse a percent-encoded PHP-bracket query string into nested dicts and lists."""
    return unflatten(parse_qsl(query, keep_blank_values=True), listify=listify)
