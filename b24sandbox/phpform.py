"""Form bodies and query strings as the portal's PHP reads and writes them, written for the emulator.

``parse_str`` fills a request's parameters the way PHP fills ``$_GET`` / ``$_POST`` (and its ``parse_str()``):
``a[b][c]=1`` nests, ``a[]=x`` appends after the highest integer key, the last value of a name wins, a scalar
and an array replace each other, spaces and dots in a top-level name become ``_``, an unclosed ``[`` is
not an index, more than 64 levels of brackets drop the variable. ``http_build_query`` writes an event body
the way Bitrix24's HTTP client does (PHP's ``http_build_query()``): ``data%5BFIELDS%5D%5BID%5D=5``, ``true``
as ``1``, ``false`` as ``0``, ``None`` and empty arrays left out, RFC 1738 escaping (space as ``+``).

PHP arrays come out as dicts with string keys in insertion order, or as lists when their keys are exactly
0..n-1 in order (what ``json_encode`` would write as a JSON list). This module shares no code with the
app's own REST client, so the sandbox checks the client's encoding instead of repeating it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

MAX_NESTING = 64  # PHP's max_input_nesting_level default
_INT_KEY = re.compile(r"0|-?[1-9][0-9]*")
_INT_MAX = 2**63 - 1
_BLANK = (" ", "\t", "\n", "\r", "\v", "\f")
_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class _Array(dict[str, Any]):
    """A PHP array while it is being filled: remembers the next index ``[]`` appends at."""

    def __init__(self) -> None:
        super().__init__()
        self.next_index: int | None = None  # one past the highest integer key so far (none yet: 0)

    def put(self, key: str | None, value: Any) -> bool:
        """``$array[key] = value`` (``None``: ``$array[] = value``); False when PHP would refuse the append."""
        if key is None:
            index = 0 if self.next_index is None else self.next_index
            if index > _INT_MAX:
                return False
            key = str(index)
        if _INT_KEY.fullmatch(key) and -_INT_MAX - 1 <= int(key) <= _INT_MAX:
            if self.next_index is None or int(key) >= self.next_index:
                self.next_index = int(key) + 1
        self[key] = value
        return True

    def array_at(self, key: str | None) -> _Array | None:
        """The array stored at ``key`` (a scalar there is replaced by an empty array; ``None`` appends one)."""
        child = self.get(key) if key is not None else None
        if isinstance(child, _Array):
            return child
        child = _Array()
        return child if self.put(key, child) else None


def _url_decode(text: str) -> str:
    """PHP's ``urldecode()``: ``+`` is a space, ``%XX`` a byte, a stray ``%`` stays as it is."""
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", errors="replace")


def _split_name(name: str) -> tuple[str, list[str | None]] | None:
    """A variable name -> (top-level name, bracket indexes; ``None`` = ``[]``), or None when PHP skips it."""
    name = name.split("\0", 1)[0].lstrip(" ")  # PHP reads a name as a C string: it ends at a NUL byte
    top: list[str] = []
    indexes: list[str | None] = []
    rest = ""
    for pos, char in enumerate(name):
        if char == "[":
            rest = name[pos:]
            break
        top.append("_" if char in " ." else char)
    base = "".join(top)
    if not base:
        return None
    while rest.startswith("["):
        close = rest.find("]")
        if close < 0:  # not an index: at the top level the bracket and what follows join the name
            if not indexes:
                base += "_" + re.sub(r"[ .\[]", "_", rest[1:])
            break
        inner = rest[1:close]
        indexes.append(None if inner == "" or inner in _BLANK else inner)  # PHP reads [ ] as [] too
        rest = rest[close + 1:]
    return base, indexes


def _register(target: _Array, name: str, value: str) -> None:
    split = _split_name(name)
    if split is None:
        return
    base, indexes = split
    if len(indexes) > MAX_NESTING:
        target.pop(base, None)  # PHP drops the whole variable
        return
    if not indexes:
        target.put(base, value)
        return
    node = target.array_at(base)
    for index in indexes[:-1]:
        if node is None:
            return
        node = node.array_at(index)
    if node is not None:
        node.put(indexes[-1], value)


def _plain(value: Any) -> Any:
    if not isinstance(value, _Array):
        return value
    items = {k: _plain(v) for k, v in value.items()}
    if list(items) == [str(i) for i in range(len(items))]:
        return list(items.values())
    return items


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Already-decoded ``(name, value)`` pairs (a multipart form's fields) into PHP's nested arrays."""
    result = _Array()
    for name, value in pairs:
        _register(result, name, value)
    return {k: _plain(v) for k, v in result.items()}


def parse_str(query: str) -> dict[str, Any]:
    """A query string or form body (``a=1&b[c][]=2``) as PHP's ``parse_str()`` / ``$_POST`` read it."""
    pairs = []
    for chunk in query.split("&"):
        if chunk:
            name, _, value = chunk.partition("=")
            pairs.append((_url_decode(name), _url_decode(value)))
    return parse_pairs(pairs)


def _url_encode(text: str) -> str:
    """PHP's ``urlencode()``: letters, digits and ``-_.`` as they are, a space as ``+``, the rest ``%XX``."""
    return "".join(chr(b) if b in _UNRESERVED else "+" if b == 0x20 else f"%{b:02X}" for b in text.encode())


def php_string(value: Any) -> str:
    """A scalar as PHP turns it into a string in ``http_build_query()`` (floats with ``precision`` = 14)."""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = format(value, ".14G")
        mantissa, sep, exponent = text.partition("E")
        if not sep:
            return text
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}E{exponent[0]}{exponent[1:].lstrip('0') or '0'}"
    if isinstance(value, str):
        return value
    raise TypeError(f"no PHP scalar for {type(value).__name__}")


def _pairs(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, Mapping | list | tuple):
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        out: list[str] = []
        for key, item in items:
            out += _pairs(item, f"{name}%5B{_url_encode(php_string(key))}%5D")
        return out
    return [f"{name}={_url_encode(php_string(value))}"]


def http_build_query(data: Mapping[str, Any]) -> str:
    """``data`` as PHP's ``http_build_query($data)`` writes it (what Bitrix24 POSTs to event handlers)."""
    out: list[str] = []
    for key, value in data.items():
        out += _pairs(value, _url_encode(php_string(key)))
    return "&".join(out)
