"""Money on the frames in the portal's own currency formats for the person's language (issue 16 item 13), read
with the currencies in the view's one batch: a portal's custom ruble format changes what the plans page shows,
in Spanish and in English."""

from __future__ import annotations

import html
import re

import pytest
from test_ui_portal_calls import Counter, cold

from tests.integration.test_ui_support import Frame, seed_plans, webhook

pytestmark = pytest.mark.integration


def amounts(page: str) -> list[str]:
    """The amount cells of the plans table, as text (entities decoded, no-break spaces kept)."""
    table = page[page.find('id="plans"'):page.find("</table>", page.find('id="plans"'))]
    rows = re.findall(r'<tr data-plan="\d+".*?</tr>', table, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for row in rows
            for cell in re.findall(r'<td class="col-amount[^"]*"[^>]*>(.*?)</td>', row, re.S)]


@pytest.fixture
def ruble_plan(installed):
    client = webhook(installed)
    inst = installed.installation
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id"], "order": {"id": "ASC"}})["items"][0]
    seed_plans(client, inst, [{"title": "Plan en rublos", "companyId": company["id"], "opportunity": 1234567,
                               "currencyId": "RUB", "assignedById": 1, "begindate": "2026-11-01",
                               "closedate": "2026-11-30", inst.field_map["PROBABILITY"]: 50}])
    return client


def test_the_portals_formats_show_in_the_users_language_at_no_extra_call(installed, sandbox, ruble_plan):
    spanish, english = Frame(installed), Frame(installed, lang="en")
    cold()
    # the sandbox's defaults are the app's Spanish and English formatting of before
    assert amounts(spanish.get("/", currency="RUB").text) == ["1.234.567,00\xa0RUB"]
    assert amounts(english.get("/", currency="RUB").text) == ["₽1,234,567.00"]
    ruble_plan.call("crm.currency.update", {"id": "RUB", "fields": {"LANG": {
        "la": {"FORMAT_STRING": "#&nbsp;₽", "THOUSANDS_VARIANT": "S", "HIDE_ZERO": "Y"},
        "en": {"FORMAT_STRING": "RUB #", "DEC_POINT": "·", "THOUSANDS_VARIANT": "N"}}}})
    cold()
    counter = Counter(sandbox)
    with counter.view() as spent:
        page = spanish.get("/", currency="RUB")
    assert len(spent) <= 2, spent  # the formats came with the currencies, in the page's batch
    assert amounts(page.text) == ["1 234 567\xa0₽"]
    assert amounts(english.get("/", currency="RUB").text) == ["RUB 1234567·00"]
    assert amounts(spanish.get("/", currency="USD").text) == []  # (no USD plan: the filter works)
