"""The auto-link rule as a table (b24app/autolink.py): which plan a deal without one goes to, or why not."""

from __future__ import annotations

from datetime import date

import pytest

from b24app import autolink
from b24app.autolink import LINK, SKIP, WAIT, DealFacts, PlanPeriod

ACME, OTHER, ANA = 10, 11, 20  # companies 10, 11; contact 20

Q4_ACME = PlanPeriod(1, ACME, 0, date(2026, 10, 1), date(2026, 12, 31), "USD", "Acme · T4 2026")
DEC_ACME = PlanPeriod(2, ACME, 0, date(2026, 12, 1), date(2026, 12, 31), "EUR", "Acme · dic 2026")
Q1_ACME = PlanPeriod(3, ACME, 0, date(2027, 1, 1), date(2027, 3, 31), "USD", "Acme · T1 2027")
Q4_ANA = PlanPeriod(4, 0, ANA, date(2026, 10, 1), date(2026, 12, 31), "USD", "Ana · T4 2026")
Q4_OTHER = PlanPeriod(5, OTHER, 0, date(2026, 10, 1), date(2026, 12, 31), "USD", "Other · T4 2026")
CLOSED_Q4 = PlanPeriod(6, ACME, 0, date(2026, 10, 1), date(2026, 12, 31), "USD", "closed", active=False)


def deal(company=ACME, contact=0, plan=0, semantics="P", day=date(2026, 11, 15), currency="USD") -> DealFacts:
    return DealFacts(id=100, company_id=company, contact_id=contact, plan_id=plan, semantics=semantics, day=day,
                     currency=currency)


@pytest.mark.parametrize(("facts", "plans", "decided", "expected"), [
    # one active plan of the client holds the deal's date: linked
    (deal(), [Q4_ACME, Q1_ACME, Q4_OTHER], False, (LINK, 1, (1,), "one")),
    # the first and last day of the period belong to it
    (deal(day=date(2026, 10, 1)), [Q4_ACME, Q1_ACME], False, (LINK, 1, (1,), "one")),
    (deal(day=date(2026, 12, 31)), [Q4_ACME, Q1_ACME], False, (LINK, 1, (1,), "one")),
    (deal(day=date(2027, 1, 1)), [Q4_ACME, Q1_ACME], False, (LINK, 3, (3,), "one")),
    # two plans hold the date (Q4 and December): a person decides between them
    (deal(day=date(2026, 12, 20)), [Q4_ACME, DEC_ACME, Q1_ACME], False, (WAIT, 0, (1, 2), "several")),
    # none holds the date: a person decides among all the client's active plans
    (deal(day=date(2027, 5, 1)), [Q4_ACME, Q1_ACME], False, (WAIT, 0, (1, 3), "none-for-day")),
    (deal(day=None), [Q4_ACME], False, (WAIT, 0, (1,), "none-for-day")),
    # a plan that is not active (Cumplido / No cumplido) is no candidate
    (deal(), [CLOSED_Q4], False, (SKIP, 0, (), "no-plan")),
    (deal(), [CLOSED_Q4, Q4_ACME], False, (LINK, 1, (1,), "one")),
    # another client's plan is no candidate
    (deal(company=OTHER), [Q4_ACME], False, (SKIP, 0, (), "no-plan")),
    # a company + contact deal: plans of either are candidates
    (deal(contact=ANA), [Q4_ACME, Q4_ANA], False, (WAIT, 0, (1, 4), "several")),
    (deal(company=0, contact=ANA), [Q4_ACME, Q4_ANA], False, (LINK, 4, (4,), "one")),
    (deal(company=OTHER, contact=ANA), [Q4_ACME, Q4_ANA], False, (LINK, 4, (4,), "one")),
    # left alone: linked already, a person decided, lost, no client, won outside every period
    (deal(plan=9), [Q4_ACME], False, (SKIP, 0, (), "linked")),
    (deal(), [Q4_ACME], True, (SKIP, 0, (), "decided")),
    (deal(semantics="F"), [Q4_ACME], False, (SKIP, 0, (), "lost")),
    (deal(company=0), [Q4_ACME], False, (SKIP, 0, (), "no-client")),
    (deal(semantics="S", day=date(2027, 5, 1)), [Q4_ACME, Q1_ACME], False, (SKIP, 0, (), "won-outside")),
    # a won deal in one period is linked like an open one
    (deal(semantics="S"), [Q4_ACME, Q1_ACME], False, (LINK, 1, (1,), "one")),
])
def test_the_rule(facts, plans, decided, expected):
    got = autolink.decide(facts, plans, decided)
    assert (got.action, got.plan_id, got.candidates, got.reason) == expected


def test_a_won_deal_is_dated_by_its_win_in_the_portals_zone_not_by_its_close_date():
    # won at 2026-12-31 23:30 in a UTC-6 portal (2027-01-01 05:30 UTC); close date typed as 2027-02-10
    row = {"id": "7", "companyId": str(ACME), "stageSemanticId": "S", "movedTime": "2027-01-01T05:30:00+00:00",
           "closedate": "2027-02-10T00:00:00+00:00", "parentId1030": None}
    facts = autolink.deal_facts(row, "parentId1030", "-06:00")
    assert facts.day == date(2026, 12, 31)
    assert autolink.decide(facts, [Q4_ACME, Q1_ACME]).plan_id == Q4_ACME.id
    # read in UTC the win is on 1 January: the rule would pick the wrong quarter
    assert autolink.deal_facts(row, "parentId1030", "+00:00").day == date(2027, 1, 1)


def test_an_open_deal_is_dated_by_its_close_date_as_the_portal_writes_dates():
    row = {"id": "8", "companyId": ACME, "stageSemanticId": "P", "closedate": "2026-12-30T18:00:00-06:00",
           "parentId1030": 0}
    facts = autolink.deal_facts(row, "parentId1030", "-06:00")
    assert facts.day == date(2026, 12, 31) and facts.plan_id == 0


def test_plan_rows_are_active_by_their_stage():
    row = {"id": 3, "companyId": ACME, "begindate": "2026-10-01T00:00:00+00:00",
           "closedate": "2026-12-31T00:00:00+00:00", "stageId": "DT1030_5:NEW", "currencyId": "USD"}
    assert autolink.plan_period(row, ["DT1030_5:NEW"]).active
    assert not autolink.plan_period(row, ["DT1030_5:PREPARATION"]).active


@pytest.mark.parametrize(("facts", "plans", "expected"), [
    # issue 16 item 5: a deal closing 30 Dec 2026 pre-selects the Q4 plan, not the newest (Q1 2027)
    (deal(day=date(2026, 12, 30)), [Q1_ACME, Q4_ACME], (1, "")),
    # two for the day: the one in the deal's currency, with a warning
    (deal(day=date(2026, 12, 30), currency="EUR"), [Q1_ACME, Q4_ACME, DEC_ACME], (2, "several")),
    (deal(day=date(2026, 12, 30), currency="MXN"), [Q1_ACME, Q4_ACME, DEC_ACME], (1, "several")),
    # none for the day: the nearest period, with a warning
    (deal(day=date(2027, 4, 2)), [Q4_ACME, Q1_ACME], (3, "outside")),
    (deal(day=date(2026, 9, 28)), [Q1_ACME, Q4_ACME], (1, "outside")),
    (deal(), [], (0, "")),
])
def test_the_deal_tab_preselects_by_the_rule(facts, plans, expected):
    got = autolink.preselect(facts, plans)
    assert (got.plan_id, got.warning) == expected
    assert got.outside == frozenset(p.id for p in plans if not p.contains(facts.day))
