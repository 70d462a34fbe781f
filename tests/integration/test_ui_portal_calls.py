"""The plans page spends at most two portal calls per view (issue 16, item 1), counted by the sandbox itself:
the page, the names it shows and the reference data (employees, currencies) not cached yet come in one
batch; the totals fragment reads every matching plan in one more, sized by the count the page saw."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest

from b24app import linkstore
from b24app.autolink import PlanPeriod
from placements import reference_data
from tests.integration.test_ui_support import Frame, seed_plans, webhook

pytestmark = pytest.mark.integration


class Counter:
    """HTTP requests the portal answered (a batch is one), with their methods."""

    def __init__(self, sandbox: Any) -> None:
        self.methods: list[str] = []
        self.lock = threading.Lock()
        portal = sandbox.portal
        original = portal.call

        def counted(method: str, params: Any, auth: Any) -> tuple[int, dict[str, Any]]:
            with self.lock:
                self.methods.append(method)
            return original(method, params, auth)

        portal.call = counted

    @contextmanager
    def view(self) -> Iterator[list[str]]:
        with self.lock:
            before = len(self.methods)
        spent: list[str] = []
        yield spent
        with self.lock:
            spent += self.methods[before:]


def cold() -> None:
    """A first view in a fresh process: no per-user scan, no per-installation reference data."""
    reference_data.cache._data.clear()
    reference_data.reference_cache._data.clear()


@pytest.fixture
def seeded(installed):
    client = webhook(installed)
    inst = installed.installation
    companies = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"],
                                              "order": {"id": "ASC"}})["items"][:3]
    contact = client.call("crm.item.list", {"entityTypeId": 3, "select": ["id", "name", "lastName"],
                                            "order": {"id": "ASC"}})["items"][0]
    specs = []
    for n in range(70):
        owner = {"contactId": contact["id"]} if n % 7 == 0 else {"companyId": companies[n % 3]["id"]}
        specs.append({"title": f"Plan {n:02d}", **owner, "opportunity": 100 * (n + 1),
                      "currencyId": "EUR" if n % 4 == 0 else "USD", "assignedById": 1 + n % 3,
                      "begindate": "2026-11-01", "closedate": "2026-11-30",
                      "stageId": inst.stage_map["P"], inst.field_map["PROBABILITY"]: 50})
    plans = seed_plans(client, inst, specs)
    return {"companies": companies, "contact": contact, "plans": plans, "specs": specs}


VIEWS = [{}, {"sort": "amount", "dir": "asc"}, {"status": "P", "currency": "USD", "sort": "remainder"},
         {"page": 2}, {"q": "andin"}]


@pytest.mark.parametrize("params", VIEWS, ids=["page 1", "by amount", "filtered", "page 2", "search"])
def test_a_plans_page_view_costs_at_most_two_portal_calls(installed, sandbox, seeded, params):
    frame = Frame(installed)
    counter = Counter(sandbox)
    for temperature in ("cold", "warm"):
        if temperature == "cold":
            cold()
        with counter.view() as spent:
            page = frame.get("/", **params)
        assert page.status_code == 200
        assert len(spent) <= 2, (temperature, spent)
        assert re.search(r'<tr data-plan="\d+"', page.text)
    # what the batch's references read is on the page: client names, responsible names, the currency filter
    text = page.text
    if not params.get("q"):
        assert seeded["companies"][1]["title"] in html.unescape(text)
    assert "María López" in text and 'value="EUR"' in text


def test_the_page_names_every_row(installed, sandbox, seeded):
    """Names read through $result references match the rows they belong to (company, contact, responsible)."""
    cold()
    frame = Frame(installed)
    text = html.unescape(frame.get("/", sort="amount", dir="asc", currency="USD").text)  # sorted by the portal
    rows = re.findall(r'<tr data-plan="\d+".*?</tr>', text, re.S)
    usd = [n for n in range(70) if n % 4]
    assert len(rows) == 50
    contact = f"{seeded['contact']['name']} {seeded['contact']['lastName']}".strip()
    names = [c["title"] for c in seeded["companies"]]
    for n, row in zip(usd, rows, strict=False):  # amounts ascend: row k is the k-th USD plan
        expected = contact if n % 7 == 0 else names[n % 3]
        assert expected in row, (n, row[:400])


def test_totals_cost_one_portal_call_at_the_address_the_page_gives(installed, sandbox, seeded):
    frame = Frame(installed)
    counter = Counter(sandbox)
    cold()
    page = frame.get("/").text
    source = html.unescape(re.search(r'data-totals-src="([^"]+)"', page).group(1))
    cold()
    with counter.view() as spent:
        totals = frame.get(source)
    assert totals.status_code == 200 and 'id="rollup"' in totals.text
    assert [m.removesuffix(".json") for m in spent] == ["batch"], spent  # the scan and the reference data
    reference_data.cache._data.clear()  # the reference data stays cached: the scan alone
    with counter.view() as spent:
        frame.get(source)
    assert [m.removesuffix(".json") for m in spent] == ["batch"], spent


@pytest.fixture
def deals_waiting(installed, seeded):
    """Deals "to decide" as the worker leaves them (in the app's database): three of the first company, each
    with two of its plans (user 1's) to choose from, and one of the contact with two of the contact's."""
    client = webhook(installed)
    specs, plans = seeded["specs"], seeded["plans"]
    company, contact = int(seeded["companies"][0]["id"]), int(seeded["contact"]["id"])

    def period(n: int) -> PlanPeriod:
        spec = specs[n]
        return PlanPeriod(plans[n], int(spec.get("companyId") or 0), int(spec.get("contactId") or 0),
                          date(2026, 11, 1), date(2026, 11, 30), spec["currencyId"], spec["title"])

    entries = []
    for k, (owner, candidates) in enumerate([({"companyId": company}, [3, 6])] * 3
                                            + [({"contactId": contact}, [0, 21])]):
        assert all(specs[n]["assignedById"] == 1 for n in candidates)
        fields = {"title": f"Waiting deal {k}", "opportunity": 500 + k, "currencyId": "USD", "stageId": "NEW",
                  "categoryId": 0, "closedate": "2026-11-20", "assignedById": 1, **owner}
        deal = int(client.call("crm.item.add", {"entityTypeId": 2, "fields": fields})["item"]["id"])
        entries.append(linkstore.Pending(deal, fields["title"], owner.get("companyId", 0), owner.get("contactId", 0),
                                         date(2026, 11, 20), str(fields["opportunity"]), "USD", "several",
                                         [period(n) for n in candidates]))
    db = installed.live.db()
    try:
        linkstore.put_pending(db, installed.member_id, entries)
    finally:
        db.conn.close()
    return entries


@pytest.mark.parametrize("params", [VIEWS[0], VIEWS[1], VIEWS[4]], ids=["page 1", "by amount", "search"])
def test_a_view_with_deals_to_decide_still_costs_at_most_two_portal_calls(installed, sandbox, seeded,
                                                                            deals_waiting, params):
    """The "to decide" list's deals, candidate plans and client names ride in the view's batch."""
    frame = Frame(installed)
    counter = Counter(sandbox)
    for temperature in ("cold", "warm"):
        if temperature == "cold":
            cold()
        with counter.view() as spent:
            page = frame.get("/", **params)
        assert page.status_code == 200
        assert len(spent) <= 2, (temperature, spent)
        text = html.unescape(page.text)
        block = text[text.index('id="to-decide"'):]
        block = block[:block.index("</section>")]
        rows = re.findall(r'<tr data-deal="(\d+)">(.*?)</tr>', block, re.S)
        assert [int(d) for d, _ in rows] == [e.deal_id for e in deals_waiting], temperature
        contact = f"{seeded['contact']['name']} {seeded['contact']['lastName']}".strip()
        for (_, row), entry, client in zip(rows, deals_waiting, [seeded["companies"][0]["title"]] * 3 + [contact],
                                           strict=True):
            assert entry.title in row and client in row, row[:600]
            assert re.findall(r'<option value="(\d+)"', row) == [str(c.id) for c in entry.candidates]


def test_a_person_who_may_see_neither_the_deals_nor_their_plans_gets_no_list_and_no_extra_call(
        installed, sandbox, seeded, deals_waiting):
    """User 3 ("own" CRM access) reads neither user 1's deals nor their plans: no list, in the same ≤ 2 calls."""
    frame = Frame(installed, user_id=3)
    counter = Counter(sandbox)
    cold()
    with counter.view() as spent:
        page = frame.get("/")
    assert page.status_code == 200 and len(spent) <= 2, spent
    assert 'id="to-decide"' not in page.text
    assert 'id="to-decide"' in Frame(installed).page.text  # the list is there for user 1 on the same data
