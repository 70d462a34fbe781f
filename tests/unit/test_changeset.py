"""The change set (b24app/changeset.py): entries matched to plans by client and period, create / change /
unchanged, and every resolution problem (unknown or ambiguous client, unknown responsible or currency,
overlapping period, duplicate row); the recurrence goes through one function and is reported when the portal
lacks the field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from b24app.changeset import Directory, ExistingPlan, Person, Target, plan_changes, recurrence_fields, recurrence_of
from b24app.sheet import ClientRef, Entry, PersonRef

TARGET = Target(1030, 7, "DT1030_7:NEW", {"PROBABILITY": "ufCrm5Probability"})
JAN = (date(2027, 1, 1), date(2027, 1, 31))
FEB = (date(2027, 2, 1), date(2027, 2, 28))
Q1 = (date(2027, 1, 1), date(2027, 3, 31))


def entry(client, span=JAN, amount="100", row=2, **attrs):
    ref = ClientRef(*client) if isinstance(client, tuple) else ClientRef(name=client)
    return Entry("", row, f"B{row}", ref, span[0], span[1], Decimal(amount), **attrs)


def directory(plans=()):
    return Directory(clients={("company", 1): "Acme", ("company", 2): "Beta", ("contact", 3): "Beta",
                              ("contact", 4): "Ana López"},
                     people=[Person(5, "Ana López", "ana@example.com"), Person(6, "Juan", "j@example.com"),
                             Person(7, "Juan", "j2@example.com")],
                     currencies={"EUR": 2, "USD": 2, "JPY": 0}, base_currency="EUR", plans=list(plans))


def plan(pid=10, client=("company", 1), span=JAN, amount="100", currency="EUR", **more):
    return ExistingPlan(pid, client, span[0], span[1], Decimal(amount), currency, **more)


def texts(changes):
    return [p.text() for p in changes.problems]


def test_create_change_and_unchanged():
    got = plan_changes([entry(("company", 1)), entry(("company", 1), FEB, "250.004"),
                        entry("ana lópez", JAN, "9", responsible=PersonRef(email="ana@example.com"),
                              probability=Decimal(60))],
                       directory([plan(), plan(11, span=FEB, amount="200")]), TARGET)
    assert got.ok, texts(got)
    assert [(c.action, c.plan_id) for c in got.changes] == [("unchanged", 10), ("change", 11), ("create", None)]
    change, create = got.changes[1], got.changes[2]
    assert change.fields == {"opportunity": 250.0, "isManualOpportunity": "Y", "categoryId": 7}
    assert change.diff == [("amount", "200", "250")]
    assert create.fields == {"title": "Ana López · 2027-01", "companyId": 0, "contactId": 4,
                             "begindate": "2027-01-01", "closedate": "2027-01-31", "opportunity": 9.0,
                             "currencyId": "EUR", "isManualOpportunity": "Y", "assignedById": 5,
                             "ufCrm5Probability": 60.0, "categoryId": 7, "stageId": "DT1030_7:NEW"}
    assert [c.key for c in got.to_write] == ["p0", "p1"]
    method, params = create.command(TARGET)
    assert method == "crm.item.add" and params["entityTypeId"] == 1030


def test_an_empty_attribute_keeps_the_plans_own():
    got = plan_changes([entry(("company", 1))], directory([plan(currency="USD", responsible=6)]), TARGET)
    assert [c.action for c in got.changes] == ["unchanged"]
    got = plan_changes([entry(("company", 1), currency="EUR")], directory([plan(currency="USD")]), TARGET)
    assert got.changes[0].fields["currencyId"] == "EUR"


def test_resolution_problems():
    entries = [entry("Nadie", row=2), entry("beta", row=3), entry(("company", 99), row=4),
               entry(("company", 1), row=5, responsible=PersonRef(name="Juan")),
               entry(("company", 1), row=6, responsible=PersonRef(id=99)),
               entry(("company", 1), row=7, currency="XXX")]
    got = plan_changes(entries, directory(), TARGET)
    assert texts(got) == [
        "row 2: unknown client Nadie",
        "row 3: 2 clients are named beta (company:2, contact:3): write the one you mean as company:ID or contact:ID",
        "row 4: unknown client company:99",
        "row 5: 2 employees are named Juan: write the responsible's id or e-mail",
        "row 6: unknown responsible 99",
        "row 7: the portal has no currency XXX"]
    assert not got.ok and got.changes == []


def test_duplicates_and_overlaps_in_the_file_and_against_the_portal():
    entries = [entry(("company", 1), JAN, row=2), entry(("company", 1), JAN, row=3),
               entry(("company", 1), Q1, row=4), entry(("company", 2), FEB, row=5)]
    got = plan_changes(entries, directory([plan(20, ("company", 2), Q1)]), TARGET)
    assert texts(got) == [
        "cell B3: the same client and period as B2: one plan per client and period",
        "cell B4: the period overlaps the one of B2 for the same client",
        "cell B5: the period overlaps plan #20 (2027-01-01 – 2027-03-31) of the same client"]
    twice = plan_changes([entry(("company", 1))], directory([plan(1), plan(2)]), TARGET)
    assert texts(twice) == ["cell B2: the portal already has 2 plans of this client for this period (#1, #2)"]


def test_amounts_are_compared_at_the_currency_decimals():
    got = plan_changes([entry(("company", 1), amount="100.004")], directory([plan()]), TARGET)
    assert got.changes[0].action == "unchanged"
    got = plan_changes([entry(("company", 1), amount="100.4", currency="JPY")], directory([plan(currency="JPY")]),
                       TARGET)
    assert got.changes[0].action == "unchanged"


def test_recurrence_goes_through_one_function():
    fm = {"RECURRENCE": "ufCrm5Recurrence"}
    enums = {"RECURRENCE": {"NONE": 40, "MONTHLY": 41, "QUARTERLY": 42, "YEARLY": 43}}
    assert recurrence_fields(None, {}) == {}
    assert recurrence_fields("MONTHLY", {}) is None
    assert recurrence_fields("MONTHLY", fm) is None  # a field without its items: the id is unknown
    # an enumeration is written by the portal's item id, not by the XML id
    assert recurrence_fields("MONTHLY", fm, enums) == {"ufCrm5Recurrence": 41}
    assert recurrence_of({"ufCrm5Recurrence": 43}, fm, enums) == "YEARLY"
    assert recurrence_of({"ufCrm5Recurrence": "42"}, fm, enums) == "QUARTERLY"
    assert recurrence_of({"ufCrm5Recurrence": 99}, fm, enums) is None
    missing = plan_changes([entry(("company", 1), recurrence="YEARLY")], directory(), TARGET)
    assert missing.ok and missing.changes[0].notes == ["recurrence not applied (field missing)"]
    assert "ufCrm5Recurrence" not in missing.changes[0].fields
    target = Target(1030, 7, None, fm, enums=enums)
    present = plan_changes([entry(("company", 1), recurrence="YEARLY")], directory([plan()]), target)
    assert present.changes[0].fields == {"ufCrm5Recurrence": 43, "categoryId": 7}
    again = plan_changes([entry(("company", 1), recurrence="YEARLY")], directory([plan(recurrence="YEARLY")]), target)
    assert again.changes[0].action == "unchanged"
