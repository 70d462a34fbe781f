"""The planning grid ("Planificación"), a view of the plans page: rows are clients, columns the months or quarters
of a year, a cell the client's plan amount for that period with its won amount and execution beside it.

Edits, pastes and fills stay in the browser (``static/grid.js``) until "Save": the changed cells go to
``/grid/preview`` as rows of the import's wide layout, so the grid, an uploaded ``.xlsx`` / ``.csv`` and
``b24plans import`` share one reader (``b24app.sheet``), one change set (``b24app.changeset``) and one writer
(``sync.sheet_import``, 50 commands a batch). The preview lists what will be created, changed and left alone;
``/grid/save`` writes the same payload, with the person's own token (their CRM rights apply).

The first screen carries the first ``CHUNK`` clients; the rest arrive in chunks from ``/grid/rows`` as the
page scrolls, so 500 clients never wait for all their rows. ``/grid/export.xlsx`` writes the year in exactly the
import format, so export → edit in Excel → import changes only what was edited.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Response, abort, g, request
from flask_babel import gettext

from b24app.changeset import ChangeSet, recurrence_of
from b24app.planmath import parse_date
from b24app.rest.errors import B24Error
from b24app.schema import PROBABILITY_SUFFIX
from b24app.sheet import (
    MAX_ROWS,
    Grid,
    Parsed,
    SheetRow,
    iter_periods,
    parse_grids,
    period_header,
    problem,
    read_file,
    to_xlsx,
)
from placements import web
from placements.frames import frame_required
from placements.i18n import number
from placements.plan_form import Client
from placements.portal_data import plan_title
from placements.reference_data import cache
from sync import sheet_import

log = logging.getLogger(__name__)
bp = web.blueprint("grid")
CHUNK = 50
MAX_UPLOAD = 8 * 1024 * 1024
ATTRS = ("client", "responsible", "currency", "probability", "recurrence")


@dataclass
class Cell:
    amount: Decimal | None = None
    won: Decimal | None = None
    execution: Decimal | None = None
    plan_id: int | None = None
    last: Decimal | None = None  # last year's amount for the same period


@dataclass
class GridRow:
    client: Client
    name: str = ""
    currency: str = ""
    responsible: int | None = None
    probability: Decimal | None = None
    recurrence: str | None = None
    cells: dict[str, Cell] = field(default_factory=dict)


def _dec(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _year_and_unit() -> tuple[int, str]:
    try:
        year = int(request.args.get("year") or date.today().year)
    except ValueError:
        year = date.today().year
    year = min(max(year, 2000), 2100)
    unit = request.args.get("unit") or "month"
    return year, unit if unit in ("month", "quarter") else "month"


def _plans(year: int) -> list[dict[str, Any]]:
    """The plans whose period overlaps ``year`` and the year before (for "copy last year"), in fast mode."""
    portal = web.data()
    fm = g.installation.field_map
    select = ["id", "companyId", "contactId", "begindate", "closedate", "opportunity", "currencyId", "assignedById",
              *(fm[s] for s in (PROBABILITY_SUFFIX, "EXECUTED", "EXECUTION", "RECURRENCE") if s in fm)]
    return portal.client.list_all("crm.item.list", {
        "entityTypeId": portal.eti, "select": select,
        "filter": {"<=begindate": date(year, 12, 31).isoformat(), ">=closedate": date(year - 1, 1, 1).isoformat()}},
        items_key="items")


def grid_rows(year: int, unit: str, items: list[dict[str, Any]],
              extra: tuple[Client, ...] = ()) -> tuple[list[GridRow], int]:
    """The grid's rows (one per client, in name order once named) and how many plans of the year fit no column."""
    fm = g.installation.field_map
    headers = {period_header(b, e) for b, e in iter_periods(year, unit)}
    rows: dict[Client, GridRow] = {}
    other = 0
    for item in items:
        company, contact = int(item.get("companyId") or 0), int(item.get("contactId") or 0)
        begin, end = parse_date(item.get("begindate")), parse_date(item.get("closedate"))
        if not (company or contact) or begin is None or end is None:
            continue
        client = Client("company", company) if company else Client("contact", contact)
        header = period_header(begin, end)
        if begin.year == year - 1 and header:
            last_header = header.replace(str(year - 1), str(year), 1)
            if last_header in headers:
                row = rows.setdefault(client, GridRow(client))
                row.cells.setdefault(last_header, Cell()).last = _dec(item.get("opportunity"))
            continue
        if begin.year != year:
            continue
        if header is None or header not in headers:
            other += 1
            continue
        row = rows.setdefault(client, GridRow(client))
        cell = row.cells.setdefault(header, Cell())
        cell.amount, cell.plan_id = _dec(item.get("opportunity")) or Decimal(0), int(item["id"])
        cell.won = _dec(item.get(fm.get("EXECUTED", ""))) if "EXECUTED" in fm else None
        cell.execution = _dec(item.get(fm.get("EXECUTION", ""))) if "EXECUTION" in fm else None
        row.currency = row.currency or str(item.get("currencyId") or "")
        row.responsible = row.responsible or (int(item.get("assignedById") or 0) or None)
        if PROBABILITY_SUFFIX in fm and row.probability is None:
            row.probability = _dec(item.get(fm[PROBABILITY_SUFFIX]))
        row.recurrence = row.recurrence or recurrence_of(item, fm, g.installation.enum_map)
    for client in extra:
        rows.setdefault(client, GridRow(client))
    ordered = sorted(rows.values(), key=lambda r: (r.client.kind, r.client.id))
    return ordered, other


def _named(rows: list[GridRow]) -> list[GridRow]:
    names = web.data().client_names(r.client for r in rows)
    for row in rows:
        row.name = names.get(row.client, "") or row.client.code
    return rows


def _context(year: int, unit: str) -> dict[str, Any]:
    """The grid's rows, read once and kept a minute for the chunks that follow the first screen (dropped by any
    write through the app and outdated by any plan the worker wrote: ``data_version``)."""
    portal = web.data()
    key = ("grid", g.installation.member_id, portal.user_id, year, unit, portal.data_version)
    found = cache.get(key)
    if found is None:
        found = _read_context(year, unit)
        cache.put(key, found, 60)
    return dict(found)


def _read_context(year: int, unit: str) -> dict[str, Any]:
    items = _plans(year)
    rows, other = grid_rows(year, unit, items)
    names = web.data().client_names(r.client for r in rows)
    for row in rows:
        row.name = names.get(row.client, "") or row.client.code
    rows.sort(key=lambda r: (not any(c.plan_id for c in r.cells.values()), r.name.casefold()))
    periods = [(period_header(b, e) or "", b) for b, e in iter_periods(year, unit)]
    user_names = {u.id: u.name for u in web.data().users()}
    return {"rows": rows, "other": other, "periods": periods, "year": year, "unit": unit, "user_names": user_names}


def cell_text(value: Decimal | None) -> str:
    """An amount as the person would type it in their locale, without thousands separators (``1234,5``)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return text.replace(".", "," if number(Decimal("1.5"), 1).startswith("1,") else ".")


@bp.get("/grid")
@frame_required
def index() -> Any:
    if not g.installation.is_provisioned:
        return web.not_ready()
    year, unit = _year_and_unit()
    context = _context(year, unit)
    rows = context.pop("rows")
    portal = web.data()
    return web.render("placements/grid.html", rows=rows[:CHUNK], more=len(rows) > CHUNK, total=len(rows),
                      users=portal.users(), currencies=portal.currencies(), cell_text=cell_text,
                      has_recurrence="RECURRENCE" in g.installation.field_map, **context)


@bp.get("/grid/rows")
@frame_required
def more_rows() -> Any:
    """The next chunk of rows (``offset``) as table rows."""
    if not g.installation.is_provisioned:
        abort(404)
    year, unit = _year_and_unit()
    try:
        offset = max(int(request.args.get("offset") or 0), 0)
    except ValueError:
        offset = 0
    context = _context(year, unit)
    rows = context.pop("rows")
    return web.render("placements/_grid_rows.html", rows=rows[offset:offset + CHUNK],
                      more=len(rows) > offset + CHUNK, next_offset=offset + CHUNK, cell_text=cell_text,
                      has_recurrence="RECURRENCE" in g.installation.field_map, **context)


@bp.get("/grid/row")
@frame_required
def new_row() -> Any:
    """One empty row for a client the person searched and added (``client=company:12``), with its name."""
    client = Client.parse(request.args.get("client"))
    if client is None or not g.installation.is_provisioned:
        abort(400)
    year, unit = _year_and_unit()
    rows = _named([GridRow(client)])
    periods = [(period_header(b, e) or "", b) for b, e in iter_periods(year, unit)]
    return web.render("placements/_grid_rows.html", rows=rows, more=False, periods=periods, year=year, unit=unit,
                      cell_text=cell_text, user_names={}, has_recurrence="RECURRENCE" in g.installation.field_map)


# ---- save: the same reader and change set as a file -------------------------------------------------------------
def grid_of_payload(payload: Any) -> tuple[Grid, int]:
    """The browser's changed rows as a sheet in the wide layout, and how many cells were cleared (a cleared cell
    never deletes a plan). ``payload``: ``{"periods": [...], "rows": [{"client", "responsible", ..., "cells":
    {"2027-01": "1.234,50"}}]}``."""
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    periods = [str(p) for p in payload.get("periods") or []][:40]
    grid = Grid("")
    grid.rows.append((1, [*ATTRS, *periods]))
    cleared = 0
    given_rows = payload.get("rows") or []
    if not isinstance(given_rows, list) or len(given_rows) > MAX_ROWS:
        raise ValueError("too many rows")
    for number_, row in enumerate(given_rows, start=2):
        if not isinstance(row, dict):
            continue
        given = row.get("cells")
        cells: dict[str, Any] = given if isinstance(given, dict) else {}
        values: list[Any] = [str(row.get(k) or "").strip() or None for k in ATTRS]
        for period in periods:
            text = str(cells.get(period, "") or "").strip()
            if period in cells and not text:
                cleared += 1
            values.append(text or None)
        grid.rows.append((number_, values))
    return grid, cleared


def _preview(parsed: Parsed, extra_problems: list[Any] | None = None) -> ChangeSet:
    portal = web.data()
    problems = [*parsed.problems, *(extra_problems or [])]
    if not parsed.entries:  # nothing readable to resolve; otherwise every problem is listed at once
        return sheet_import.plan_changes_failed(problems)
    return sheet_import.changes_for(portal.client, g.installation, parsed.entries, problems, title=plan_title)


def _parsed_payload() -> Parsed:
    try:
        payload = json.loads(request.form.get("payload") or request.get_data(as_text=True) or "{}")
        grid, cleared = grid_of_payload(payload)
    except ValueError:
        abort(400)
    parsed = parse_grids([grid], g.ui_locale)
    parsed.problems = [p for p in parsed.problems if p.message != "the file holds no plan: no amount under a "
                       "period column" or not cleared]
    if cleared:
        parsed.problems.append(problem("%(count)s cleared cell(s): clearing a cell does not delete its plan; close "
                                       "or delete the plan in its form", error=False, count=cleared))
    return parsed


def _report(changes: ChangeSet, written: sheet_import.WriteReport | None = None, **more: Any) -> str:
    by_key = {c.key: c for c in changes.to_write}
    template = "placements/grid_import.html" if more.get("action") == "file" else "placements/_grid_report.html"
    return web.render(template, changes=changes, written=written, by_key=by_key,
                      problem_text=lambda p: p.text(gettext), **more)


@bp.post("/grid/preview")
@frame_required
def preview() -> Any:
    try:
        return _report(_preview(_parsed_payload()), action="grid")
    except B24Error as exc:
        return web.portal_error(exc)


@bp.post("/grid/save")
@frame_required
def save() -> Any:
    try:
        changes = _preview(_parsed_payload())
        if not changes.ok:
            return _report(changes, action="grid"), 422
        report = sheet_import.write(web.data().client, g.installation, changes)
    except B24Error as exc:
        return web.portal_error(exc)
    _audit(changes, report, "grid")
    return _report(changes, report, action="grid")


def _audit(changes: ChangeSet, report: sheet_import.WriteReport, source: str) -> None:
    from b24app.db import get_db

    sheet_import.audit_write(get_db(), g.installation, changes, report, f"user:{g.frame_user.user_id}", source)
    cache.drop(g.installation.member_id)


# ---- files ------------------------------------------------------------------------------------------------------
@bp.post("/grid/import")
@frame_required
def import_file() -> Any:
    """An uploaded sheet: the dry run's report and, when it is clean, a button that writes it (the file travels
    back with it, so nothing is kept on the server between the two)."""
    upload = request.files.get("file")
    if upload is not None:
        data = upload.read(MAX_UPLOAD + 1)
        name = upload.filename or ""
    else:
        try:
            data = base64.b64decode(request.form.get("file_data") or "", validate=True)
        except (binascii.Error, ValueError):
            abort(400)
        name = request.form.get("file_name") or ""
    if len(data) > MAX_UPLOAD:
        changes = sheet_import.plan_changes_failed([problem("the file is larger than 8 MB: split it")])
        return _report(changes, action="file"), 413
    parsed = read_file(data, name, g.ui_locale)
    try:
        changes = _preview(parsed)
        if request.form.get("write") == "1" and changes.ok:
            report = sheet_import.write(web.data().client, g.installation, changes)
            _audit(changes, report, "file")
            return _report(changes, report, action="file")
    except B24Error as exc:
        return web.portal_error(exc)
    return _report(changes, action="file", file_data=base64.b64encode(data).decode("ascii"), file_name=name)


def export_rows(items: list[dict[str, Any]], year: int) -> tuple[list[SheetRow], list[str]]:
    """A year's plans as rows of the wide layout (one row per client and attributes) and the period headers in
    use: the twelve months always, the quarters and the year when a plan is one."""
    fm = g.installation.field_map
    grouped: dict[tuple[Any, ...], list[dict[str, Decimal]]] = defaultdict(list)
    used: set[str] = set()
    names: dict[tuple[Any, ...], str] = {}
    for item in items:
        company, contact = int(item.get("companyId") or 0), int(item.get("contactId") or 0)
        begin, end = parse_date(item.get("begindate")), parse_date(item.get("closedate"))
        if not (company or contact) or begin is None or end is None or begin.year != year:
            continue
        header = period_header(begin, end)
        if header is None:
            continue
        client = f"company:{company}" if company else f"contact:{contact}"
        key = (client, int(item.get("assignedById") or 0) or None, str(item.get("currencyId") or ""),
               _dec(item.get(fm[PROBABILITY_SUFFIX])) if PROBABILITY_SUFFIX in fm else None,
               recurrence_of(item, fm, g.installation.enum_map))
        buckets = grouped[key]
        target = next((b for b in buckets if header not in b), None)
        if target is None:
            target = {}
            buckets.append(target)
        target[header] = _dec(item.get("opportunity")) or Decimal(0)
        used.add(header)
        names[key] = client
    clients = {Client.parse(code) for code in names.values()}
    titles = web.data().client_names(c for c in clients if c is not None)
    out: list[SheetRow] = []
    for key, buckets in sorted(grouped.items(), key=lambda kv: str(kv[0])):
        parsed_client = Client.parse(key[0])
        for amounts in buckets:
            out.append(SheetRow(key[0], titles.get(parsed_client, "") if parsed_client else "", key[1], key[2],
                                key[3], key[4], amounts))
    headers = [period_header(b, e) or "" for b, e in iter_periods(year, "month")]
    headers += [h for h in (period_header(b, e) or "" for b, e in iter_periods(year, "quarter")) if h in used]
    headers += [str(year)] if str(year) in used else []
    return out, headers


@bp.get("/grid/export.xlsx", endpoint="export")
@frame_required
def export() -> Any:
    """The chosen year, or the years of ``years=2026,2027`` (at most 5), one sheet each."""
    if not g.installation.is_provisioned:
        abort(404)
    year, _unit = _year_and_unit()
    try:
        years = sorted({min(max(int(y), 2000), 2100) for y in (request.args.get("years") or "").split(",") if y})[:5]
    except ValueError:
        years = []
    years = years or [year]
    sheets: dict[str, list[SheetRow]] = {}
    headers: dict[str, list[str]] = {}
    for each in years:
        sheets[str(each)], headers[str(each)] = export_rows(_plans(each), each)
    titles = {"client": gettext("client"), "client_name": gettext("client name"),
              "responsible": gettext("responsible"), "currency": gettext("currency"),
              "probability": gettext("probability"), "recurrence": gettext("recurrence")}
    body = to_xlsx(sheets, headers, web.data().currency_decimals(), titles)
    name = f"{gettext('sales-plans')}-{'-'.join(str(y) for y in (years[0], years[-1]) if y)}.xlsx"
    if len(years) == 1:
        name = f"{gettext('sales-plans')}-{years[0]}.xlsx"
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
