"""The Spanish plans page over real HTTP against the sandbox: filters, sorting, paging, totals, exports,
creating and closing plans, the deal tab and the company tab."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.integration.test_ui_support import Frame, seed_plans, webhook

pytestmark = pytest.mark.integration
NBSP = "\xa0"


def rows_of(page: str) -> list[str]:
    """The plan rows of the main table, as text."""
    table = page[page.find('id="plans"'):page.find("</table>", page.find('id="plans"'))]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).replace(NBSP, " ").strip()
            for row in re.findall(r'<tr data-plan="\d+".*?</tr>', table, re.S)]


@pytest.fixture
def plans(installed):
    """63 plans: 3 companies, USD and EUR, responsibles 1-3, some fulfilled/not fulfilled, amounts 100..6300."""
    client = webhook(installed)
    inst = installed.installation
    companies = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"],
                                              "order": {"id": "ASC"}})["items"][:3]
    specs = []
    for n in range(63):
        company = companies[n % 3]
        specs.append({"title": f"Plan {n:02d}", "companyId": company["id"], "opportunity": 100 * (n + 1),
                      "currencyId": "EUR" if n % 4 == 0 else "USD", "assignedById": 1 + n % 3,
                      "begindate": "2026-11-01", "closedate": "2026-11-30",
                      "stageId": inst.stage_map["S" if n % 10 == 0 else "F" if n % 10 == 1 else "P"],
                      inst.field_map["PROBABILITY"]: 50})
    seed_plans(client, inst, specs)
    return {"companies": companies, "specs": specs, "inst": inst}


def test_pages_of_50_sorting_and_paging(installed, plans):
    frame = Frame(installed)
    first = frame.get("/", sort="amount", dir="asc")
    assert first.status_code == 200
    rows = rows_of(first.text)
    assert len(rows) == 50
    assert "63 planes" in first.text and "página 1 de 2" in first.text
    assert "100,00" in rows[0] and "200,00" in rows[1]  # smallest amounts first
    second = frame.get("/", sort="amount", dir="asc", page=2)
    # across currencies by the value in the base currency (USD): 6,100 EUR (6,588 USD) above 6,300 USD
    assert len(rows_of(second.text)) == 13 and "6100,00 €" in rows_of(second.text)[-1].replace(".", "")
    descending = rows_of(frame.get("/", sort="amount", dir="desc").text)
    assert "6100,00 €" in descending[0].replace(".", "")
    # the sort link of the sorted column toggles the direction (desc is the default, so no dir=) and keeps the
    # session in the URL; other columns start ascending
    assert re.search(r'href="/\?sort=amount&amp;n=63&amp;_s=', first.text)  # the app's sort: it says how many
    assert re.search(r'href="/\?sort=won&amp;dir=asc&amp;n=63&amp;_s=', first.text)


def cells(page: str, column: str) -> list[str]:
    """The text of one column (``col-client``...) of the main table's plan rows."""
    found = re.findall(rf'<td class="{column}[^"]*"[^>]*>(.*?)</td>', page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).replace(NBSP, " ").strip() for cell in found]


def test_sorting_by_client_or_responsible_name_pages_like_the_export(installed, plans):
    client = webhook(installed)
    carmen = client.call("crm.item.list", {"entityTypeId": 3, "filter": {"lastName": "Ruiz"},
                                           "select": ["id"]})["items"][0]
    # a contact's plan, of Jorge Ramírez (user 4: his id comes after Luis' and María's, his name between them)
    seed_plans(client, plans["inst"], [{"title": "Zeta", "contactId": carmen["id"], "opportunity": 50,
                                        "currencyId": "USD", "assignedById": 4, "begindate": "2026-11-01",
                                        "closedate": "2026-11-30"}])
    frame = Frame(installed)
    for sort, column, export_column in (("client", "col-client", 0), ("responsible", "col-responsible", 2)):
        for direction in ("asc", "desc"):
            first, second = (frame.get("/", sort=sort, dir=direction, page=n).text for n in (1, 2))
            names = cells(first, column) + cells(second, column)
            assert len(cells(first, column)) == 50 and len(names) == 64 and "64 planes" in first
            ids = re.findall(r'<tr data-plan="(\d+)"', first) + re.findall(r'<tr data-plan="(\d+)"', second)
            assert len(set(ids)) == 64  # every plan once, no overlap between the pages
            assert names == sorted(names, key=str.lower, reverse=direction == "desc"), (sort, direction, names)
            export = frame.get("/plans/export.csv", sort=sort, dir=direction)
            rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))[1:]
            assert [r[export_column] for r in rows] == names  # the page and the export agree
    by_client = cells(frame.get("/", sort="client", dir="asc").text, "col-client")
    assert by_client[0] == "Carmen Ruiz"  # a contact's plan shows (and sorts by) the contact's name
    assert {"Jorge Ramírez", "Luis Fernández"} <= set(names)


def test_filters_live_in_the_url(installed, plans):
    frame = Frame(installed)
    fulfilled = frame.get("/", status="S")
    assert "7 planes" in fulfilled.text and all("Cumplido" in r for r in rows_of(fulfilled.text))
    failed = frame.get("/", status="F")
    assert "7 planes" in failed.text and all("No cumplido" in r for r in rows_of(failed.text))
    euros = frame.get("/", currency="EUR")
    assert "16 planes" in euros.text and all("EUR" in r for r in rows_of(euros.text))
    mine = frame.get("/", responsible=2)
    assert "21 planes" in mine.text
    name = plans["companies"][1]["title"]
    found = frame.get("/", q=name[:8].lower())
    assert "21 planes" in found.text and all(name in r for r in rows_of(found.text))
    assert "0 planes" in frame.get("/", q="zzzz-nadie").text
    this_year = frame.get("/", period="custom", **{"from": "2026-11-10", "to": "2026-11-12"})
    assert "63 planes" in this_year.text
    assert "0 planes" in frame.get("/", period="custom", **{"from": "2027-01-01", "to": "2027-01-31"}).text
    # the filter form shows what the URL says
    assert 'value="EUR" selected' in euros.text


def test_totals_per_currency_and_by_responsible(installed, plans):
    frame = Frame(installed)
    first = frame.get("/", currency="").text
    # the page does not wait for the totals; it tells them how many plans to read (one scan, no probe)
    assert re.search(r'data-totals-src="/plans/totals\?n=\d+"', first)
    # (app.js fetches them with the session in a header: the URL carries no _s)
    page = frame.get("/plans/totals").text.replace(NBSP, " ")
    assert 'id="totals"' in page and "<html" not in page
    again = frame.get("/").text  # now cached for this user and filter: rendered inline
    assert 'data-totals-src' not in again and '<tr data-currency="EUR">' in again
    totals = page[page.find('id="totals"'):]
    eur = sum(Decimal(s["opportunity"]) for s in plans["specs"] if s["currencyId"] == "EUR")
    usd = sum(Decimal(s["opportunity"]) for s in plans["specs"] if s["currencyId"] == "USD")
    euro_row = re.search(r'<tr data-currency="EUR">(.*?)</tr>', totals, re.S).group(1)
    usd_row = re.search(r'<tr data-currency="USD">(.*?)</tr>', totals, re.S).group(1)
    assert f"{eur:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") in euro_row
    assert f"{usd:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") in usd_row
    probable = f"{eur / 2:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    assert probable in euro_row  # probability 50 %
    rollup = page[page.find('id="rollup"'):page.find("</table>", page.find('id="rollup"'))]
    assert rollup.count('<tr data-user="') == 6  # 3 responsibles x 2 currencies
    assert "Luis Fernández" in rollup and "María López" in rollup
    converted = page[page.find('id="rollup-forecast"'):]
    assert converted.count('<tr data-user="') == 3  # one per responsible: every currency converted
    assert 'id="totals-converted"' in page and "(convertido al tipo de cambio de hoy)" in page


def test_exports_follow_the_filters(installed, plans):
    frame = Frame(installed)
    response = frame.get("/plans/export.csv", currency="EUR", sort="amount", dir="asc")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Cliente", "Periodo", "Responsable", "Importe", "Moneda", "Probabilidad (%)",
                       "Importe probable", "Ganado", "Pendiente", "Ejecución (%)", "Estado", "En riesgo", "ID", "Plan",
                       "Inicio", "Fin"]
    assert len(rows) == 17 and {r[4] for r in rows[1:]} == {"EUR"}
    assert rows[1][3] == "100,00" and rows[2][3] == "500,00" and rows[1][5].startswith("50")
    assert "%" not in rows[1][5] and float(rows[1][5].replace(",", ".")) == 50  # a number a spreadsheet reads
    assert rows[1][12].isdigit() and date.fromisoformat(rows[1][14]) <= date.fromisoformat(rows[1][15])
    book = load_workbook(io.BytesIO(frame.get("/plans/export.xlsx", status="S").content))
    sheet = book.active
    assert sheet.max_row == 8
    assert all(isinstance(sheet.cell(row=r, column=4).value, (int, float)) for r in range(2, 9))
    assert {sheet.cell(row=r, column=11).value for r in range(2, 9)} == {"Cumplido"}
    assert [sheet.cell(row=1, column=c).value for c in range(13, 17)] == ["ID", "Plan", "Inicio", "Fin"]
    assert all(isinstance(sheet.cell(row=r, column=13).value, int) for r in range(2, 9))
    assert all(isinstance(sheet.cell(row=r, column=15).value, datetime) for r in range(2, 9))  # date cells


def test_create_a_plan_with_bad_then_good_values(installed, plans):
    frame = Frame(installed)
    client = webhook(installed)
    inst = plans["inst"]
    company = plans["companies"][0]
    before = client.call_raw("crm.item.list", {"entityTypeId": inst.entity_type_id}).total
    form = {"client": f"CO_{company['id']}", "period": "quarter", "begindate": "2026-11-15", "amount": "-3",
            "currency": "ZZZ", "probability": "150", "assigned_by_id": "2", "back": "plans"}
    bad = frame.post("/plans/save", form)
    assert bad.status_code == 400
    for text in ("El importe debe ser mayor que cero.", "La probabilidad debe estar entre 0 y 100.",
                 "La moneda no es una de las monedas del portal."):
        assert text in bad.text
    assert client.call_raw("crm.item.list", {"entityTypeId": inst.entity_type_id}).total == before
    good = frame.post("/plans/save", {**form, "amount": "25.000,50", "currency": "USD", "probability": "40",
                                      "confirm_overlap": "1"})  # the demo's plans overlap it: asked and confirmed
    assert good.status_code == 303
    created = client.call("crm.item.list", {"entityTypeId": inst.entity_type_id, "order": {"id": "DESC"},
                                            "select": ["*"]})["items"][0]
    assert created["companyId"] == company["id"] and created["opportunity"] == 25000.5
    assert created["begindate"][:10] == "2026-10-01" and created["closedate"][:10] == "2026-12-31"
    assert created[inst.field_map["PROBABILITY"]] == 40 and created["assignedById"] == 2
    closed = frame.post(f"/plans/{created['id']}/status", {"status": "F", "back": "plans"})
    assert closed.status_code == 303
    again = client.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": created["id"]})["item"]
    assert again["stageId"] == inst.stage_map["F"]


def test_client_search_json(installed, plans):
    frame = Frame(installed)
    name = plans["companies"][2]["title"]
    found = frame.get("/api/clients", q=name[:6]).json()
    assert {"id": f"CO_{plans['companies'][2]['id']}", "kind": "company", "name": name} in found
    contacts = frame.get("/api/clients", q="Ruiz").json()
    assert any(c["kind"] == "contact" and "Carmen Ruiz" == c["name"] for c in contacts)


def test_company_tab_lists_its_plans(installed, plans):
    company = plans["companies"][0]
    frame = Frame(installed, "/placements/client", placement="CRM_COMPANY_DETAIL_TAB",
                  options={"ID": str(company["id"])})
    page = frame.page.text
    assert frame.page.status_code == 200
    assert company["title"] in page and "<svg" in page
    assert page.count('<tr data-plan="') == 21
    assert "Plan 00" in page and "Plan 01" not in page


def test_deal_tab_link_and_unlink(installed, plans):
    client = webhook(installed)
    inst = plans["inst"]
    company = plans["companies"][0]
    deal = client.call("crm.item.list", {"entityTypeId": 2, "filter": {"companyId": company["id"]},
                                         "select": ["id", "title"]})["items"][0]
    frame = Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": str(deal["id"])})
    assert "Esta negociación no está en ningún plan de ventas" in frame.page.text
    assert "Carmen Ruiz" in frame.page.text and "tel:" in frame.page.text and "mailto:" in frame.page.text
    plan_id = int(re.search(r'<option value="(\d+)">Plan \d+', frame.page.text).group(1))
    linked = frame.post(f"/placements/deal/{deal['id']}/link", {"plan_id": plan_id})
    assert linked.status_code == 303
    after = client.call("crm.item.get", {"entityTypeId": 2, "id": deal["id"]})["item"]
    assert int(after[f"parentId{inst.entity_type_id}"]) == plan_id
    page = frame.get(linked.headers["Location"]).text
    assert "Quitar esta negociación del plan" in page and "Importe probable" in page
    assert "Ana García" in page or "Luis Fernández" in page or "María López" in page
    # a plan of another client is refused, and nothing changes
    other = [c for c in plans["companies"] if c["id"] != company["id"]][0]
    foreign = client.call("crm.item.list", {"entityTypeId": inst.entity_type_id,
                                            "filter": {"companyId": other["id"]}, "select": ["id"]})["items"][0]
    refused = frame.post(f"/placements/deal/{deal['id']}/link", {"plan_id": foreign["id"]})
    assert refused.status_code == 400 and "pertenece a otro cliente" in refused.text
    unlinked = frame.post(f"/placements/deal/{deal['id']}/unlink", {})
    assert unlinked.status_code == 303
    after = client.call("crm.item.get", {"entityTypeId": 2, "id": deal["id"]})["item"]
    assert not after.get(f"parentId{inst.entity_type_id}")
