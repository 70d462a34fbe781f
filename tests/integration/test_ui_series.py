"""'Plan the next period' through the frames against the sandbox: the form pre-filled with the next period and
the amount as a sum; saving links both plans; the series fields are validated in the user's language."""

from __future__ import annotations

import html
import re

import pytest

from tests.integration.test_ui_forms import hidden_and_checked
from tests.integration.test_ui_support import Frame, seed_plans, webhook

pytestmark = pytest.mark.integration


def _plan(installed, hook, **extra):
    inst = installed.installation
    f, enums = inst.field_map, inst.enum_map
    company = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"], "order": {"id": "ASC"}})["items"][0]
    fields = {"title": "Acme · mar 2026", "companyId": company["id"], "opportunity": 4000, "currencyId": "USD",
              "assignedById": 2, "begindate": "2026-03-01", "closedate": "2026-03-31", f["PROBABILITY"]: 70,
              f["EXECUTED"]: 1000, f["RECURRENCE"]: enums["RECURRENCE"]["MONTHLY"],
              f["CARRYOVER"]: enums["CARRYOVER"]["SHORTFALL"], f["GROWTH"]: 5, **extra}
    [plan_id] = seed_plans(hook, inst, [fields])
    return plan_id, company


def test_plan_the_next_period_prefills_the_form_and_links_both_plans(installed):
    hook = webhook(installed)
    inst = installed.installation
    plan_id, company = _plan(installed, hook)
    frame = Frame(installed)
    edit = frame.get(f"/plans/{plan_id}/edit").text
    link = re.search(rf'data-plan-next="{plan_id}" href="([^"]+)"', edit).group(1)
    page = frame.get(html.unescape(link)).text
    fields = hidden_and_checked(page, "plan-form")
    assert fields["begindate"] == ["2026-04-01"] and fields["closedate"] == ["2026-04-30"]
    assert fields["amount"] == ["7200"] and fields["carried"] == ["3000"] and fields["predecessor"] == [str(plan_id)]
    assert fields["recurrence"] == ["MONTHLY"] and fields["carryover"] == ["SHORTFALL"] and fields["growth"] == ["5"]
    assert fields["client"] == [f"CO_{company['id']}"] and fields["assigned_by_id"] == ["2"]
    sums = dict(re.findall(r'data-part="([a-z-]+)">([^<]+)<', page.replace("\xa0", " ")))
    assert (sums["own"], sums["grown"], sums["carry-raw"], sums["total"]) == (
        "4.000,00 US$", "4.200,00 US$", "+3.000,00 US$", "7.200,00 US$")
    saved = frame.http.post(installed.live.url + "/plans/save", data=fields, allow_redirects=False, timeout=60)
    assert saved.status_code == 303, saved.text
    successors = hook.call("crm.item.list", {"entityTypeId": inst.entity_type_id,
                                             "filter": {inst.field_map["PREDECESSOR"]: plan_id}})["items"]
    assert len(successors) == 1 and successors[0]["opportunity"] == 7200
    new_id = int(successors[0]["id"])
    previous = hook.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": plan_id})["item"]
    assert int(previous[inst.field_map["SUCCESSOR"]]) == new_id
    assert float(successors[0][inst.field_map["CARRIED"]]) == 3000
    # once continued, "Plan the next period" opens the successor instead of making a second one
    again = frame.http.get(frame.base + html.unescape(link), allow_redirects=False, timeout=60)
    assert again.status_code == 303 and f"/plans/{new_id}/edit" in again.headers["Location"]
    successor_page = frame.get(f"/plans/{new_id}/edit").text
    assert f'class="series-prev" data-plan="{plan_id}"' in successor_page


@pytest.mark.parametrize(("changes", "message"), [
    ({"growth": ["1000,5"]}, "El crecimiento debe estar entre -100 % y 1000 %."),
    ({"growth": ["-101"]}, "El crecimiento debe estar entre -100 % y 1000 %."),
    ({"cap": ["-3"]}, "El tope del arrastre no puede ser negativo."),
    ({"recurrence": ["MONTHLY"], "period": ["custom"], "begindate": ["2026-03-01"], "closedate": ["2026-04-09"]},
     "Un plan que se repite debe cubrir exactamente un mes, trimestre o año del calendario"),
    ({"carried": ["500"], "predecessor": [""]}, "Solo un plan que continúa otro anterior puede arrastrar un importe."),
])
def test_series_fields_are_refused_with_a_message_in_the_users_language(installed, changes, message):
    hook = webhook(installed)
    inst = installed.installation
    plan_id, _ = _plan(installed, hook)
    frame = Frame(installed)
    fields = hidden_and_checked(frame.get(f"/plans/{plan_id}/edit").text, "plan-form")
    fields.update(changes)
    before = hook.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": plan_id})["item"]
    saved = frame.http.post(installed.live.url + "/plans/save", data=fields, allow_redirects=False, timeout=60)
    assert saved.status_code == 400
    assert message in html.unescape(saved.text)
    after = hook.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": plan_id})["item"]
    assert after == before  # nothing written


def test_the_plans_list_filters_by_series_and_says_whether_the_next_period_is_planned(installed):
    hook = webhook(installed)
    inst = installed.installation
    f, enums = inst.field_map, inst.enum_map
    recurring, company = _plan(installed, hook, title="Serie mensual")
    continued, _ = _plan(installed, hook, title="Serie continuada")
    [one_off, blank] = seed_plans(hook, inst, [
        {"title": "Plan único", "companyId": company["id"], "opportunity": 100, "currencyId": "USD",
         "assignedById": 1, "begindate": "2026-03-01", "closedate": "2026-03-31",
         f["RECURRENCE"]: enums["RECURRENCE"]["NONE"]},
        {"title": "Plan sin serie", "companyId": company["id"], "opportunity": 100, "currencyId": "USD",
         "assignedById": 1, "begindate": "2026-03-01", "closedate": "2026-03-31"}])
    hook.call("crm.item.update", {"entityTypeId": inst.entity_type_id, "id": continued,
                                  "fields": {f["SUCCESSOR"]: one_off}})
    frame = Frame(installed)

    def listed(series: str) -> dict[int, str]:
        page = frame.get("/", series=series).text
        rows = re.findall(r'<tr data-plan="(\d+)"(.*?)</tr>', page, re.S)
        return {int(plan): body for plan, body in rows}

    every = listed("")
    assert {recurring, continued, one_off, blank} <= set(every)
    assert "Siguiente período aún sin planificar" in every[recurring]
    assert f'data-plan-next="{recurring}"' in every[recurring]
    assert "Siguiente período planificado" in every[continued] and "data-plan-next" not in every[continued]
    assert "aún sin planificar" not in every[one_off] and f'data-plan-next="{one_off}"' in every[one_off]
    assert set(listed("recurring")) >= {recurring, continued} and not {one_off, blank} & set(listed("recurring"))
    assert set(listed("oneoff")) >= {one_off, blank} and not {recurring, continued} & set(listed("oneoff"))


def test_the_client_tab_shows_the_series_period_by_period(installed):
    hook = webhook(installed)
    inst = installed.installation
    f = inst.field_map
    first, company = _plan(installed, hook)
    [second] = seed_plans(hook, inst, [{"title": "Acme · abr 2026", "companyId": company["id"], "opportunity": 7000,
                                        "currencyId": "USD", "assignedById": 2, "begindate": "2026-04-01",
                                        "closedate": "2026-04-30", f["CARRIED"]: 3000, f["PREDECESSOR"]: first}])
    frame = Frame(installed, "/placements/client", placement="CRM_COMPANY_DETAIL_TAB",
                  options={"ID": str(company["id"])})
    page = frame.page.text.replace("\xa0", " ")
    section = page[page.index('id="series-history"'):page.index('id="history"')]
    rows = re.findall(r'<tr data-series-plan="(\d+)">(.*?)</tr>', section, re.S)
    order = [int(p) for p, _ in rows]
    assert order.index(first) < order.index(second)  # oldest period first
    carried = dict((int(p), re.search(r'series-carried"[^>]*>([^<]*)<', body).group(1)) for p, body in rows)
    assert carried[second] == "+3.000,00 US$" and carried[first] == "—"
    assert 'id="chart"' in page  # the chart it already drew stays
