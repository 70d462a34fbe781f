"""The planning grid over real HTTP against the sandbox (Spanish frame): rows per client with won and execution,
the first 50 rows first and the rest on request; a pasted block in Spanish number formats previewed (nothing
written), saved in ⌈changes/50⌉ batch calls, and saved again (nothing to change); the export re-imported after
one edited cell changes exactly one plan; an upload with problems writes nothing."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.integration.test_ui_support import Frame, seed_plans, webhook

pytestmark = pytest.mark.integration
MONTHS = [f"2027-{m:02d}" for m in range(1, 13)]


def year_plans(installed):
    inst = installed.installation
    with webhook(installed) as hook:
        return hook.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id,
                                               "filter": {">=begindate": "2027-01-01"},
                                               "select": ["id", "companyId", "begindate", "opportunity",
                                                          "currencyId", "title"]}, items_key="items")


@pytest.fixture
def seeded(installed):
    portal = installed.live.sandbox.portal
    ids = portal.add_items(4, [{"title": f"Grid {n:02d}"} for n in range(60)])
    inst = installed.installation
    seed_plans(webhook(installed), inst, [
        {"title": f"Grid {n:02d} · 2027-01", "companyId": company, "opportunity": 1000 + n, "currencyId": "EUR",
         "begindate": "2027-01-01", "closedate": "2027-01-31", "assignedById": 1}
        for n, company in enumerate(ids)])
    return ids


def test_the_grid_shows_50_rows_first_and_the_rest_on_request(installed, seeded):
    frame = Frame(installed)
    page = frame.get("/grid", year=2027)
    assert page.status_code == 200, page.text[:500]
    assert "Planificación" in page.text
    assert page.text.count('<tr class="grid-row"') == 50 and "grid-more" in page.text
    assert 'value="1000"' in page.text and 'class="won"' in page.text  # the amount, with won · execution
    assert '<small class="grid-person">Ana García</small>' in page.text  # the row's responsible, by name
    more = re.search(r'data-more-url="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    rest = frame.get(more)
    assert rest.status_code == 200 and rest.text.count('<tr class="grid-row"') == 10 and "grid-more" not in rest.text
    quarters = frame.get("/grid", year=2027, unit="quarter")
    assert "2027-Q1" in quarters.text and "2027-02" not in quarters.text
    assert "no se muestran" in quarters.text  # the monthly plans do not fit quarter columns: said


def test_a_pasted_block_in_spanish_formats_preview_save_and_again(installed, seeded):
    frame = Frame(installed)
    frame.get("/grid", year=2027)
    rows = [{"client": f"company:{c}", "currency": "EUR",
             "cells": {"2027-02": "1.234,50", "2027-03": "2.000", "2027-04": "15,5"}} for c in seeded[:3]]
    rows.append({"client": f"company:{seeded[3]}", "cells": {"2027-01": "1.500,00"}})  # changes a plan
    payload = json.dumps({"periods": MONTHS, "rows": rows})
    before = year_plans(installed)
    preview = frame.post("/grid/preview", {"payload": payload})
    assert preview.status_code == 200, preview.text[:800]
    assert 'data-create="9"' in preview.text and 'data-change="1"' in preview.text
    assert "9 por crear, 1 por cambiar" in preview.text
    assert year_plans(installed) == before  # a preview writes nothing
    saved = frame.post("/grid/save", {"payload": payload})
    assert saved.status_code == 200 and 'data-complete="yes"' in saved.text, saved.text[:800]
    assert "10 plan(es) escritos en 1 llamada(s) batch" in saved.text
    after = {(p["companyId"], p["begindate"][:7]): Decimal(str(p["opportunity"])) for p in year_plans(installed)}
    assert after[(seeded[0], "2027-02")] == Decimal("1234.5") and after[(seeded[0], "2027-03")] == 2000
    assert after[(seeded[2], "2027-04")] == Decimal("15.5") and after[(seeded[3], "2027-01")] == 1500
    assert len(after) == 60 + 9
    titles = {p["title"] for p in year_plans(installed) if p["companyId"] == seeded[0]}
    assert "Grid 00 · feb 2027" in titles  # a new plan is named like the plan form names it, in Spanish
    audit = installed.live.rows("SELECT actor, detail FROM audit_log WHERE action = 'plans.imported'")
    assert len(audit) == 1 and audit[0]["actor"] == "user:1" and json.loads(audit[0]["detail"])["written"] == 10
    again = frame.post("/grid/preview", {"payload": payload})
    assert 'data-create="0"' in again.text and 'data-change="0"' in again.text and 'data-unchanged="10"' in again.text


def test_problems_in_the_grid_write_nothing(installed, seeded):
    frame = Frame(installed)
    frame.get("/grid", year=2027)
    payload = json.dumps({"periods": MONTHS, "rows": [
        {"client": f"company:{seeded[0]}", "cells": {"2027-02": "abc", "2027-03": "-5"}},
        {"client": f"company:{seeded[1]}", "currency": "GBP", "cells": {"2027-02": "5"}}]})
    saved = frame.post("/grid/save", {"payload": payload})
    assert saved.status_code == 422
    assert "celda G2: abc no es un número" in saved.text
    assert "fila 3: el portal no tiene la moneda GBP" in saved.text  # every problem at once
    assert "Nada se escribió" in saved.text
    assert len(year_plans(installed)) == 60


def test_export_edit_one_cell_import_changes_exactly_one_plan(installed, seeded):
    frame = Frame(installed)
    frame.get("/grid", year=2027)
    exported = frame.get("/grid/export.xlsx", year=2027)
    assert exported.status_code == 200 and exported.content[:2] == b"PK"
    book = load_workbook(io.BytesIO(exported.content))
    ws = book["2027"]
    assert ws.freeze_panes == "C2" and [c.value for c in ws[1]][:7] == [
        "cliente", "nombre del cliente", "responsable", "moneda", "probabilidad", "recurrencia", "2027-01"]
    assert ws.max_row == 61
    target = next(r for r in ws.iter_rows(min_row=2) if r[0].value == f"company:{seeded[5]}")
    assert target[6].value == 1005 and target[6].number_format == "#,##0.00"
    target[6].value = 7777
    edited = io.BytesIO()
    book.save(edited)
    before = {p["id"]: p for p in year_plans(installed)}

    files = {"file": ("plan.xlsx", edited.getvalue(), "application/octet-stream")}
    check = frame.http.post(frame.base + "/grid/import", data={"_s": frame.s, "csrf_token": frame.csrf},
                            files=files, timeout=60)
    assert check.status_code == 200, check.text[:800]
    assert 'data-create="0"' in check.text and 'data-change="1"' in check.text and 'data-unchanged="59"' in check.text
    assert {p["id"]: p for p in year_plans(installed)} == before  # the check wrote nothing
    file_data = re.search(r'name="file_data" value="([^"]+)"', check.text).group(1)
    write = frame.post("/grid/import", {"file_data": file_data, "file_name": "plan.xlsx", "write": "1"})
    assert write.status_code == 200 and 'data-written="1"' in write.text, write.text[:800]
    after = {p["id"]: p for p in year_plans(installed)}
    changed = [pid for pid in after if after[pid] != before[pid]]
    assert len(changed) == 1 and after[changed[0]]["opportunity"] == 7777
    assert after[changed[0]]["companyId"] == seeded[5]
    years = load_workbook(io.BytesIO(frame.get("/grid/export.xlsx", years="2027,2026").content))
    assert years.sheetnames == ["2026", "2027"] and years["2026"].max_row == 1  # one sheet per year


def test_an_upload_that_is_not_a_spreadsheet_says_so(installed, seeded):
    frame = Frame(installed)
    frame.get("/grid", year=2027)
    files = {"file": ("foto.png", b"\x89PNG\r\n\x1a\n\x00\x00binary", "image/png")}
    check = frame.http.post(frame.base + "/grid/import", data={"_s": frame.s, "csrf_token": frame.csrf},
                            files=files, timeout=60)
    assert check.status_code == 200
    assert "no es una hoja de cálculo" in check.text and "Nada se escribió" in check.text
    assert 'name="file_data"' not in check.text


def test_every_bad_file_of_the_issue_is_refused_over_http_and_writes_nothing(installed, seeded):
    from tests.unit.test_sheet import BAD_FILES

    frame = Frame(installed)
    frame.get("/grid", year=2027)
    spanish = {"100,000 rows": (b"client,2027-01\n" + b"company:1,1\n" * 100_000, "más de 20000 filas"),
               "negative amount": (f"cliente;2027-02\ncompany:{seeded[0]};-5\n".encode(), "importe negativo -5"),
               "unknown currency": (f"cliente;moneda;2027-02\ncompany:{seeded[0]};GBP;5\n".encode(),
                                    "el portal no tiene la moneda GBP"),
               "overlapping period": (f"cliente;2027-Q1\ncompany:{seeded[0]};5\n".encode(), "se superpone con el plan"),
               "duplicate row": (f"cliente;2027-02\ncompany:{seeded[0]};5\ncompany:{seeded[0]};6\n".encode(),
                                 "el mismo cliente y período que B2")}
    cases = {name: (data, None) for name, (data, _english) in BAD_FILES.items()} | spanish
    for name, (data, message) in cases.items():
        files = {"file": ("upload", data, "application/octet-stream")}
        check = frame.http.post(frame.base + "/grid/import", data={"_s": frame.s, "csrf_token": frame.csrf},
                                files=files, timeout=60)
        assert check.status_code == 200, name
        assert 'class="problem-error"' in check.text and "Nada se escribió" in check.text, name
        assert 'name="file_data"' not in check.text, name  # no button to write it
        assert message is None or message in check.text, (name, check.text[-1500:])
    assert len(year_plans(installed)) == 60


def test_a_save_failing_in_the_middle_says_what_was_written_and_saving_again_finishes(installed, seeded, monkeypatch):
    from b24app.rest.client import B24Client
    from b24app.rest.errors import TransportError

    frame = Frame(installed)
    frame.get("/grid", year=2027)
    payload = json.dumps({"periods": MONTHS, "rows": [{"client": f"company:{c}", "cells": {"2027-06": "10"}}
                                                      for c in seeded]})  # 60 new plans: two batches
    real_batch = B24Client.batch
    adds = {"n": 0}

    def flaky(self, commands, halt=False):
        if any(command[0] == "crm.item.add" for command in commands.values()):
            adds["n"] += 1
            if adds["n"] == 2:
                raise TransportError(0, "TIMEOUT", "the portal did not answer", "batch")
        return real_batch(self, commands, halt)

    monkeypatch.setattr(B24Client, "batch", flaky)
    first = frame.post("/grid/save", {"payload": payload})
    assert first.status_code == 200 and 'data-complete="no"' in first.text and 'data-written="50"' in first.text
    assert "Guardado en parte" in first.text and first.text.count("· 2027-06: batch TIMEOUT") == 10
    assert "Guarde de nuevo para terminar" in first.text
    monkeypatch.setattr(B24Client, "batch", real_batch)
    again = frame.post("/grid/preview", {"payload": payload})
    assert 'data-create="10"' in again.text and 'data-unchanged="50"' in again.text
    done = frame.post("/grid/save", {"payload": payload})
    assert 'data-complete="yes"' in done.text and 'data-written="10"' in done.text
    june = [p for p in year_plans(installed) if p["begindate"].startswith("2027-06")]
    assert len(june) == 60 and len({p["companyId"] for p in june}) == 60  # no duplicate
