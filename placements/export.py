"""Exports of the filtered plans list: XLSX (openpyxl, real numbers with number formats) and CSV.

Both carry the page's columns in the page's order, then the plan's id, title, start and end. In XLSX amounts
are numeric cells formatted with the currency's decimals and the dates are date cells, so the sheet can still be
summed and sorted; in CSV numbers are written as the user's locale writes them (``1.234,50`` in Spanish; the
percentages as plain numbers under a ``(%)`` header), dates as ISO ``2026-12-31``, and the separator is ``;``
where the decimal mark is a comma.

Text comes from the portal (a client's name is whatever someone typed), so it never becomes a formula: XLSX
text cells are string cells, and in CSV a text value that a spreadsheet would read as a formula (``=``,
``+``, ``-``, ``@``, tab, CR first) gets a leading ``'``. Number columns are left alone (``-5,00`` stays a
number).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from babel import numbers as babel_numbers
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from placements.i18n import number, span
from placements.plans_query import PlanRow

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
_MONEY = ("amount", "probable", "won", "remainder")
_SHARES = ("probability", "execution")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DATES = ("start", "end")


def export_columns(columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The screen's columns and, after them, what a spreadsheet needs to find each plan again."""
    from flask_babel import gettext

    return [*columns, ("id", "ID"), ("title", gettext("Plan")), ("start", gettext("Start")), ("end", gettext("End"))]


def is_text_column(key: str) -> bool:
    return key not in _MONEY and key not in _SHARES and key not in _DATES and key != "id"


def csv_text(value: str) -> str:
    """A text cell a spreadsheet will not evaluate: a leading ``'`` before a formula's first character."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def status_text(status: str) -> str:
    from flask_babel import gettext

    return {"S": gettext("Fulfilled"), "F": gettext("Not fulfilled")}.get(status, gettext("Active"))


def sheet_title(text: str) -> str:
    """An Excel sheet name: at most 31 characters, none of ``[]:*?/\\``, not empty."""
    clean = "".join(" " if ch in "[]:*?/\\" else ch for ch in text).strip(" '")[:31].strip()
    return clean or "Sheet1"


def _decimals(currency: str) -> int:
    try:
        return babel_numbers.get_currency_precision(currency)
    except Exception:  # noqa: BLE001
        return 2


def _period(row: PlanRow, locale: str) -> str:
    return span(row.begindate, row.closedate, locale)


def risk_text(at_risk: bool) -> str:
    from flask_babel import gettext

    return gettext("At risk") if at_risk else ""


def _values(row: PlanRow, columns: list[tuple[str, str]], locale: str,
            money: Callable[[PlanRow, str], object], share: Callable[[Decimal], object]) -> list[object]:
    """One row's cells in the columns' order; ``money`` and ``share`` give the format's amounts and percents."""
    values: list[object] = []
    for key, _ in columns:
        if key == "client":
            values.append(row.client_name or row.title)
        elif key == "period":
            values.append(_period(row, locale))
        elif key == "responsible":
            values.append(row.responsible_name)
        elif key in _MONEY:
            values.append(money(row, key))
        elif key == "currency":
            values.append(row.currency)
        elif key in _SHARES:
            values.append(share(getattr(row, key)))
        elif key == "status":
            values.append(status_text(row.status))
        elif key == "at_risk":
            values.append(risk_text(row.at_risk))
        elif key == "id":
            values.append(row.id)
        elif key == "title":
            values.append(row.title)
        elif key in _DATES:
            values.append(row.begindate if key == "start" else row.closedate)
    return values


def to_csv(rows: list[PlanRow], columns: list[tuple[str, str]], locale: str) -> tuple[bytes, str]:
    delimiter = ";" if babel_numbers.get_decimal_symbol(locale) == "," else ","
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    columns = export_columns(columns)
    writer.writerow([f"{label} (%)" if key in _SHARES else label for key, label in columns])
    for row in rows:
        values = _values(row, columns, locale,
                         money=lambda r, key: number(getattr(r, key), _decimals(r.currency), locale),
                         share=lambda value: number(value, 1, locale))
        writer.writerow([csv_text(value) if is_text_column(key) and isinstance(value, str)
                         else (value.isoformat() if isinstance(value, date) else ("" if value is None else value))
                         for (key, _), value in zip(columns, values, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8"), CSV_MIME  # BOM: Excel opens UTF-8 correctly


def to_xlsx(rows: list[PlanRow], columns: list[tuple[str, str]], locale: str) -> tuple[bytes, str]:
    wb = Workbook()
    ws = wb.active
    from flask_babel import gettext

    ws.title = sheet_title(gettext("Sales plans"))
    columns = export_columns(columns)
    ws.append([label for _, label in columns])
    for cell in ws[1]:
        cell.data_type = "s"
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="3BC8F5")
    for row in rows:
        values = _values(row, columns, locale, money=lambda r, key: float(getattr(r, key)),
                         share=lambda value: float(value / Decimal(100)))
        ws.append(values)
        line = ws.max_row
        for index, (key, _) in enumerate(columns, start=1):
            cell = ws.cell(row=line, column=index)
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl makes a formula of a string that starts with "="
            if key in _MONEY:
                decimals = _decimals(row.currency)
                cell.number_format = "#,##0" + ("." + "0" * decimals if decimals else "")
            elif key in _SHARES:
                cell.number_format = "0.0%"
            elif key in _DATES and cell.value is not None:
                cell.number_format = "yyyy-mm-dd"
    for index, (key, _label) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = 28 if key in ("client", "period") else 16
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue(), XLSX_MIME
