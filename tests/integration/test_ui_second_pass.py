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


def money_rows(page: str) -> list[str]:
    table = page[page.find('id="plans"'):page.find("</table>", page.find('id="plans"'))]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).replace("\xa0", " ")
            for row in re.findall(r'<tr data-plan="\d+".*?</tr>', table, re.S)]


@pytest.fixture
def three_currencies(installed):
    client = webhook(installed)
    inst = installed.installation
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    specs = [("MXN", 180000, "Plan pesos"), ("USD", 23000, "Plan dólares"), ("EUR", 20000, "Plan euros"),
             ("MXN", 500000, "Plan pesos grande")]
    seed_plans(client, inst, [{"title": title, "companyId": company["id"], "opportunity": amount,
                               "currencyId": currency, "assignedById": 1, "begindate": "2026-12-01",
                               "closedate": "2026-12-31"} for currency, amount, title in specs])
    return specs


def test_money_sorts_across_currencies_by_the_base_currency_value(installed, three_currencies):
    """180,000 MXN (10,440 USD) sorts below 23,000 USD; the header says the sort is in USD."""
    frame = Frame(installed)
    first = frame.get("/").text
    link = html_link(first, "amount")
    assert "n=4" in link  # the sort is the app's: the link tells it how many plans to read
    page = frame.get(link).text  # ascending
    currencies = [re.search(r"\b(MXN|USD|EUR)\b", r).group(1) for r in money_rows(page)]
    amounts = [re.search(r"(\d[\d.]*),00", r).group(1) for r in money_rows(page)]
    # 180,000 MXN = 10,440 USD < 20,000 EUR (≈ 21,600 USD) < 23,000 USD < 500,000 MXN = 29,000 USD
    assert list(zip(currencies, amounts, strict=True)) == [("MXN", "180.000"), ("EUR", "20.000"), ("USD", "23.000"),
                                              ("MXN", "500.000")], money_rows(page)
    assert 'id="currency-hint"' in page and "valor en USD" in page and "≈ USD" in page
    descending = frame.get(html_link(page, "amount")).text
    assert [re.search(r"(\d[\d.]*),00", r).group(1) for r in money_rows(descending)] == \
        ["500.000", "23.000", "20.000", "180.000"]
    # within one currency the portal sorts, and no hint is needed
    pesos = frame.get("/", sort="amount", currency="MXN").text
    assert 'id="currency-hint"' not in pesos and len(money_rows(pesos)) == 2


def test_the_export_sorts_money_as_the_page_does(installed, three_currencies):
    import csv
    import io

    frame = Frame(installed)
    response = frame.get("/plans/export.csv", sort="amount", dir="asc")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [r[4] for r in rows[1:]] == ["MXN", "EUR", "USD", "MXN"]


def html_link(page: str, sort: str) -> str:
    import html

    found = re.search(rf'<a href="([^"]+)" data-sort="{sort}">', page)
    assert found, sort
    return html.unescape(found.group(1))


def form_fields(page: str) -> dict[str, str]:
    form = page[page.find('id="plan-form"'):page.find("</form>", page.find('id="plan-form"'))]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" (?:id="\w+" )?value="([^"]*)"', form))
    for name in ("begindate", "closedate", "amount", "probability", "title"):
        found = re.search(rf'name="{name}" id="{name}" value="([^"]*)"', form)
        fields[name] = found.group(1) if found else ""
    for name in ("period", "currency", "assigned_by_id"):
        select = form[form.find(f'name="{name}"'):form.find("</select>", form.find(f'name="{name}"'))]
        fields[name] = re.search(r'<option value="([^"]*)"\s*selected', select).group(1)
    return fields


def test_save_and_close_return_to_the_same_view_of_the_list(installed, three_currencies):
    import html

    frame = Frame(installed)
    view = {"status": "P", "currency": "MXN", "sort": "amount", "dir": "asc"}
    listing = frame.get("/", **view).text
    # the filter form keeps the sort when a filter is applied
    filters = listing[listing.find('id="filters"'):listing.find("</form>", listing.find('id="filters"'))]
    assert '<input type="hidden" name="sort" value="amount">' in filters
    assert '<input type="hidden" name="dir" value="asc">' in filters
    edit = html.unescape(re.search(r'<a class="btn btn-xs btn-light" href="([^"]+)"', listing).group(1))
    form = frame.get(edit).text
    fields = {k: html.unescape(v) for k, v in form_fields(form).items()}
    saved = frame.post("/plans/save", fields)
    assert saved.status_code == 303, saved.text[:500]
    location = saved.headers["Location"]
    for key, value in view.items():
        assert f"{key}={value}" in location, location
    back = frame.get(location).text
    assert 'id="notice"' in back and "Plan guardado." in back and 'value="MXN" selected' in back
    # closing from the form: back to the same view, saying what happened
    plan_id = re.search(r"/plans/(\d+)/edit", edit).group(1)
    closed = frame.post(f"/plans/{plan_id}/status", {"status": "F", "back": fields["back"]})
    assert closed.status_code == 303 and "currency=MXN" in closed.headers["Location"]
    page = frame.get(closed.headers["Location"]).text
    assert "Plan cerrado como no cumplido." in page and 'value="MXN" selected' in page
    assert 'data-confirm="¿Cerrar este plan como no cumplido?' in form  # it asked first (tests/browser)
    assert 'data-confirm="¿Reabrir este plan?' in frame.get(edit).text


def plan_count(client, inst) -> int:
    return len(client.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": ["id"]}))


def test_a_plan_overlapping_another_of_the_same_client_and_currency_asks_first(installed):
    client = webhook(installed)
    inst = installed.installation
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    seed_plans(client, inst, [{"title": "Plan existente", "companyId": company["id"], "opportunity": 1000,
                               "currencyId": "USD", "assignedById": 1, "begindate": "2026-12-01",
                               "closedate": "2026-12-31"}])
    frame = Frame(installed)
    fields = {"client": f"CO_{company['id']}", "period": "custom", "begindate": "2026-12-15",
              "closedate": "2027-01-15", "amount": "1000", "currency": "USD", "probability": "50",
              "assigned_by_id": "1", "back": "plans"}
    before = plan_count(client, inst)
    warned = frame.post("/plans/save", fields)
    assert warned.status_code == 409 and 'id="overlap-warning"' in warned.text
    assert "Plan existente" in warned.text and "Guardar de todos modos" in warned.text
    assert plan_count(client, inst) == before  # nothing written until they confirm
    assert 'value="2026-12-15"' in warned.text and 'value="1000"' in warned.text  # the form keeps what was typed
    other = frame.post("/plans/save", {**fields, "currency": "EUR"})  # another currency: no question
    assert other.status_code == 303 and plan_count(client, inst) == before + 1
    confirmed = frame.post("/plans/save", {**fields, "confirm_overlap": "1"})
    assert confirmed.status_code == 303 and plan_count(client, inst) == before + 2


def test_deleting_a_plan_unlinks_its_deals_and_leaves_them_as_they_were(installed):
    client = webhook(installed)
    inst = installed.installation
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    [plan_id] = seed_plans(client, inst, [{"title": "Plan a borrar", "companyId": company["id"],
                                           "opportunity": 1000, "currencyId": "USD", "assignedById": 1,
                                           "begindate": "2026-12-01", "closedate": "2026-12-31"}])
    parent = f"parentId{inst.entity_type_id}"
    deals = [int(client.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": f"Deal {n}", "companyId": company["id"], "opportunity": 250 + n, "currencyId": "USD",
        "stageId": "NEW", "categoryId": 0, parent: plan_id}})["item"]["id"]) for n in (1, 2)]
    frame = Frame(installed)
    form = frame.get(f"/plans/{plan_id}/edit", back="plans:currency=USD").text
    assert 'id="delete-form"' in form and "Sus 2 negociaciones vinculadas quedarán desvinculadas" in form
    deleted = frame.post(f"/plans/{plan_id}/delete", {"back": "plans:currency=USD"})
    assert deleted.status_code == 303 and "currency=USD" in deleted.headers["Location"]
    page = frame.get(deleted.headers["Location"]).text
    assert "Plan eliminado; sus 2 negociaciones quedaron desvinculadas" in page
    assert plan_id not in [int(p["id"]) for p in client.list_all(
        "crm.item.list", {"entityTypeId": inst.entity_type_id, "select": ["id"]})]
    for n, deal_id in zip((1, 2), deals, strict=True):
        deal = client.call("crm.item.get", {"entityTypeId": 2, "id": deal_id})["item"]
        assert not int(deal.get(parent) or 0) and float(deal["opportunity"]) == 250 + n


def test_the_company_tab_charts_every_currency(installed):
    """A client's only executed plan in MXN among three EUR plans: each currency gets its own chart."""
    client = webhook(installed)
    inst = installed.installation
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][2]
    specs = [("EUR", "2026-09-01", "2026-09-30"), ("EUR", "2026-10-01", "2026-10-31"),
             ("EUR", "2026-11-01", "2026-11-30"), ("MXN", "2026-08-01", "2026-08-31")]
    seed_plans(client, inst, [{"title": f"Plan {n}", "companyId": company["id"], "opportunity": 1000 * (n + 1),
                               "currencyId": currency, "assignedById": 1, "begindate": begin, "closedate": end}
                              for n, (currency, begin, end) in enumerate(specs)])
    page = Frame(installed).get(f"/placements/client/company/{company['id']}").text
    figures = re.findall(r'<figure class="chart" id="([\w-]+)" data-currency="(\w+)">', page)
    currencies = [c for _, c in figures]
    assert "EUR" in currencies and "MXN" in currencies, figures
    mxn = page[page.find('data-currency="MXN"'):]
    mxn = mxn[:mxn.find("</figure>")]
    assert mxn.count('class="bar-plan"') == 1 and "MXN" in mxn


def test_the_deal_owner_who_may_not_see_the_plan_learns_whose_it_is_and_nothing_more(installed):
    import html

    client = webhook(installed)
    inst = installed.installation
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    [plan_id] = seed_plans(client, inst, [{"title": "Plan secreto de Ana", "companyId": company["id"],
                                           "opportunity": 987654, "currencyId": "USD", "assignedById": 1,
                                           "begindate": "2026-12-01", "closedate": "2026-12-31"}])
    deal_id = int(client.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "Negociación de María", "companyId": company["id"], "opportunity": 1200, "currencyId": "USD",
        "stageId": "NEW", "categoryId": 0, "assignedById": 3,
        f"parentId{inst.entity_type_id}": plan_id}})["item"]["id"])
    owner = client.call("user.get", {"ID": 1})[0]
    # María (user 3) has "own" CRM access: her deal, not Ana's plan
    frame = Frame(installed, path="/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": deal_id},
                  user_id=3)
    page = html.unescape(frame.page.text)
    assert frame.page.status_code == 200, page[:400]
    assert 'id="hidden-plan"' in page and "Esta negociación está en un plan de ventas que usted no puede abrir" in page
    assert f"El plan n.º {plan_id} es de {owner['NAME']} {owner['LAST_NAME']}" in page
    assert "Negociación de María" in page
    assert "Plan secreto de Ana" not in page and "987.654" not in page and "987,654" not in page  # nothing of it


def test_small_things_on_the_plans_page(installed, three_currencies):
    frame = Frame(installed)
    page = frame.get("/").text
    # the ↗ link to the plan's card has a label (title and aria-label, and a word beside the icon)
    link = re.search(r'<a href="#" class="open-path icon-link"[^>]*>.*?</a>', page, re.S).group(0)
    assert 'aria-label="Abrir la ficha del plan"' in link and "Ficha" in link
    # totals of a filter that matches nothing say so instead of two tables of "—"
    empty = frame.get("/plans/totals", q="zzqx-nadie").text
    assert 'id="totals-empty"' in empty and "no hay nada que sumar" in empty and "<table" not in empty
