"""Plan sheets, pure: read an ``.xlsx`` or ``.csv`` of plans into entries (one per client and period), every
problem row by row; and write the same format back (the export that imports again).

Two layouts, headers in English, Spanish or Russian (``HEADERS``):

- **wide**: ``client`` (``company:12``, ``contact:7``, Bitrix24's ``CO_12`` / ``C_7``, or the exact name),
  optional ``responsible``, ``currency``, ``probability``, ``recurrence``, ``client name`` (ignored: the
  export's readable name), then one column per period headed ``2027-01`` (a month), ``2027-Q1``
  (a quarter; ``T1`` and ``К1`` too) or ``2027`` (a year); a cell is that client's plan amount for that period,
  an empty cell no plan;
- **long**: ``client``, ``start``, ``end``, ``amount`` and the same optional columns, a row per plan.

Nothing here touches a portal: clients and responsibles stay references (``company:12``, ``contact:7`` or a
name; an id, an e-mail or a name) that ``b24app.changeset`` resolves. Messages are English msgids with
``%(name)s`` parameters, translated where they are shown (``Problem.text``).

Numbers (``parse_amount``): a value typed as a number in the workbook is taken as it is; text may use the
locale's decimal mark, either thousands separator (``.``, ``,``, spaces, ``'``): when both marks appear the
last is the decimal one; one mark appearing once is the decimal mark when it is the locale's, or when the
other mark is followed by anything but exactly three digits (``1.234`` is 1234 in Spanish, 1.234 in English;
``1,5`` is 1.5 in both). Dates (long layout): date cells, ISO text ``2027-01-31``, ``31/01/2027`` or
``31.01.2027`` (day first; English: ``01/31/2027``, month first), or an Excel serial number.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

#: the most data rows a file may hold (the whole file is refused beyond it, before anything is resolved)
MAX_ROWS = 20_000
MAX_COLUMNS = 200
#: the longest text a cell may hold
MAX_TEXT = 500
RECURRENCES = ("NONE", "MONTHLY", "QUARTERLY", "YEARLY")


def N_(text: str) -> str:  # noqa: N802 - marks a msgid translated later (Problem.text)
    return text


#: column key -> the headers it is known by (compared case-folded, without a trailing ``(%)``)
HEADERS: dict[str, tuple[str, ...]] = {
    "client": ("client", "cliente", "клиент"),
    "client_name": ("client name", "nombre del cliente", "название клиента", "name", "nombre", "название"),
    "responsible": ("responsible", "responsable", "ответственный"),
    "currency": ("currency", "moneda", "divisa", "валюта"),
    "probability": ("probability", "probabilidad", "вероятность"),
    "recurrence": ("recurrence", "recurrencia", "повторение", "периодичность"),
    "start": ("start", "inicio", "начало"),
    "end": ("end", "fin", "конец", "окончание"),
    "amount": ("amount", "importe", "monto", "сумма"),
}
_HEADER_KEY = {alias: key for key, aliases in HEADERS.items() for alias in aliases}
_RECURRENCE_WORDS = {
    "none": "NONE", "ninguna": "NONE", "no": "NONE", "нет": "NONE",
    "monthly": "MONTHLY", "mensual": "MONTHLY", "ежемесячно": "MONTHLY",
    "quarterly": "QUARTERLY", "trimestral": "QUARTERLY", "ежеквартально": "QUARTERLY",
    "yearly": "YEARLY", "annual": "YEARLY", "anual": "YEARLY", "ежегодно": "YEARLY",
}
_PERIOD_HEADER = re.compile(r"^(\d{4})(?:[-/ ]?(?:(\d{1,2})|([QqTtКк])([1-4])))?$")
_CLIENT_CODE = re.compile(r"^(company|contact|empresa|contacto|компания|контакт)\s*:\s*(\d+)$", re.IGNORECASE)
_CRM_CODE = re.compile(r"^(CO|C)_(\d+)$", re.IGNORECASE)
_CLIENT_KINDS = {"company": "company", "empresa": "company", "компания": "company",
                 "contact": "contact", "contacto": "contact", "контакт": "contact"}
_EXCEL_EPOCH = date(1899, 12, 30)


# ---- problems ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, a row or a cell. ``error`` stops the write; a warning only informs."""

    message: str  # an English msgid with %(name)s parameters
    params: tuple[tuple[str, Any], ...] = ()
    sheet: str = ""
    row: int | None = None
    cell: str = ""
    error: bool = True

    def text(self, gettext: Callable[[str], str] = lambda s: s) -> str:
        """The problem in the user's language (``gettext`` of flask_babel in the frames, identity in the CLI)."""
        body = gettext(self.message) % dict(self.params) if self.params else gettext(self.message)
        where = self.where(gettext)
        return f"{where}: {body}" if where else body

    def where(self, gettext: Callable[[str], str] = lambda s: s) -> str:
        parts = []
        if self.sheet:
            parts.append(gettext("sheet %(name)s") % {"name": self.sheet})
        if self.cell:
            parts.append(gettext("cell %(cell)s") % {"cell": self.cell})
        elif self.row is not None:
            parts.append(gettext("row %(row)s") % {"row": self.row})
        return ", ".join(parts)


def problem(message: str, sheet: str = "", row: int | None = None, cell: str = "", error: bool = True,
            **params: Any) -> Problem:
    return Problem(message, tuple(sorted(params.items())), sheet, row, cell, error)


# ---- what the file asks for -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientRef:
    """``company:12`` / ``contact:7`` (kind and id) or an exact name (``name``)."""

    kind: str | None = None
    id: int | None = None
    name: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}" if self.kind else "name:" + self.name.casefold()

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" if self.kind else self.name


@dataclass(frozen=True)
class PersonRef:
    """A responsible by id, e-mail or name (exactly one is set)."""

    id: int | None = None
    email: str = ""
    name: str = ""

    def __str__(self) -> str:
        return str(self.id) if self.id is not None else (self.email or self.name)


@dataclass(frozen=True)
class Entry:
    """One plan the file asks for: a client, a period and an amount, with the row's attributes."""

    sheet: str
    row: int
    cell: str
    client: ClientRef
    begin: date
    end: date
    amount: Decimal
    responsible: PersonRef | None = None
    currency: str | None = None
    probability: Decimal | None = None
    recurrence: str | None = None


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0  # data rows read (blank rows not counted)
    layout: str = ""  # wide | long

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.error]

    @property
    def ok(self) -> bool:
        return not self.errors


# ---- periods ----------------------------------------------------------------------------------------------------
def month_end(year: int, month: int) -> date:
    return (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1))


def period_of_header(value: Any) -> tuple[date, date] | None:
    """``2027-01`` -> January 2027, ``2027-Q1`` -> the first quarter, ``2027`` -> the year; a date cell (Excel
    turns a typed ``2027-01`` into one) -> its month. None when the header is not a period."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return date(value.year, value.month, 1), month_end(value.year, value.month)
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        value = str(int(value))
    if not isinstance(value, str):
        return None
    match = _PERIOD_HEADER.match(value.strip())
    if not match:
        return None
    year = int(match.group(1))
    if not 1900 <= year <= 2999:
        return None
    if match.group(2):
        month = int(match.group(2))
        if not 1 <= month <= 12:
            return None
        return date(year, month, 1), month_end(year, month)
    if match.group(4):
        quarter = int(match.group(4))
        return date(year, 3 * quarter - 2, 1), month_end(year, 3 * quarter)
    return date(year, 1, 1), date(year, 12, 31)


def period_header(begin: date, end: date) -> str | None:
    """The header of a calendar month, quarter or year (``2027-01``, ``2027-Q1``, ``2027``), else None."""
    if begin.day != 1 or end != month_end(end.year, end.month) or begin.year != end.year:
        return None
    months = end.month - begin.month + 1
    if months == 1:
        return f"{begin.year}-{begin.month:02d}"
    if months == 3 and begin.month % 3 == 1:
        return f"{begin.year}-Q{(begin.month + 2) // 3}"
    if months == 12:
        return str(begin.year)
    return None


# ---- cells ------------------------------------------------------------------------------------------------------
class CellError(ValueError):
    """A cell that cannot be read as what its column holds; ``args[0]`` is a msgid, ``params`` its values."""

    def __init__(self, message: str, **params: Any):
        super().__init__(message)
        self.params = params


def parse_amount(value: Any, locale: str = "es") -> Decimal | None:
    """A money amount from a cell (see the module's rules); None for an empty cell. Negative amounts are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise CellError(N_("%(value)s is not a number"), value=value)
    if isinstance(value, int | float | Decimal):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise CellError(N_("%(value)s is not a number"), value=value) from None
    elif isinstance(value, str):
        amount = _parse_number_text(value, locale)
    else:
        raise CellError(N_("%(value)s is not a number"), value=value)
    if not amount.is_finite():
        raise CellError(N_("%(value)s is not a number"), value=value)
    if amount < 0:
        raise CellError(N_("negative amount %(value)s: a plan's amount is 0 or more"), value=value)
    return amount


def _parse_number_text(text: str, locale: str) -> Decimal:
    raw = text
    clean = re.sub(r"[\s\u00a0\u202f\u2009']", "", text)
    negative = False
    if clean.startswith("(") and clean.endswith(")"):
        negative, clean = True, clean[1:-1]
    if clean.startswith(("-", "\u2212")):
        negative, clean = True, clean[1:]
    elif clean.startswith("+"):
        clean = clean[1:]
    if not re.fullmatch(r"[0-9.,]+", clean or "x") or not re.search(r"\d", clean):
        raise CellError(N_("%(value)s is not a number"), value=raw.strip())
    own = "," if locale[:2] in ("es", "ru", "de", "fr", "it", "pt") else "."
    other = "." if own == "," else ","
    if "." in clean and "," in clean:
        decimal_mark = "." if clean.rfind(".") > clean.rfind(",") else ","
    elif clean.count(own) == 1:
        decimal_mark = own
    elif clean.count(other) == 1:
        decimal_mark = "" if re.fullmatch(r"\d{1,3}" + re.escape(other) + r"\d{3}", clean) else other
    else:
        decimal_mark = ""  # none, or the same mark repeated: thousands separators
    thousands = {".", ","} - {decimal_mark}
    whole, _, fraction = clean.partition(decimal_mark) if decimal_mark else (clean, "", "")
    if any(mark in fraction for mark in (".", ",")):
        raise CellError(N_("%(value)s is not a number"), value=raw.strip())
    for mark in thousands:
        groups = whole.split(mark)
        if len(groups) > 1 and (not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:])):
            raise CellError(N_("%(value)s is not a number"), value=raw.strip())
        whole = "".join(groups)
    number = Decimal(f"{whole or '0'}.{fraction or '0'}")
    return -number if negative else number


def parse_probability(value: Any, percent_format: bool = False, locale: str = "es") -> Decimal | None:
    """0–100; ``50 %`` / ``50%`` as text; a percent-formatted number cell (0.5) as 50."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip().rstrip("%").strip()
        try:
            number = _parse_number_text(text, locale)
        except CellError:
            raise CellError(N_("%(value)s is not a probability (0 to 100)"), value=value.strip()) from None
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = Decimal(str(value)) * (100 if percent_format else 1)
    else:
        raise CellError(N_("%(value)s is not a probability (0 to 100)"), value=value)
    if not Decimal(0) <= number <= Decimal(100):
        raise CellError(N_("%(value)s is not a probability (0 to 100)"), value=value)
    return number.normalize() if number == number.to_integral() else number


def parse_date(value: Any, locale: str = "es") -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and 1 <= value <= 2958465:  # an Excel serial day (1900 date system)
            return _EXCEL_EPOCH + timedelta(days=int(value))
        raise CellError(N_("%(value)s is not a date"), value=value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
                y, m, d = (int(p) for p in text.split("-"))
                return date(y, m, d)
            match = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text)
            if match:
                a, b, y = int(match.group(1)), int(match.group(2)), int(match.group(3))
                day, month = (b, a) if locale[:2] == "en" and "/" in text else (a, b)
                return date(y, month, day)
            if re.fullmatch(r"\d{5}", text):
                return _EXCEL_EPOCH + timedelta(days=int(text))
        except ValueError:
            pass
    raise CellError(N_("%(value)s is not a date (write it as 2027-01-31)"), value=value)


def parse_client(value: Any) -> ClientRef | None:
    if value is None:
        return None
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    text = " ".join(text.split())
    if not text:
        return None
    match = _CLIENT_CODE.match(text)
    if match:
        return ClientRef(_CLIENT_KINDS[match.group(1).lower()], int(match.group(2)))
    match = _CRM_CODE.match(text)
    if match:  # Bitrix24's own short codes, as its CRM fields and the app's client picker write them
        return ClientRef("company" if match.group(1).upper() == "CO" else "contact", int(match.group(2)))
    return ClientRef(name=text[:MAX_TEXT])


def parse_person(value: Any) -> PersonRef | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return PersonRef(id=int(value))
    text = " ".join(str(value).split())
    if not text:
        return None
    if text.isdigit():
        return PersonRef(id=int(text))
    if "@" in text:
        return PersonRef(email=text.casefold())
    return PersonRef(name=text[:MAX_TEXT])


def parse_currency(value: Any) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise CellError(N_("%(value)s is not a currency code (like EUR, USD)"), value=str(value).strip())
    return text


def parse_recurrence(value: Any) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if text.upper() in RECURRENCES:
        return text.upper()
    found = _RECURRENCE_WORDS.get(text.casefold())
    if found is None:
        raise CellError(N_("%(value)s is not a recurrence (NONE, MONTHLY, QUARTERLY or YEARLY)"), value=text)
    return found


# ---- reading files ----------------------------------------------------------------------------------------------
@dataclass
class Grid:
    """One sheet's cells: ``rows`` of (row number, values); ``percent`` holds the (row, column) of cells
    formatted as percentages, ``formulas`` the cells holding one."""

    name: str
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)
    percent: set[tuple[int, int]] = field(default_factory=set)
    formulas: list[str] = field(default_factory=list)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_file(data: bytes, filename: str = "", locale: str = "es") -> Parsed:
    """Every entry of an ``.xlsx`` or ``.csv`` file and every problem; nothing is resolved against a portal."""
    grids, problems = read_grids(data, filename)
    if any(p.error for p in problems):
        return Parsed(problems=problems)
    parsed = parse_grids(grids, locale)
    parsed.problems[:0] = problems
    return parsed


def read_grids(data: bytes, filename: str = "") -> tuple[list[Grid], list[Problem]]:
    if data[:4] == b"\xd0\xcf\x11\xe0":
        return [], [problem(N_("the file is a password-protected workbook or an old .xls file: save it in Excel "
                               "as .xlsx without a password"))]
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if not data.strip():
        return [], [problem(N_("the file is empty"))]
    return _read_csv(data, filename)


def _read_csv(data: bytes, filename: str) -> tuple[list[Grid], list[Problem]]:
    if b"\x00" in data[:4096]:
        return [], [problem(N_("the file is not a spreadsheet: upload an .xlsx or .csv file"))]
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything; kept for the type checker
        return [], [problem(N_("the file is not a spreadsheet: upload an .xlsx or .csv file"))]
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    if first.count(delimiter) == 0:
        return [], [problem(N_("the file is not a spreadsheet: upload an .xlsx or .csv file"))]
    grid = Grid("")  # one sheet: messages name rows only
    for number, values in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
        if number > MAX_ROWS + 1:
            return [], [problem(N_("the file has more than %(limit)s rows: split it into several files"),
                                limit=MAX_ROWS)]
        cells = [v.strip() or None for v in values[:MAX_COLUMNS + 1]]
        if any(v is not None for v in cells):
            grid.rows.append((number, cells))
    return [grid], []


def _read_xlsx(data: bytes) -> tuple[list[Grid], list[Problem]]:
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
    except zipfile.BadZipFile:
        return [], [problem(N_("the file is not a spreadsheet: upload an .xlsx or .csv file"))]
    if "xl/workbook.xml" not in names:
        return [], [problem(N_("the file is not a spreadsheet: upload an .xlsx or .csv file"))]
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        return [], [problem(N_("the workbook holds macros: save it in Excel as .xlsx (without macros)"))]
    merged_parts = {n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")
                    and b"<mergeCell " in archive.read(n)}
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        return [], [problem(N_("the file is not a spreadsheet: upload an .xlsx or .csv file"))]
    grids: list[Grid] = []
    problems: list[Problem] = []
    total = 0
    try:
        for ws in book.worksheets:
            if getattr(ws, "sheet_state", "visible") != "visible":
                problems.append(problem(N_("hidden sheet, not read: unhide it to import it"), sheet=ws.title,
                                        error=False))
                continue
            if str(getattr(ws, "_worksheet_path", "")).lstrip("/") in merged_parts:
                problems.append(problem(N_("the sheet has merged cells: unmerge them so each cell holds one value"),
                                        sheet=ws.title))
                continue
            grid = Grid(ws.title)
            for row in ws.iter_rows(max_col=MAX_COLUMNS + 1):
                values: list[Any] = []
                number = 0
                for index, cell in enumerate(row):
                    value = getattr(cell, "value", None)
                    number = getattr(cell, "row", None) or number
                    if getattr(cell, "data_type", "") == "f":  # a text cell that starts with "=" is text
                        grid.formulas.append(f"{column_letter(index)}{number}")
                        value = None
                    elif isinstance(value, (int, float)) and "%" in str(getattr(cell, "number_format", "")):
                        grid.percent.add((number, index))
                    values.append(value.strip() or None if isinstance(value, str) else value)
                if not any(v is not None for v in values):
                    continue
                total += 1
                if total > MAX_ROWS + len(book.worksheets):
                    return [], [problem(N_("the file has more than %(limit)s rows: split it into several files"),
                                        limit=MAX_ROWS)]
                grid.rows.append((number, values))
            if grid.formulas:
                shown = ", ".join(grid.formulas[:10]) + (" …" if len(grid.formulas) > 10 else "")
                problems.append(problem(N_("formulas in %(cells)s: copy the sheet and paste values only"),
                                        sheet=ws.title, cells=shown))
            grids.append(grid)
    finally:
        book.close()
    if len(grids) == 1:
        grids[0].name = ""  # one sheet: messages name rows only
    return grids, problems


# ---- reading grids ----------------------------------------------------------------------------------------------
def header_key(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.casefold().split())
    text = re.sub(r"\s*\(%\)$", "", text).rstrip(" %").strip()
    return _HEADER_KEY.get(text)


def parse_grids(grids: Iterable[Grid], locale: str = "es") -> Parsed:
    parsed = Parsed()
    for grid in grids:
        _parse_grid(grid, locale, parsed)
    if not parsed.entries and parsed.ok:
        parsed.problems.append(problem(N_("the file holds no plan: no amount under a period column")))
    return parsed


def _parse_grid(grid: Grid, locale: str, out: Parsed) -> None:
    rows = iter(grid.rows)
    header_row = next(rows, None)
    if header_row is None:
        return
    header_number, headers = header_row
    columns: dict[str, int] = {}
    periods: dict[int, tuple[date, date]] = {}
    for index, value in enumerate(headers):
        key = header_key(value)
        if key is not None:
            if key in columns:
                out.problems.append(problem(N_("the column %(name)s appears twice"), sheet=grid.name,
                                            cell=f"{column_letter(index)}{header_number}", name=value))
            columns[key] = index
            continue
        span = period_of_header(value)
        if span is not None:
            periods[index] = span
        elif value is not None:
            out.problems.append(problem(N_("unknown column %(name)s: not read"), sheet=grid.name, error=False,
                                        cell=f"{column_letter(index)}{header_number}", name=value))
    if "client" not in columns:
        out.problems.append(problem(N_("no client column: the first row must name the columns (client, …)"),
                                    sheet=grid.name, row=header_number))
        return
    long = {"start", "end", "amount"} <= set(columns)
    if not long and not periods:
        out.problems.append(problem(N_("no period columns (like 2027-01, 2027-Q1, 2027) and no start, end and "
                                       "amount columns"), sheet=grid.name, row=header_number))
        return
    out.layout = out.layout or ("long" if long else "wide")

    def cell(values: list[Any], key: str) -> Any:
        index = columns.get(key)
        return values[index] if index is not None and index < len(values) else None

    def ref(key: str, number: int) -> str:
        return f"{column_letter(columns[key])}{number}"

    for number, values in rows:
        out.rows += 1
        errors_before = len(out.errors)
        client = parse_client(cell(values, "client"))
        attrs: dict[str, Any] = {}
        for key, parse in (("responsible", parse_person), ("currency", parse_currency),
                           ("recurrence", parse_recurrence)):
            if key in columns:
                try:
                    attrs[key] = parse(cell(values, key))
                except CellError as exc:
                    out.problems.append(problem(exc.args[0], sheet=grid.name, cell=ref(key, number), **exc.params))
        if "probability" in columns:
            try:
                attrs["probability"] = parse_probability(
                    cell(values, "probability"), (number, columns["probability"]) in grid.percent, locale)
            except CellError as exc:
                out.problems.append(problem(exc.args[0], sheet=grid.name, cell=ref("probability", number),
                                            **exc.params))
        spans: list[tuple[str, date, date, Decimal]] = []
        if long:
            try:
                begin = parse_date(cell(values, "start"), locale)
                end = parse_date(cell(values, "end"), locale)
                amount = parse_amount(cell(values, "amount"), locale)
            except CellError as exc:
                out.problems.append(problem(exc.args[0], sheet=grid.name, row=number, **exc.params))
            else:
                if begin is None or end is None or amount is None:
                    out.problems.append(problem(N_("start, end and amount are all needed"), sheet=grid.name,
                                                row=number))
                elif end < begin:
                    out.problems.append(problem(N_("the end %(end)s is before the start %(start)s"),
                                                sheet=grid.name, row=number, start=begin.isoformat(),
                                                end=end.isoformat()))
                else:
                    spans.append((ref("amount", number), begin, end, amount))
        else:
            for index, (begin, end) in periods.items():
                value = values[index] if index < len(values) else None
                where = f"{column_letter(index)}{number}"
                try:
                    amount = parse_amount(value, locale)
                except CellError as exc:
                    out.problems.append(problem(exc.args[0], sheet=grid.name, cell=where, **exc.params))
                    continue
                if amount is not None:
                    spans.append((where, begin, end, amount))
        if client is None:
            if spans or len(out.errors) > errors_before:
                out.problems.append(problem(N_("no client"), sheet=grid.name, row=number))
            continue
        if len(out.errors) > errors_before:
            continue
        for where, begin, end, amount in spans:
            out.entries.append(Entry(grid.name, number, where, client, begin, end, amount, **attrs))


def iter_periods(year: int, unit: str) -> Iterator[tuple[date, date]]:
    """The months (``month``) or quarters (``quarter``) of a year, or the year itself (``year``)."""
    if unit == "year":
        yield date(year, 1, 1), date(year, 12, 31)
        return
    step = 3 if unit == "quarter" else 1
    for month in range(1, 13, step):
        yield date(year, month, 1), month_end(year, month + step - 1)


# ---- writing ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SheetRow:
    """One row of an export: a client's plans of one year with the same attributes."""

    client: str  # company:12 / contact:7
    client_name: str
    responsible: int | None
    currency: str
    probability: Decimal | None
    recurrence: str | None
    amounts: dict[str, Decimal]  # period header -> amount


def to_xlsx(sheets: dict[str, list[SheetRow]], headers: dict[str, list[str]], decimals: dict[str, int],
            titles: dict[str, str] | None = None) -> bytes:
    """A workbook in the import's wide layout, one sheet per year (``sheets``: year -> rows, ``headers``: year ->
    period headers in order): a frozen, bold header row, amounts as number cells with the currency's decimals,
    text always a string cell (never a formula). ``titles`` gives the attribute columns' headers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    names = {"client": "client", "client_name": "client name", "responsible": "responsible",
             "currency": "currency", "probability": "probability", "recurrence": "recurrence", **(titles or {})}
    wb = Workbook()
    wb.remove(wb.active)
    for year in sorted(sheets) or ["plans"]:
        ws = wb.create_sheet(title=str(year)[:31])
        periods = headers.get(year, [])
        ws.append([names[k] for k in ("client", "client_name", "responsible", "currency", "probability",
                                      "recurrence")] + periods)
        for c in ws[1]:
            c.data_type = "s"
            c.font = Font(bold=True, color="FFFFFF")
            c.fill = PatternFill("solid", fgColor="3BC8F5")
        for row in sheets.get(year, []):
            places = decimals.get(row.currency, 2)
            ws.append([row.client, row.client_name, row.responsible, row.currency,
                       float(row.probability) if row.probability is not None else None, row.recurrence,
                       *(float(row.amounts[p]) if p in row.amounts else None for p in periods)])
            line = ws.max_row
            for c in ws[line][:6]:
                if isinstance(c.value, str):
                    c.data_type = "s"  # openpyxl would make a formula of a name starting with "="
            for c in ws[line][6:]:
                c.number_format = "#,##0" + ("." + "0" * places if places else "")
        ws.freeze_panes = "C2"
        ws.column_dimensions["A"].width = 16
        ws.column_dimensions["B"].width = 32
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
