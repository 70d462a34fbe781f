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
    ({"recurrence": ["MONTHLY"], "begindate": ["2026-03-01"], "closedate": ["2026-04-09"]},
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
