"""``crm.item.list`` pages answered by SQLite: filter, order and ``>id`` windows in SQL over the items table.

A page then costs what the page costs (a ``>id`` window walks the primary key and stops at 50 rows) instead of a
walk over every stored item. The SQL says exactly what ``filters.matches`` / ``filters.sort_rows`` say for the
cases it translates: scalar fields of a known stored type (numbers, ``YYYY-MM-DD`` dates, strings and ``Y``/``N``
flags) with ``=``, ``!=``/``!``, ``@``, ``!@``, ``>``, ``>=``, ``<``, ``<=`` and ``%``. Any other entry (multiple
fields, datetimes, computed fields such as ``stageSemanticId``, ``=%``, a value whose type the stored one could
meet in Python's mixed number/date/string comparison) stays with the Python filter, which then runs only on the
rows SQL lets through; an order SQL cannot express sends the whole request down the Python path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from b24sandbox import filters
from b24sandbox.crm_model import TypeInfo, reader

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

PAGE_SIZE = 50
_NUMERIC = ("integer", "double", "user", "crm_company", "crm_contact", "crm_lead", "crm_quote", "crm_category")
_TEXT = ("string", "text", "crm_status", "crm_currency", "boolean")
_UF_NUMERIC = ("double", "integer", "employee", "enumeration")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPARE = {">": ">", ">=": ">=", "<": "<", "<=": "<="}


class NotSql(Exception):
    """This part of the request has no exact SQL form."""


def _column(info: TypeInfo, name: str) -> tuple[str, str]:
    """(kind, SQL expression) of a field: kind ``num``, ``day`` or ``text``."""
    if name == "id":
        return "num", "id"
    if name in ("stageSemanticId", "entityTypeId", "contactIds") or not _NAME.match(name):
        raise NotSql(name)
    f = info.field_map.get(name)
    if f is not None:
        if f.multiple:
            raise NotSql(name)
        path = f"json_extract(data, '$.{name}')"
        if f.type in _NUMERIC:
            return "num", path
        if f.type == "date":
            return "day", path
        if f.type in _TEXT:
            return "text", path
        raise NotSql(name)
    if name.startswith("parentId") and name[8:].isdigit() and int(name[8:]) in info.parents:
        return "num", f"json_extract(data, '$.{name}')"
    for uf in info.userfields:
        if name.upper() in (uf["fieldName"].upper(), info.uf_name(uf, False).upper()):
            if uf.get("multiple") == "Y" or not _NAME.match(uf["fieldName"]):
                raise NotSql(name)
            path = f"json_extract(data, '$.\"{uf['fieldName']}\"')"
            kind = uf["userTypeId"]
            if kind in _UF_NUMERIC:
                return "num", path
            if kind == "date":
                return "day", path
            if kind == "string":
                return "text", path
            raise NotSql(name)
    raise NotSql(name)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise NotSql(value)
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError as exc:
            raise NotSql(value) from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise NotSql(value)
    return number


def _wanted(kind: str, value: Any) -> Any:
    """The non-empty wanted value as SQL compares it, or NotSql when Python would compare it another way."""
    if kind == "num":
        return _number(value)
    value = filters._scalar(value)
    if kind == "day":
        if not isinstance(value, str) or not _DAY.match(value):
            raise NotSql(value)
        try:
            date.fromisoformat(value)
        except ValueError as exc:
            raise NotSql(value) from exc
        return value
    if not isinstance(value, str) or filters._num(value) is not None or filters._DATEISH.match(value):
        raise NotSql(value)
    return value.lower()


def _is_empty_sql(kind: str, expr: str) -> str:
    return f"({expr} IS NULL OR {expr} = '')" if kind == "text" else f"{expr} IS NULL"


def _equal(kind: str, expr: str, value: Any, args: list[Any]) -> str:
    """``filters._equal(stored, value)`` in SQL."""
    if _empty(value):  # an empty wanted value matches empty (and 0) stored values
        zero = f" OR {expr} = 0" if kind == "num" else ""
        return f"({_is_empty_sql(kind, expr)}{zero})"
    wanted = _wanted(kind, value)
    if kind == "num" and not isinstance(value, str) and value == 0:  # a number 0 also matches an empty value
        return f"({expr} IS NULL OR {expr} = 0)"
    args.append(wanted)
    return f"b24_lower({expr}) = ?" if kind == "text" else f"{expr} = ?"


def _entry(info: TypeInfo, key: str, value: Any, args: list[Any]) -> str:
    op, name = filters.split_key(key)
    kind, expr = _column(info, name)
    if op in ("@", "!@") or (op in ("=", "!=", "!") and isinstance(value, list)):
        values = value if isinstance(value, list) else [value]
        hit = " OR ".join(_equal(kind, expr, v, args) for v in values) or "0"
        return f"NOT COALESCE(({hit}), 0)" if op in ("!@", "!=", "!") else f"({hit})"
    if isinstance(value, list | Mapping):
        raise NotSql(value)
    if op == "=":
        return _equal(kind, expr, value, args)
    if op in ("!=", "!"):
        return f"NOT COALESCE({_equal(kind, expr, value, args)}, 0)"
    if op in ("%", "!%"):
        if kind != "text" or not isinstance(value, str):
            raise NotSql(value)
        args.append(value.lower())
        like = f"COALESCE(instr(b24_lower({expr}), ?) > 0, 0)"
        return like if op == "%" else f"NOT {like}"
    if op not in _COMPARE:
        raise NotSql(op)
    if _empty(value):  # compare() is 0 only when both sides are empty
        return _is_empty_sql(kind, expr) if op in (">=", "<=") else "0"
    args.append(_wanted(kind, value))
    stored = f"b24_lower({expr})" if kind == "text" else expr
    return f"(NOT {_is_empty_sql(kind, expr)} AND {stored} {_COMPARE[op]} ?)"


def _group(info: TypeInfo, flt: Any, args: list[Any]) -> tuple[str, dict[str, Any]]:
    """(SQL, residual filter): the residual is ANDed in Python; an OR group goes to SQL whole or not at all."""
    entries = filters.entries(flt)
    logic = "AND"
    for key, value in entries:
        if key.lower() == "logic":
            logic = str(value).upper()
    parts: list[str] = []
    residual: dict[str, Any] = {}
    for key, value in entries:
        if key.lower() == "logic":
            continue
        mark = len(args)
        try:
            if key.isdigit() and isinstance(value, Mapping | list):
                sql, rest = _group(info, value, args)
                if rest:
                    raise NotSql(key)
                parts.append(sql)
            else:
                parts.append(_entry(info, key, value, args))
        except NotSql:
            del args[mark:]
            if logic == "OR":
                raise
            residual[key] = value
    if not parts:
        return "1", residual
    return "(" + (" OR " if logic == "OR" else " AND ").join(parts) + ")", residual


def compile_filter(info: TypeInfo, flt: Any) -> tuple[str, list[Any], dict[str, Any]]:
    """``(where, args, residual)`` for a ``crm.item.list`` filter; ``residual`` is {} when SQL says it all."""
    args: list[Any] = []
    try:
        sql, residual = _group(info, flt, args)
    except NotSql:
        return "1", [], dict(filters.entries(flt))
    return sql, args, residual


def compile_order(info: TypeInfo, order: Any) -> str | None:
    """ORDER BY for ``order`` (then id, as the Python path's stable sort over id order), or None when SQL
    cannot say it: text columns too, because ``compare`` mixes number, date and string order, which is no
    total order a database can reproduce; those rows are filtered by SQL and sorted by ``filters.sort_rows``."""
    if order and not isinstance(order, Mapping):
        return None
    terms: list[str] = []
    for name, direction in (order or {}).items():
        try:
            kind, expr = _column(info, str(name))
        except NotSql:
            return None
        if kind == "text":
            return None
        terms.append(f"{expr} {'DESC' if str(direction).upper() == 'DESC' else 'ASC'}")
    return ", ".join([*terms, "id ASC"])


def _start(params: Mapping[str, Any]) -> int:
    start = params.get("start", params.get("START", 0))
    try:
        return int(str(start or 0))
    except ValueError:
        return 0


def _window(matched: list[dict[str, Any]], start: int, counting: bool
            ) -> tuple[list[dict[str, Any]], int | None, int | None]:
    if not counting:
        return matched[:PAGE_SIZE], 0, None
    page = matched[start:start + PAGE_SIZE]
    return page, len(matched), (start + PAGE_SIZE if start + PAGE_SIZE < len(matched) else None)


def list_page(portal: Portal, info: TypeInfo, access: str, user_id: int, flt: Any, order: Any,
              params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int | None, int | None]:
    """(page, total, next) exactly as ``methods.paging`` over the Python path (``visible_items``) gives them."""
    order_sql = compile_order(info, order)
    where, args, residual = compile_filter(info, flt)
    sql_where = f"entity_type_id = ? AND {where}"
    args = [info.entity_type_id, *args]
    if access not in ("admin", "all"):  # can_see: only the items assigned to the user
        sql_where += " AND json_extract(data, '$.assignedById') = ?"
        args.append(user_id)
    conn = portal.store.db.conn
    stored = portal.store.items(info.entity_type_id)
    start = _start(params)
    counting = start != -1
    start = max(start, 0) if counting else 0
    if not residual and order_sql is not None:
        sql = f"SELECT id FROM items WHERE {sql_where} ORDER BY {order_sql} LIMIT {PAGE_SIZE} OFFSET {start}"
        page = [stored[row[0]] for row in conn.execute(sql, args) if row[0] in stored]
        if not counting:
            return page, 0, None
        total = conn.execute(f"SELECT COUNT(*) FROM items WHERE {sql_where}", args).fetchone()[0]
        return page, total, (start + PAGE_SIZE if start + PAGE_SIZE < total else None)
    read = reader(portal, info)
    matched: list[dict[str, Any]] = []
    early = not counting and order_sql is not None  # rows come in their final order: stop at a page
    for (item_id,) in conn.execute(f"SELECT id FROM items WHERE {sql_where} ORDER BY {order_sql or 'id ASC'}",
                                   args):
        item = stored.get(item_id)
        if item is not None and (not residual or filters.matches(residual, lambda n, i=item: read(i, n))):
            matched.append(item)
            if early and len(matched) == PAGE_SIZE:
                break
    if order_sql is None:
        matched = filters.sort_rows(matched, order, read)
    return _window(matched, start, counting)
