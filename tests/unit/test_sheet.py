"""The plan sheet reader (b24app/sheet.py): numbers, dates, periods, references as tables of cases; whole files,
wide and long, in three languages; every bad input of issue 12 refused with a message and no entry."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from b24app import sheet
from b24app.sheet import ClientRef, PersonRef, read_file


@pytest.mark.parametrize(("text", "locale", "expected"), [
    ("1.234,50", "es", "1234.50"), ("1,234.50", "en", "1234.50"), ("1 234,50", "ru", "1234.50"),
    ("1\u00a0234,5", "es", "1234.5"), ("1.234", "es", "1234"), ("1.234", "en", "1.234"),
    ("1,234", "en", "1234"), ("1,234", "es", "1.234"), ("1,5", "en", "1.5"), ("1.5", "es", "1.5"),
    ("1.234.567", "es", "1234567"), ("1,234,567.25", "es", "1234567.25"), ("12000", "es", "12000"),
    ("1'234.50", "en", "1234.50"), (1234.5, "es", "1234.5"), (7, "es", "7"), ("0", "es", "0"),
    ("+50", "es", "50"), ("", "es", None), (None, "es", None),
])
def test_amounts_in_every_locale(text, locale, expected):
    got = sheet.parse_amount(text, locale)
    assert got == (Decimal(expected) if expected is not None else None)


@pytest.mark.parametrize("text", ["abc", "1.2.3,4,5", "12,34,56", "1..2", "€100", "1.23.456", "1,2,3.4.5", True])
def test_what_is_not_a_number(text):
    with pytest.raises(sheet.CellError, match="not a number"):
        sheet.parse_amount(text, "es")


@pytest.mark.parametrize("text", ["-100", "(100)", -5, "\u2212100"])
def test_negative_amounts_are_refused(text):
    with pytest.raises(sheet.CellError, match="negative"):
        sheet.parse_amount(text, "es")


@pytest.mark.parametrize(("value", "locale", "expected"), [
    ("2027-01-31", "es", date(2027, 1, 31)), ("31/01/2027", "es", date(2027, 1, 31)),
    ("31.01.2027", "ru", date(2027, 1, 31)), ("01/31/2027", "en", date(2027, 1, 31)),
    (46418, "es", date(2027, 1, 31)), ("46418", "es", date(2027, 1, 31)),
    (datetime(2027, 1, 31, 0, 0), "es", date(2027, 1, 31)), (None, "es", None),
])
def test_dates_as_cells_text_or_serials(value, locale, expected):
    assert sheet.parse_date(value, locale) == expected


@pytest.mark.parametrize("value", ["31/13/2027", "enero 2027", "2027-02-30", 1.5])
def test_what_is_not_a_date(value):
    with pytest.raises(sheet.CellError, match="not a date"):
        sheet.parse_date(value, "es")


@pytest.mark.parametrize(("header", "expected"), [
    ("2027-01", (date(2027, 1, 1), date(2027, 1, 31))), ("2027-02", (date(2027, 2, 1), date(2027, 2, 28))),
    ("2028-02", (date(2028, 2, 1), date(2028, 2, 29))), ("2027-Q1", (date(2027, 1, 1), date(2027, 3, 31))),
    ("2027-T4", (date(2027, 10, 1), date(2027, 12, 31))), ("2027-К2", (date(2027, 4, 1), date(2027, 6, 30))),
    ("2027", (date(2027, 1, 1), date(2027, 12, 31))), (2027, (date(2027, 1, 1), date(2027, 12, 31))),
    (datetime(2027, 3, 1), (date(2027, 3, 1), date(2027, 3, 31))),
    ("2027-13", None), ("2027-Q5", None), ("client", None), ("27-01", None),
])
def test_period_headers(header, expected):
    assert sheet.period_of_header(header) == expected
    if expected and isinstance(header, str) and "T" not in header and "К" not in header:
        assert sheet.period_header(*expected) == header


def test_references():
    assert sheet.parse_client("company:12") == ClientRef("company", 12)
    assert sheet.parse_client("Contacto: 7") == ClientRef("contact", 7)
    assert sheet.parse_client("CO_12") == ClientRef("company", 12)
    assert sheet.parse_client("C_7") == ClientRef("contact", 7)
    assert sheet.parse_client("  Acme   S.A. ") == ClientRef(name="Acme S.A.")
    assert sheet.parse_person(5) == PersonRef(id=5) and sheet.parse_person("5") == PersonRef(id=5)
    assert sheet.parse_person("Ana@Example.com") == PersonRef(email="ana@example.com")
    assert sheet.parse_person("Ana López") == PersonRef(name="Ana López")
    assert sheet.parse_recurrence("mensual") == "MONTHLY" and sheet.parse_recurrence("YEARLY") == "YEARLY"
    assert sheet.parse_probability("50 %") == 50 and sheet.parse_probability(0.5, percent_format=True) == 50
    for bad, parse in (("weekly", sheet.parse_recurrence), ("150", sheet.parse_probability),
                       ("euro", sheet.parse_currency)):
        with pytest.raises(sheet.CellError):
            parse(bad)


def xlsx(rows, title="2027", extra=None):
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    if extra:
        extra(wb, ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_wide_sheet_in_spanish():
    data = xlsx([["Cliente", "Responsable", "Moneda", "Probabilidad", "Recurrencia", "2027-01", "2027-02", "2027-Q2"],
                 ["company:1", "ana@example.com", "EUR", 80, "mensual", 1000, "1.500,50", None],
                 ["Acme", 3, None, None, None, None, None, 9000]])
    parsed = read_file(data, "plan.xlsx", "es")
    assert parsed.ok, [p.text() for p in parsed.problems]
    assert parsed.layout == "wide" and parsed.rows == 2
    assert [(e.client, e.begin, e.amount, e.cell) for e in parsed.entries] == [
        (ClientRef("company", 1), date(2027, 1, 1), Decimal(1000), "F2"),
        (ClientRef("company", 1), date(2027, 2, 1), Decimal("1500.50"), "G2"),
        (ClientRef(name="Acme"), date(2027, 4, 1), Decimal(9000), "H3")]
    first = parsed.entries[0]
    assert (first.responsible, first.currency, first.probability, first.recurrence) == (
        PersonRef(email="ana@example.com"), "EUR", 80, "MONTHLY")


def test_a_long_csv_in_russian_with_semicolons():
    data = ("клиент;начало;конец;сумма;валюта\r\ncontact:7;01.01.2027;31.03.2027;1 234,50;RUB\r\n"
            ";;;;\r\nКомпания;2027-04-01;2027-06-30;100;\r\n").encode("utf-8-sig")
    parsed = read_file(data, "plan.csv", "ru")
    assert parsed.ok, [p.text() for p in parsed.problems]
    assert parsed.layout == "long"
    assert [(e.client, e.begin, e.end, e.amount, e.currency) for e in parsed.entries] == [
        (ClientRef("contact", 7), date(2027, 1, 1), date(2027, 3, 31), Decimal("1234.50"), "RUB"),
        (ClientRef(name="Компания"), date(2027, 4, 1), date(2027, 6, 30), Decimal(100), None)]


def test_row_problems_name_the_cell_and_nothing_of_that_row_is_kept():
    data = b"client,2027-01,2027-02\ncompany:1,100,abc\ncompany:2,-5,10\ncompany:3,7,8\n"
    parsed = read_file(data, "x.csv", "en")
    assert not parsed.ok
    assert [p.text() for p in parsed.errors] == ["cell C2: abc is not a number",
                                                  "cell B3: negative amount -5: a plan's amount is 0 or more"]
    assert [e.client.id for e in parsed.entries] == [3, 3]


def test_problems_in_spanish():
    data = b"cliente;2027-01\ncompany:1;xyz\n"
    parsed = read_file(data, "x.csv", "es")
    catalog = {"row %(row)s": "fila %(row)s", "cell %(cell)s": "celda %(cell)s",
               "%(value)s is not a number": "%(value)s no es un número"}
    assert parsed.errors[0].text(lambda s: catalog.get(s, s)) == "celda B2: xyz no es un número"


def _zip(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return out.getvalue()


def _macro_workbook():
    base = zipfile.ZipFile(io.BytesIO(xlsx([["client", "2027-01"], ["company:1", 5]])))
    files = {n: base.read(n) for n in base.namelist()}
    files["xl/vbaProject.bin"] = b"\x00macro"
    return _zip(files)


def _hidden_only(wb, ws):
    hidden = wb.create_sheet("secret")
    hidden.append(["client", "2027-01"])
    hidden.append(["company:9", 1])
    hidden.sheet_state = "hidden"


BAD_FILES = {
    "not a spreadsheet (PDF)": (b"%PDF-1.4\x00\x01binary", "not a spreadsheet"),
    "not a spreadsheet (docx)": (_zip({"word/document.xml": "<w/>", "[Content_Types].xml": "<x/>"}),
                                 "not a spreadsheet"),
    "password-protected": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "password-protected"),
    "macros": (_macro_workbook(), "macros"),
    "formulas": (xlsx([["client", "2027-01", "2027-02"], ["company:1", 5, "=B2*2"]]), "formulas in C2"),
    "merged cells": (xlsx([["client", "2027-01"], ["company:1", 5]],
                          extra=lambda wb, ws: ws.merge_cells("A2:B2")), "merged cells"),
    "no client column": (b"name;2027-01\nAcme;5\n", "no client column"),
    "no periods": (b"client;total\nAcme;5\n", "no period columns"),
    "empty": (b"  \n", "empty"),
    "long rows missing end": (b"client,start,end,amount\ncompany:1,2027-01-01,,5\n", "start, end and amount"),
    "end before start": (b"client,start,end,amount\ncompany:1,2027-02-01,2027-01-01,5\n", "before the start"),
    "date as bad text": (b"client,start,end,amount\ncompany:1,enero,2027-01-31,5\n", "not a date"),
    "unknown currency code shape": (b"client,currency,2027-01\ncompany:1,euros,5\n", "not a currency code"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_say_why_and_yield_nothing_to_write(case):
    data, message = BAD_FILES[case]
    parsed = read_file(data, "upload", "en")
    assert not parsed.ok
    assert any(message in p.text() for p in parsed.errors), [p.text() for p in parsed.problems]


def test_a_hidden_sheet_is_not_read_and_said_so():
    parsed = read_file(xlsx([["client", "2027-01"], ["company:1", 5]], extra=_hidden_only), "x.xlsx")
    assert parsed.ok and [e.client.id for e in parsed.entries] == [1]
    assert [p.text() for p in parsed.problems] == ["sheet secret: hidden sheet, not read: unhide it to import it"]


def test_dates_as_excel_serials_in_the_long_layout():
    parsed = read_file(xlsx([["client", "start", "end", "amount"], ["company:1", 46388, 46418, 10]]), "x.xlsx")
    assert parsed.ok and (parsed.entries[0].begin, parsed.entries[0].end) == (date(2027, 1, 1), date(2027, 1, 31))


def test_too_many_rows_are_refused_before_anything_is_read(monkeypatch):
    monkeypatch.setattr(sheet, "MAX_ROWS", 100)
    body = "client,2027-01\n" + "".join(f"company:{i},1\n" for i in range(1, 102))
    parsed = read_file(body.encode(), "x.csv")
    assert not parsed.ok and parsed.entries == []
    assert "more than 100 rows" in parsed.errors[0].text()
    parsed = read_file(xlsx([["client", "2027-01"], *[[f"company:{i}", 1] for i in range(1, 102)]]), "x.xlsx")
    assert not parsed.ok and "more than 100 rows" in parsed.errors[0].text()


def test_100000_rows_are_refused():
    body = "client,2027-01\n" + "company:1,1\n" * 100_000
    parsed = read_file(body.encode(), "x.csv")
    assert not parsed.ok and f"more than {sheet.MAX_ROWS} rows" in parsed.errors[0].text()


def test_the_export_reads_back_as_the_same_entries():
    rows = [sheet.SheetRow("company:1", "=Acme", 3, "EUR", Decimal(80), "MONTHLY",
                           {"2027-01": Decimal("1234.5"), "2027-03": Decimal(7)}),
            sheet.SheetRow("contact:2", "Ana", None, "JPY", None, None, {"2027-02": Decimal(500)})]
    data = sheet.to_xlsx({"2027": rows}, {"2027": [f"2027-{m:02d}" for m in range(1, 13)]}, {"EUR": 2, "JPY": 0})
    parsed = read_file(data, "x.xlsx", "es")
    assert parsed.ok, [p.text() for p in parsed.problems]
    assert [(str(e.client), e.begin.month, e.amount, e.currency, e.probability, e.recurrence)
            for e in parsed.entries] == [
        ("company:1", 1, Decimal("1234.5"), "EUR", 80, "MONTHLY"), ("company:1", 3, Decimal(7), "EUR", 80, "MONTHLY"),
        ("contact:2", 2, Decimal(500), "JPY", None, None)]
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(data))["2027"]
    assert ws.freeze_panes == "C2" and ws["B2"].data_type == "s" and ws["B2"].value == "=Acme"
    assert ws["G2"].number_format == "#,##0.00" and ws["H3"].number_format == "#,##0"
