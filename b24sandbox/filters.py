"""List filters and ordering as the CRM list methods read them.

api-reference/crm/universal/crm-item-list.md: a plain key means ``=``; prefixes ``>=``, ``>``, ``<=``, ``<``,
``@`` (IN), ``!@`` (NOT IN), ``%`` (LIKE substring), ``=%``/``%=`` (LIKE with own ``%``), ``!%``, ``!=``/``!``;
nested groups with ``"logic": "OR"``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from b24sandbox.wire import parse_datetime

Getter = Callable[[str], Any]
_PREFIXES = ("!=%", "!%=", "=%", "%=", "!@", "!%", ">=", "<=", "!=", "@", "%", ">", "<", "=", "!")
_DATEISH = re.compile(r"^\d{4}-\d{2}-\d{2}")


def split_key(key: str) -> tuple[str, str]:
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return prefix, key[len(prefix):]
    return "=", key


def entries(flt: Any) -> list[tuple[str, Any]]:
    if isinstance(flt, Mapping):
        return [(str(k), v) for k, v in flt.items()]
    if isinstance(flt, list):
        return [(str(i), v) for i, v in enumerate(flt)]
    return []


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "Y" if value else "N"
    return value


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _when(value: Any) -> datetime | None:
    if isinstance(value, str) and _DATEISH.match(value):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def compare(left: Any, right: Any) -> int | None:
    """-1/0/1, or None when the values cannot be ordered (one is empty)."""
    left, right = _scalar(left), _scalar(right)
    if _empty(left) or _empty(right):
        if _empty(left) and _empty(right):
            return 0
        return None
    a, b = _num(left), _num(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    da, db = _when(left), _when(right)
    if da is not None and db is not None:
        return (da > db) - (da < db)
    sa, sb = str(left).lower(), str(right).lower()
    return (sa > sb) - (sa < sb)


def _equal(left: Any, right: Any) -> bool:
    if _empty(right) or right == 0 and _empty(left):
        return _empty(left) or (left == 0 and _empty(right))
    return compare(left, right) == 0


def _like(value: Any, pattern: str, own_wildcards: bool) -> bool:
    if value is None:
        return False
    text = str(value).lower()
    pattern = str(pattern).lower()
    if not own_wildcards:
        return pattern in text
    regex = "^" + ".*".join(re.escape(p) for p in pattern.split("%")) + "$"
    return re.match(regex, text, re.S) is not None


def _test(op: str, actual: Any, wanted: Any) -> bool:
    values = actual if isinstance(actual, list) else [actual]
    if isinstance(actual, list) and not actual:
        values = [None]
    if op in ("@", "!@") or (op in ("=", "!=", "!") and isinstance(wanted, list)):
        wanted_list = wanted if isinstance(wanted, list) else [wanted]
        hit = any(_equal(v, w) for v in values for w in wanted_list)
        return not hit if op in ("!@", "!=", "!") else hit
    if op == "=":
        return any(_equal(v, wanted) for v in values)
    if op in ("!=", "!"):
        return not any(_equal(v, wanted) for v in values)
    if op in ("%", "=%", "%="):
        return any(_like(v, wanted, op != "%") for v in values)
    if op in ("!%", "!=%", "!%="):
        return not any(_like(v, wanted, op != "!%") for v in values)
    for v in values:
        result = compare(v, wanted)
        if result is None:
            continue
        if (op == ">" and result > 0) or (op == ">=" and result >= 0) or (op == "<" and result < 0) or (
                op == "<=" and result <= 0):
            return True
    return False


def matches(flt: Any, get: Getter) -> bool:
    """True when the item (read through ``get(field)``) passes the filter."""
    pairs = entries(flt)
    logic = "AND"
    for key, value in pairs:
        if key.lower() == "logic":
            logic = str(value).upper()
    results: list[bool] = []
    for key, value in pairs:
        if key.lower() == "logic":
            continue
        if key.isdigit() and isinstance(value, Mapping | list):
            results.append(matches(value, get))
            continue
        op, field = split_key(key)
        results.append(_test(op, get(field), value))
    if not results:
        return True
    return any(results) if logic == "OR" else all(results)


def sort_rows(rows: list[Any], order: Any, get: Callable[[Any, str], Any]) -> list[Any]:
    """Stable multi-key sort; empty values first on ASC (what MySQL does with NULL)."""
    keys = [(str(k), str(v).upper()) for k, v in entries(order)] if order else []
    import functools

    def cmp(a: Any, b: Any) -> int:
        for field, direction in keys:
            va, vb = get(a, field), get(b, field)
            if _empty(va) and _empty(vb):
                result = 0
            elif _empty(va):
                result = -1
            elif _empty(vb):
                result = 1
            else:
                result = compare(va, vb) or 0
            if result:
                return -result if direction == "DESC" else result
        return 0

    return sorted(rows, key=functools.cmp_to_key(cmp)) if keys else list(rows)


def install_sql_functions(conn: sqlite3.Connection) -> None:
    """``b24_lower`` and the collation ``b24`` (``compare`` itself), so the SQL of ``item_query`` filters and
    orders text exactly as this module does."""
    conn.create_function("b24_lower", 1, lambda v: v.lower() if isinstance(v, str) else v, deterministic=True)
    conn.create_collation("b24", lambda a, b: compare(a, b) or 0)
