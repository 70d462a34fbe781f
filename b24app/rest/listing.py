"""Reading whole lists fast: ``order id ASC``, a ``>id`` cursor and ``start=-1``, chained inside one batch.

Docs: ``settings/performance/huge-data.md`` and ``settings/how-to-call-rest-api/batch.md``. Page k+1's
cursor is page k's 50th id, referenced as ``$result[p{k}][items][49][id]``, so one HTTP call reads up to
50 pages (2,500 rows). The chain is sized from what is known so it does not spend list calls that find
nothing: the first call reads one page plus the highest id (``order id DESC``), and the remaining length
comes from the id density seen so far; a caller's ``estimate`` or the previous run's count replaces the
probe; with neither, chains double. A page with fewer than 50 rows ends the read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from b24app.rest.codec import MAX_BATCH, PAGE_SIZE, BatchResult, Command


class Batching(Protocol):
    """What reading lists needs of a client (``B24Client``): its endpoint and batch calls."""

    endpoint: str

    def batch(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult: ...

    def batch_all(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult: ...

AUTO = "auto"
_last_counts: dict[tuple[str, str, str], int] = {}  # previous runs' row counts, per portal/method/filter


def shape(method: str, items_key: str | None = AUTO, id_field: str | None = None) -> tuple[str | None, str]:
    """``crm.item.list`` keeps rows under ``result.items`` with ``id``; ``crm.deal.list`` style methods
    return the rows as the result with ``ID``."""
    item_style = method.lower().startswith("crm.item.")
    if items_key == AUTO:
        items_key = "items" if item_style else None
    return items_key, id_field or ("id" if items_key else "ID")


def page_params(base: Mapping[str, Any], id_field: str, cursor: Any, descending: bool = False) -> dict[str, Any]:
    params = {k: v for k, v in base.items() if k not in {"order", "start"}}
    flt = dict(base.get("filter") or {})
    if cursor is not None:
        flt[f">{id_field}"] = cursor
    params["filter"] = flt
    params["order"] = {id_field: "DESC" if descending else "ASC"}
    params["start"] = -1
    return params


def reference(key: str, items_key: str | None, id_field: str) -> str:
    path = f"[{items_key}]" if items_key else ""
    return f"$result[{key}]{path}[{PAGE_SIZE - 1}][{id_field}]"


def chain(method: str, base: Mapping[str, Any], items_key: str | None, id_field: str, cursor: Any,
          length: int, prefix: str = "p") -> dict[str, Command]:
    """``length`` page commands; each after the first starts after the previous page's last id."""
    commands: dict[str, Command] = {}
    previous: str | None = None
    for i in range(length):
        key = f"{prefix}{i}"
        start = cursor if previous is None else reference(previous, items_key, id_field)
        commands[key] = (method, page_params(base, id_field, start))
        previous = key
    return commands


def rows_of(result: Any, items_key: str | None) -> list[dict[str, Any]]:
    if items_key and isinstance(result, Mapping):
        result = result.get(items_key)
    if isinstance(result, Mapping):  # PHP may send a list as {"0": .., "1": ..}
        result = list(result.values())
    return [row for row in result or [] if isinstance(row, dict)]


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class ChainPlan:
    """What is known while reading; decides how many pages the next batch chains."""

    rows: int = 0
    first_id: int | None = None
    last_id: int | None = None
    max_id: int | None = None
    top_density: float | None = None  # rows per id unit among the highest ids
    expected: int | None = None  # caller's estimate or the previous run's count
    last_length: int = 1

    def density(self) -> float | None:
        samples = [d for d in (self.top_density,) if d]
        if self.first_id is not None and self.last_id is not None and self.last_id >= self.first_id:
            samples.append(self.rows / (self.last_id - self.first_id + 1))
        return sum(samples) / len(samples) if samples else None

    def next_length(self) -> int:
        density = self.density()
        if self.max_id is not None and self.last_id is not None and density:
            pages = math.ceil(max(0, self.max_id - self.last_id) * density / PAGE_SIZE) + 1
        elif self.expected is not None and self.expected >= self.rows:
            pages = math.ceil((self.expected - self.rows) / PAGE_SIZE) + 1
        else:
            pages = self.last_length * 2
        self.last_length = max(1, min(MAX_BATCH, pages))
        return self.last_length

    def see_rows(self, page: Sequence[Mapping[str, Any]], id_field: str) -> None:
        if not page:
            return
        if self.first_id is None:
            self.first_id = _as_int(page[0].get(id_field))
        self.last_id = _as_int(page[-1].get(id_field)) or self.last_id
        self.rows += len(page)

    def see_top(self, top: Sequence[Mapping[str, Any]], id_field: str) -> None:
        ids = [i for i in (_as_int(r.get(id_field)) for r in top) if i is not None]
        if ids:
            self.max_id = max(ids)
            if len(ids) == PAGE_SIZE and self.max_id > min(ids):
                self.top_density = len(ids) / (self.max_id - min(ids) + 1)


def list_all(client: Batching, method: str, params: Mapping[str, Any] | None = None,
             items_key: str | None = AUTO, id_field: str | None = None,
             estimate: int | None = None) -> list[dict[str, Any]]:
    """Every row matching ``params["filter"]``, in id order (a ``>id`` already in the filter is the start)."""
    items_key, id_field = shape(method, items_key, id_field)
    base = dict(params or {})
    flt = dict(base.get("filter") or {})
    cursor = flt.pop(f">{id_field}", None)
    base["filter"] = flt
    select = base.get("select")
    if select and id_field not in select and "*" not in select:
        base["select"] = [id_field, *select]  # the cursor needs the id of every row
    memory_key = (urlsplit(client.endpoint).netloc, method.lower(), repr(sorted(flt.items(), key=str)))
    plan = ChainPlan(expected=estimate if estimate is not None else _last_counts.get(memory_key))
    rows: list[dict[str, Any]] = []
    probe = plan.expected is None
    length = 1 if probe else plan.next_length()
    while True:
        commands = chain(method, base, items_key, id_field, cursor, length)
        if probe:
            top = page_params(base, id_field, cursor, descending=True)
            top["select"] = [id_field]
            commands["top"] = (method, top)
        result = client.batch(commands)
        finished = False
        for key in list(commands)[:length]:
            if key in result.errors:  # pages after the last short one may fail; they are never read
                raise result.errors[key]
            page = rows_of(result.result.get(key), items_key)
            rows.extend(page)
            plan.see_rows(page, id_field)
            if len(page) < PAGE_SIZE:
                finished = True
                break
        if finished:
            break
        if probe:
            plan.see_top(rows_of(result.result.get("top"), items_key), id_field)
            probe = False
        cursor = rows[-1].get(id_field)
        length = plan.next_length()
    if len(_last_counts) > 1000:
        _last_counts.clear()
    _last_counts[memory_key] = len(rows)
    return _unique(rows, id_field)


def _unique(rows: list[dict[str, Any]], id_field: str) -> list[dict[str, Any]]:
    seen: set[Any] = set()
    out = []
    for row in rows:
        key = row.get(id_field)
        if key in seen:
            continue
        seen.add(key)
        out.append(row)
    return out


def get_many(client: Batching, entity_type_id: int, ids: Iterable[int],
             select: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """``crm.item.list`` with ``@id`` filters: 50 ids per command, 50 commands per batch; input order kept,
    ids that do not exist are skipped."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        return []
    fields = None if select is None else list(dict.fromkeys(["id", *select]))
    commands: dict[str, Command] = {}
    for n, start in enumerate(range(0, len(wanted), PAGE_SIZE)):
        params: dict[str, Any] = {"entityTypeId": entity_type_id, "filter": {"@id": wanted[start:start + PAGE_SIZE]},
                                  "start": -1}
        if fields is not None:
            params["select"] = fields
        commands[f"g{n}"] = ("crm.item.list", params)
    result = client.batch_all(commands)
    result.raise_first()
    found: dict[int, dict[str, Any]] = {}
    for key in commands:
        for row in rows_of(result.result.get(key), "items"):
            row_id = _as_int(row.get("id"))
            if row_id is not None:
                found[row_id] = row
    return [found[i] for i in wanted if i in found]
