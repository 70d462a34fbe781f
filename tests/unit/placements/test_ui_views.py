"""The frame views over a fake portal: what a manager sees, and that bad input writes nothing."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook

from tests.unit.placements.conftest import ETI, frame_form

NBSP = "\xa0"
GOOD = {"client": "CO_5", "period": "custom", "begindate": "2026-11-01", "closedate": "2026-11-30",
        "amount": "12500,50", "currency": "EUR", "probability": "60", "assigned_by_id": "2", "back": "plans"}


def add_plan(fake, plan_id=1, **fields):
    fake.plans[plan_id] = {"id": plan_id, "title": "Acme Research · 2026-11", "companyId": 5, "contactId": 0,
                           "begindate": "2026-11-01T00:00:00+00:00", "closedate": "2026-11-30T00:00:00+00:00",
                           "assignedById": 2, "opportunity": 10000, "currencyId": "EUR", "stageId": "DT1030_7:NEW",
                           "ufCrm5Probability": 50, "ufCrm5Executed": 2500, "ufCrm5Remainder": 7500,
                           "ufCrm5Execution": 25, "ufCrm5Probable": 5000, **fields}


def test_plans_page_in_spanish_shows_the_plan(frame, fake):
    add_plan(fake)
    page = frame.client.get(frame.location).get_data(as_text=True).replace(NBSP, " ")
    assert "Planes de ventas" in page and "Acme Research" in page and "María López" in page
    assert "10.000,00 €" in page and "2.500,00 €" in page
    assert "7.500,00 €" in page and "25 %" in page and "Activo" in page
    assert 'data-path="/crm/company/details/5/"' in page


def test_bad_plan_input_writes_nothing_and_says_why_in_spanish(frame, fake):
    bad = {**GOOD, "amount": "0", "probability": "140", "closedate": "2026-10-01", "currency": "XYZ",
           "deals": ["12"], "csrf_token": frame.csrf, "_s": frame.s}
    response = frame.client.post("/plans/save", data=bad)
    page = response.get_data(as_text=True).replace(NBSP, " ")
    assert response.status_code == 400
    assert fake.writes == []
    for text in ("El importe debe ser mayor que cero.", "La probabilidad debe estar entre 0 y 100.",
                 "La fecha de fin no puede ser anterior a la fecha de inicio.",
                 "La moneda no es una de las monedas del portal.", "La negociación 12 pertenece a otro cliente."):
        assert text in page
    response = frame.client.post("/plans/save", data={**GOOD, "client": "", "csrf_token": frame.csrf, "_s": frame.s})
    assert response.status_code == 400 and "Elija el cliente" in response.get_data(as_text=True).replace(NBSP, " ")
    assert fake.writes == []


def test_good_plan_is_created_and_the_chosen_deal_linked(frame, fake):
    response = frame.client.post("/plans/save", data={**GOOD, "deals": ["11"], "csrf_token": frame.csrf,
                                                      "_s": frame.s})
    assert response.status_code == 303
    added = [p for m, p in fake.writes if m == "crm.item.add"]
    assert len(added) == 1
    fields = added[0]["fields"]
    assert added[0]["entityTypeId"] == ETI
    assert fields["companyId"] == 5 and fields["opportunity"] == 12500.5 and fields["currencyId"] == "EUR"
    assert fields["isManualOpportunity"] == "Y" and fields["ufCrm5Probability"] == 60.0
    assert fields["stageId"] == "DT1030_7:NEW" and fields["begindate"] == "2026-11-01"
    assert fake.deals[11][f"parentId{ETI}"] == 1


def test_status_buttons_close_and_cancel(frame, fake):
    add_plan(fake)
    response = frame.client.post("/plans/1/status", data={"status": "F", "csrf_token": frame.csrf, "_s": frame.s})
    assert response.status_code == 303 and fake.plans[1]["stageId"] == "DT1030_7:FAIL"
    page = frame.client.get(f"/plans/1/edit?_s={frame.s}").get_data(as_text=True)
    assert 'data-status-action="P"' in page and "Reabrir" in page  # a closed plan can be reopened
    writes = len(fake.writes)
    refused = frame.client.post("/plans/1/status", data={"status": "S", "csrf_token": frame.csrf, "_s": frame.s})
    assert refused.status_code == 400 and len(fake.writes) == writes  # Cumplido follows the won deals


def test_exports_have_the_page_columns_and_formatted_numbers(frame, fake):
    add_plan(fake)
    add_plan(fake, 2, title="Globex · 2026-11", companyId=6, opportunity=300, currencyId="USD",
             ufCrm5Executed=0, ufCrm5Remainder=300, ufCrm5Execution=0, ufCrm5Probable=150)
    raw = frame.client.get(f"/plans/export.csv?_s={frame.s}&sort=amount&dir=desc")
    assert raw.status_code == 200 and "attachment" in raw.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(raw.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:4] == ["Cliente", "Periodo", "Responsable", "Importe"]
    assert rows[1][0] == "Acme Research" and rows[1][3] == "10.000,00" and rows[1][10] == "Activo"
    assert rows[2][0] == "Globex" and rows[2][4] == "USD"
    book = load_workbook(io.BytesIO(frame.client.get(f"/plans/export.xlsx?_s={frame.s}").data))
    sheet = book.active
    assert [c.value for c in sheet[1]][:4] == ["Cliente", "Periodo", "Responsable", "Importe"]
    amounts = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=4) for r in (2, 3)}
    assert amounts["Acme Research"].value == 10000 and amounts["Acme Research"].number_format == "#,##0.00"


def test_deal_tab_without_plan_offers_the_clients_active_plans(client, inst, fake):
    add_plan(fake)
    response = client.post("/placements/deal?LANG=la", data=frame_form(
        PLACEMENT="CRM_DEAL_DETAIL_TAB", PLACEMENT_OPTIONS=json.dumps({"ID": "11"})))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True).replace(NBSP, " ")
    assert "Esta negociación no está en ningún plan de ventas" in page
    assert "Acme Research · 2026-11" in page and "Crear un plan para este cliente" in page
    assert "Ana García" in page


def test_deal_tab_with_plan_shows_plan_responsible_contacts_and_probable(client, inst, fake):
    add_plan(fake)
    fake.deals[11][f"parentId{ETI}"] = 1
    fake.deals[13] = {"id": 13, "title": "Segundo estudio", "companyId": 5, "opportunity": 2500, "currencyId": "EUR",
                      "stageSemanticId": "S", f"parentId{ETI}": 1}
    fake.contacts[7] = ("Ana", "García")
    location = client.post("/placements/deal", data=frame_form(
        PLACEMENT="CRM_DEAL_DETAIL_TAB", PLACEMENT_OPTIONS='{"ID":"11"}')).headers["Location"]
    page = client.get(location).get_data(as_text=True).replace(NBSP, " ")
    assert "Acme Research · 2026-11" in page and "María López" in page
    assert "5.000,00 €" in page  # probable amount
    assert "Segundo estudio" in page and "Ana García" in page


def test_company_tab_lists_the_clients_plans(client, inst, fake):
    add_plan(fake)
    add_plan(fake, 2, title="Globex · 2026-11", companyId=6)
    location = client.post("/placements/client", data=frame_form(
        PLACEMENT="CRM_COMPANY_DETAIL_TAB", PLACEMENT_OPTIONS='{"ID":"5"}')).headers["Location"]
    page = client.get(location).get_data(as_text=True).replace(NBSP, " ")
    assert "Planes de ventas de Acme Research" in page and "Acme Research · 2026-11" in page
    assert "Globex · 2026-11" not in page
    assert "<svg" in page and 'class="bar-won"' in page


def test_client_search_endpoint(frame, fake):
    found = frame.client.get(f"/api/clients?q=acm&_s={frame.s}").get_json()
    assert found == [{"id": "CO_5", "kind": "company", "name": "Acme Research"}]
    assert frame.client.get(f"/api/clients?q=garc&_s={frame.s}").get_json()[0]["id"] == "C_7"


def test_output_is_escaped(frame, fake):
    fake.companies[5] = "<script>alert(1)</script>"
    add_plan(fake)
    page = frame.client.get(frame.location).get_data(as_text=True).replace(NBSP, " ")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_currencies_fall_back_to_the_admin_token_when_the_user_may_not_read_them(app, inst, fake):
    from b24app.rest.errors import AccessDenied
    from placements import reference_data
    from placements.portal_data import PortalData, cache

    cache._data.clear()
    calls = []

    class Denied(type(fake)):
        def call(self, method, params=None):
            if method == "crm.currency.list":
                raise AccessDenied(403, "ACCESS_DENIED", "no", method)
            return super().call(method, params)

    admin = type(fake)()
    original = admin.call
    admin.call = lambda m, p=None: calls.append(m) or original(m, p)
    assert PortalData(Denied(), inst, 3, admin_client=lambda: admin).currencies() == ["EUR", "USD"]
    assert calls == ["crm.currency.list"] + ["crm.currency.get"] * reference_data.MAX_FORMATS  # one batch
    cache._data.clear()


def test_entering_with_filters_keeps_them_in_the_url(client, inst, fake):
    response = client.post("/?LANG=la&DOMAIN=x&status=S", data=frame_form(
        PLACEMENT_OPTIONS=json.dumps({"currency": "EUR", "sort": "won", "dir": "asc"})))
    location = response.headers["Location"]
    for part in ("status=S", "currency=EUR", "sort=won", "dir=asc", "_s="):
        assert part in location
    assert "DOMAIN" not in location and "LANG" not in location


def test_sort_by_client_name_reads_the_plans_once_and_shows_the_totals_with_it(frame, fake):
    add_plan(fake, 1, companyId=6)  # Globex
    add_plan(fake, 2, companyId=0, contactId=7)  # Ana García
    add_plan(fake, 3, companyId=5)  # Acme Research
    fake.calls.clear()
    page = frame.client.get(f"/?sort=client&dir=asc&_s={frame.s}").get_data(as_text=True)
    order = [int(n) for n in re.findall(r'<tr data-plan="(\d+)"', page)]
    assert order == [3, 2, 1]  # Acme Research, Ana García, Globex
    scans = [p for m, p in fake.calls if m == "crm.item.list" and p["entityTypeId"] == ETI
             and not {"@id", ">id"} & set(p.get("filter") or {})]  # a scan's first page (the rest follow it)
    assert len(scans) == 1  # one light scan: the sort and the totals share it
    assert "data-totals-src" not in page and '<tr data-currency="EUR">' in page


def test_after_saving_the_list_says_so_and_highlights_the_plan(frame, fake):
    add_plan(fake, 1)
    response = frame.client.post("/plans/save", data={**GOOD, "client": "CO_6", "csrf_token": frame.csrf,
                                                      "_s": frame.s})
    assert response.status_code == 303 and "saved=2" in response.headers["Location"]
    page = frame.client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="notice"' in page and "Plan guardado." in page
    assert '<tr data-plan="2" class="status-P just-saved">' in page
    assert '<tr data-plan="1" class="status-P">' in page  # only the saved plan is highlighted
    assert "saved=" not in page.split('id="plans"')[1]  # sort and page links do not carry the flag
    plain = frame.client.get(frame.location).get_data(as_text=True)
    assert 'id="notice"' not in plain and "just-saved" not in plain


def test_saving_from_the_company_tab_returns_there_with_the_notice_in_english(client, inst, fake):
    location = client.post("/placements/client?LANG=en", data=frame_form(
        PLACEMENT="CRM_COMPANY_DETAIL_TAB", PLACEMENT_OPTIONS='{"ID":"5"}', LANG="en")).headers["Location"]
    tab = client.get(location).get_data(as_text=True)
    csrf, s = re.search(r'data-csrf="([^"]+)"', tab).group(1), re.search(r'data-session="([^"]+)"', tab).group(1)
    response = client.post("/plans/save", data={**GOOD, "back": "client:CO_5", "csrf_token": csrf, "_s": s})
    assert response.status_code == 303 and "/placements/client/company/5" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Plan saved." in page and 'class="just-saved"' in page


def test_the_excel_sheet_is_named_in_the_users_language(client, inst, fake):
    add_plan(fake)
    for lang, title in (("la", "Planes de ventas"), ("en", "Sales plans"), ("ru", "Планы продаж")):
        location = client.post(f"/?LANG={lang}", data=frame_form()).headers["Location"]
        s = re.search(r"_s=([^&]+)", location).group(1)
        book = load_workbook(io.BytesIO(client.get(f"/plans/export.xlsx?_s={s}").data))
        assert book.sheetnames == [title]


def test_sheet_titles_respect_excels_rules():
    from placements.export import sheet_title

    assert sheet_title("Plans: 2026/Q4 [draft]*?") == "Plans  2026 Q4  draft"
    assert len(sheet_title("x" * 40)) == 31 and sheet_title("[]") == "Sheet1"


def test_removing_a_deal_from_its_plan_asks_first_and_then_says_it_was_done(client, inst, fake):
    add_plan(fake)
    fake.deals[11][f"parentId{ETI}"] = 1
    location = client.post("/placements/deal", data=frame_form(
        PLACEMENT="CRM_DEAL_DETAIL_TAB", PLACEMENT_OPTIONS='{"ID":"11"}')).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    form = re.search(r'<form[^>]*id="unlink-form"[^>]*>', page, re.S).group(0)
    assert 'data-confirm="¿Quitar esta negociación del plan?' in form
    csrf, s = re.search(r'data-csrf="([^"]+)"', page).group(1), re.search(r'data-session="([^"]+)"', page).group(1)
    response = client.post("/placements/deal/11/unlink", data={"csrf_token": csrf, "_s": s})
    assert response.status_code == 303 and fake.deals[11][f"parentId{ETI}"] == 0
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Negociación quitada del plan." in after and "Esta negociación no está en ningún plan" in after


def test_company_chart_names_periods_in_the_users_language_and_shows_the_scale(client, inst, fake):
    add_plan(fake, 1, begindate="2026-10-01T00:00:00+00:00", closedate="2026-12-31T00:00:00+00:00",
             opportunity=17000)
    add_plan(fake, 2)  # November 2026, 10.000 €
    for lang, quarter, month, top in (("la", "T4 2026", "nov 2026", "20 mil €"), ("en", "Q4 2026", "Nov 2026", "€20K"),
                                      ("ru", "4 кв. 2026", "нояб. 2026", "20 тыс. €")):
        location = client.post(f"/placements/client?LANG={lang}", data=frame_form(
            PLACEMENT="CRM_COMPANY_DETAIL_TAB", PLACEMENT_OPTIONS='{"ID":"5"}')).headers["Location"]
        svg = client.get(location).get_data(as_text=True).replace(NBSP, " ")
        svg = svg[svg.find("<svg"):svg.find("</svg>")]
        periods = re.findall(r'<text class="period"[^>]*>([^<]*)</text>', svg)
        ticks = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg)
        assert sorted(periods) == sorted([quarter, month]), lang
        assert ticks == ["0", top.replace("20", "10"), top], lang  # 0, half and the round top (17.000 -> 20.000)


def test_sorting_amounts_of_several_currencies_says_they_are_compared_in_the_base_currency(frame, fake):
    add_plan(fake, 1)
    add_plan(fake, 2, currencyId="USD", opportunity=300)
    hint = "Importes en distintas monedas: ordenados por su valor en EUR al tipo de cambio de hoy"
    for sort in ("amount", "won", "remainder", "probable"):
        assert hint in frame.client.get(f"/?sort={sort}&_s={frame.s}").get_data(as_text=True), sort
    assert hint not in frame.client.get(f"/?sort=amount&currency=EUR&_s={frame.s}").get_data(as_text=True)
    assert hint not in frame.client.get(f"/?sort=client&_s={frame.s}").get_data(as_text=True)


def test_a_saved_plan_outside_the_page_shown_gets_a_link(frame, fake):
    add_plan(fake, 1)
    response = frame.client.post("/plans/save", data={**GOOD, "csrf_token": frame.csrf, "_s": frame.s,
                                                      "confirm_overlap": "1"})  # like plan 1: asked and confirmed
    page = frame.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "just-saved" in page and "El plan guardado no está en esta página." not in page
    filtered = frame.client.get(f"/?saved=2&currency=USD&_s={frame.s}").get_data(as_text=True)  # plan 2 is EUR
    assert "Plan guardado." in filtered and "El plan guardado no está en esta página." in filtered
    # the form opened from this view comes back to it (the filter rides in ``back``)
    assert re.search(r'<a href="/plans/2/edit\?back=plans:currency%3DUSD&amp;_s=[^"]+">Abrirlo</a>', filtered)


PORTAL_FAILURES = [("AuthError", 401, "Su sesión ha caducado o no se pudo verificar."),
                   ("AccessDenied", 403, "Bitrix24 no le permite ver esto."),
                   ("NotFound", 404, "Este elemento ya no existe en Bitrix24"),
                   ("ServerError", 502, "Bitrix24 no respondió a tiempo.")]


@pytest.mark.parametrize(("error", "status", "text"), PORTAL_FAILURES)
def test_a_failed_portal_call_says_so_on_every_frame_page(frame, fake, monkeypatch, error, status, text):
    from b24app.rest import errors

    add_plan(fake)
    fake.deals[11][f"parentId{ETI}"] = 1
    read, post = (lambda path: frame.client.get(f"{path}?_s={frame.s}"),
                  lambda path, **data: frame.client.post(path, data={"csrf_token": frame.csrf, "_s": frame.s, **data}))
    original = fake.call

    def failing(method, params=None):
        if method.startswith("crm.item."):
            raise getattr(errors, error)(status, "SOME_CODE", "the portal says no", method)
        return original(method, params)

    monkeypatch.setattr(fake, "call", failing)
    answers = {"plans": read("/"), "export": read("/plans/export.csv"), "deal tab": read("/placements/deal/11"),
               "client tab": read("/placements/client/company/5"), "edit": read("/plans/1/edit"),
               "save": post("/plans/save", **GOOD), "status": post("/plans/1/status", status="F"),
               "link": post("/placements/deal/11/link", plan_id="1"), "unlink": post("/placements/deal/11/unlink")}
    for view, response in answers.items():
        page = response.get_data(as_text=True)
        assert (view, response.status_code) == (view, status)
        assert text in page, view
        assert "the portal says no" not in page and "SOME_CODE" not in page, view


def test_cached_totals_follow_a_plan_the_worker_wrote(fake, inst):
    """The totals scan is cached per user and filter, and per state of the plans (the newest snapshot): once the
    worker writes a plan, an open page's re-render shows new totals, not the cached ones."""
    from placements import portal_data

    portal_data.cache.drop(inst.member_id)
    fake.plans[1] = {"id": 1, "title": "Plan", "companyId": 5, "contactId": 0, "assignedById": 1,
                     "opportunity": 1000, "currencyId": "EUR", "stageId": "DT1030_7:NEW"}
    before = portal_data.PortalData(fake, inst, 1, data_version=7).totals({})
    for plan in fake.plans.values():
        plan["opportunity"] = float(plan.get("opportunity") or 0) + 1000
    same_state = portal_data.PortalData(fake, inst, 1, data_version=7).totals({})
    after = portal_data.PortalData(fake, inst, 1, data_version=8).totals({})
    assert same_state == before  # nothing written meanwhile: the cache answers
    assert after != before
