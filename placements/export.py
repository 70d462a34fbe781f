"""Exports of the filtered plans list: XLSX (openpyxl, real numbers with number formats) and CSV.

Both carry the page's columns in the page's order. In XLSX amounts are numeric cells formatted with the
currency's decimals, so the sheet can still be summed; in CSV numbers are written as the user's locale
writes them (``1.234,50`` in Spanish) and the separator is ``;`` where the decimal mark is a comma.
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
        elif key in ("probability", "execution"):
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
        writer.writerow(_values(
            row, columns, locale,
            money=lambda r, key: number(getattr(r, key), _decimals(r.currency), locale),
            share=lambda value: percent(value, locale)))
    return ("\ufeff" + out.getvalue()).encode("utf-8"), CSV_MIME  # BOM: Excel opens UTF-8 correctly


def to_xlsx(rows: list[PlanRow], columns: list[tuple[str, str]], locale: str) -> tuple[bytes, str]:
    wb = Workbook()
    ws = wb.active
    from flask_babel import gettext

    ws.title = sheet_title(gettext("Sales plans"))
    ws.append([label for _, label in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="3BC8F5")
    for row in rows:
        values = _values(row, columns, locale, money=lambda r, key: float(getattr(r, key)),
                         share=lambda value: float(value / Decimal(100)))
        ws.append(values)
        line = ws.max_row
        for index, (key, _) in enumerate(columns, start=1):
            cell = ws.cell(row=line, column=index)
            if key in _MONEY:
                decimals = _decimals(row.currency)
                cell.number_format = "#,##0" + ("." + "0" * decimals if decimals else "")
            elif key in ("probability", "execution"):
                cell.number_format = "0.0%"
    for index, (key, _label) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = 28 if key in ("client", "period") else 16
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue(), XLSX_MIME
