"""Exports of the filtered plans list: XLSX (openpyxl, real numbers with number formats) and CSV.

Both carry the page's columns in the page's order. In XLSX amounts are numeric cells formatted with the
currency's decimals, so the sheet can still be summed; in CSV numbers are written as the user's locale
writes them (``1.234,50`` in Spanish) and the separator is ``;`` where the decimal mark is a comma.

Text comes from the portal (a client's name is whatever someone typed), so it never becomes a formula: XLSX
text cells are string cells, and in CSV a text value that a spreadsheet would read as a formula (``=``,
``+``, ``-``, ``@``, tab, CR first) gets a leading ``'``. Number columns are left alone (``-5,00`` stays a
number).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal

from babel import numbers as babel_numbers
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from placements.i18n import number, percent, span
from placements.plans_query import PlanRow

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
_MONEY = ("amount", "probable", "won", "remainder")
_SHARES = ("probability", "execution")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_text_column(key: str) -> bool:
    return key not in _MONEY and key not in _SHARES


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
    return values


def to_csv(rows: list[PlanRow], columns: list[tuple[str, str]], locale: str) -> tuple[bytes, str]:
    delimiter = ";" if babel_numbers.get_decimal_symbol(locale) == "," else ","
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([label for _, label in columns])
    for row in rows:
        values = _values(row, columns, locale,
                         money=lambda r, key: number(getattr(r, key), _decimals(r.currency), locale),
                         share=lambda value: percent(value, locale))
        writer.writerow([csv_text(value) if is_text_column(key) and isinstance(value, str) else value
                         for (key, _), value in zip(columns, values, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8"), CSV_MIME  # BOM: Excel opens UTF-8 correctly


def to_xlsx(rows: list[PlanRow], columns: list[tuple[str, str]], locale: str) -> tuple[bytes, str]:
    wb = Workbook()
    ws = wb.active
    from flask_babel import gettext

    ws.title = sheet_title(gettext("Sales plans"))
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
    for index, (key, _label) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = 28 if key in ("client", "period") else 16
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue(), XLSX_MIME
