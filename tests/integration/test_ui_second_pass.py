"""The second UI pass (issue 16) over real HTTP against the sandbox: a stored period reopens as its preset, client
search ignores case and accents, money sorts across currencies by their base-currency value."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_ui_support import Frame, seed_plans, webhook

pytestmark = pytest.mark.integration


def selected_period(page: str) -> str:
    select = page[page.find('id="period"'):page.find("</select>", page.find('id="period"'))]
    found = re.search(r'<option value="(\w+)" selected>', select)
    return found.group(1) if found else ""


@pytest.mark.parametrize(("begin", "end", "preset"), [
    ("2026-12-01", "2026-12-31", "month"), ("2027-01-01", "2027-03-31", "quarter"),
    ("2027-01-01", "2027-12-31", "year"), ("2026-12-02", "2026-12-31", "custom"),
    ("2027-02-01", "2027-03-31", "custom")])
def test_a_stored_period_reopens_as_its_preset(installed, begin, end, preset):
    client = webhook(installed)
    inst = installed.installation
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    plan_id = seed_plans(client, inst, [{"title": "Plan", "companyId": company["id"], "opportunity": 100,
                                         "currencyId": "USD", "assignedById": 1, "begindate": begin,
                                         "closedate": end}])[0]
    page = Frame(installed).get(f"/plans/{plan_id}/edit").text
    assert selected_period(page) == preset
    assert f'value="{begin}"' in page and f'value="{end}"' in page


@pytest.mark.parametrize(("typed", "expected"), [
    ("tomas", "Tomás Aguilar"), ("TOMAS aguilar", "Tomás Aguilar"), ("Bajio", "TecnoSoluciones del Bajío"),
    ("analitica", "Analítica Rioplatense"), ("Analítica", "Analítica Rioplatense"),
    ("bajío", "TecnoSoluciones del Bajío")])
def test_client_search_ignores_case_and_accents(installed, typed, expected):
    frame = Frame(installed)
    found = frame.get("/api/clients", q=typed).json()
    assert expected in [c["name"] for c in found], found
    assert all(typed.split()[0].lower()[:3] in c["name"].lower().replace("á", "a").replace("í", "i")
               for c in found)


def test_the_plans_filter_finds_a_client_without_its_accents(installed):
    client = webhook(installed)
    inst = installed.installation
    company = next(c for c in client.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"]})["items"]
                   if c["title"] == "TecnoSoluciones del Bajío")
    seed_plans(client, inst, [{"title": "Plan Bajío", "companyId": company["id"], "opportunity": 100,
                               "currencyId": "USD", "assignedById": 1, "begindate": "2026-12-01",
                               "closedate": "2026-12-31"}])
    page = Frame(installed).get("/", q="bajio").text
    assert re.search(r'<tr data-plan="\d+"', page) and "Bajío" in page
