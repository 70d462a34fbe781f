"""The plan form's validation: every bad value gets its own message; nothing is accepted half-way."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from placements.plan_form import Client, FormContext, parse_decimal, period_for, validate

TODAY = date(2026, 11, 27)
CTX = FormContext(currencies=frozenset({"EUR", "USD"}), users=frozenset({1, 2}),
                  deal_clients={11: Client("company", 5), 12: Client("company", 6), 13: None})
GOOD = {"client": "CO_5", "period": "custom", "begindate": "2026-11-01", "closedate": "2026-11-30",
        "amount": "12500.50", "currency": "EUR", "probability": "60", "assigned_by_id": "2"}


def run(deals=(), **changes):
    raw = {**GOOD, **changes}
    return validate(raw, list(deals), CTX, TODAY)


def test_a_good_plan_is_accepted():
    data, errors = run(deals=["11"])
    assert errors == []
    assert data.client == Client("company", 5)
    assert (data.begindate, data.closedate) == (date(2026, 11, 1), date(2026, 11, 30))
    assert data.amount == Decimal("12500.50") and data.probability == Decimal(60)
    assert data.deal_ids == (11,) and data.currency == "EUR" and data.assigned_by_id == 2


@pytest.mark.parametrize("changes, deals, field, code", [
    ({"amount": "0"}, [], "amount", "amount_not_positive"),
    ({"amount": "-5"}, [], "amount", "amount_not_positive"),
    ({"amount": "abc"}, [], "amount", "amount_not_number"),
    ({"amount": ""}, [], "amount", "amount_required"),
    ({"amount": "  "}, [], "amount", "amount_required"),
    ({"amount": "99999999999999999999"}, [], "amount", "amount_too_large"),
    ({"amount": "NaN"}, [], "amount", "amount_not_number"),
    ({"amount": "1.234"}, [], "amount", "amount_too_precise"),
    ({"probability": "101"}, [], "probability", "probability_range"),
    ({"probability": "-1"}, [], "probability", "probability_range"),
    ({"probability": "mucho"}, [], "probability", "probability_not_number"),
    ({"probability": ""}, [], "probability", "probability_required"),
    ({"closedate": "2026-10-31"}, [], "closedate", "end_before_start"),
    ({"begindate": "31/12/2026"}, [], "begindate", "date_invalid"),
    ({"client": ""}, [], "client", "client_missing"),
    ({"client": "XX_5"}, [], "client", "client_missing"),
    ({"currency": "BTC"}, [], "currency", "currency_unknown"),
    ({"currency": ""}, [], "currency", "currency_unknown"),
    ({"assigned_by_id": "99"}, [], "assigned_by_id", "responsible_unknown"),
    ({"period": "decade"}, [], "period", "period_unknown"),
    ({}, ["12"], "deals", "deal_other_client"),
    ({}, ["13"], "deals", "deal_other_client"),
    ({}, ["404"], "deals", "deal_not_found"),
    ({}, ["x1"], "deals", "deal_invalid"),
])
def test_each_bad_value_is_named(changes, deals, field, code):
    data, errors = run(deals=deals, **changes)
    assert data is None
    assert (field, code) in [(e.field, e.code) for e in errors]


def test_all_problems_are_reported_at_once():
    data, errors = run(deals=["12"], amount="-1", probability="150", closedate="2026-01-01", currency="XYZ")
    assert data is None
    assert {e.code for e in errors} == {"amount_not_positive", "probability_range", "end_before_start",
                                        "currency_unknown", "deal_other_client"}


def test_presets_compute_the_period_from_the_start_date():
    data, _ = run(period="quarter", begindate="2026-08-15", closedate="")
    assert (data.begindate, data.closedate) == (date(2026, 7, 1), date(2026, 9, 30))
    data, _ = run(period="month", begindate="", closedate="")
    assert (data.begindate, data.closedate) == (date(2026, 11, 1), date(2026, 11, 30))
    assert period_for("year", date(2024, 2, 29)) == (date(2024, 1, 1), date(2024, 12, 31))
    assert period_for("month", date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))


def test_unknown_client_is_refused_when_the_portal_cannot_show_it():
    ctx = FormContext(currencies=frozenset({"EUR"}), known_clients=frozenset({Client("company", 6)}))
    _, errors = validate({**GOOD, "assigned_by_id": "1"}, [], ctx, TODAY)
    assert [e.code for e in errors] == ["client_not_found"]


@pytest.mark.parametrize("text, value", [
    ("1234.5", Decimal("1234.5")), ("1 234,50", Decimal("1234.50")), ("1.234,50", Decimal("1234.50")),
    ("1,234.50", Decimal("1234.50")), ("1.234.567", Decimal("1234567")), ("12,5", Decimal("12.5")),
    ("1,234,567", Decimal("1234567")), ("", None), ("12a", None), ("inf", None),
])
def test_numbers_as_people_type_them(text, value):
    assert parse_decimal(text) == value


def test_messages_are_in_the_users_language(app):
    from flask import g

    from placements.messages import errors_by_field

    _, errors = run(amount="0", probability="120", closedate="2026-10-01", deals=["12"])
    with app.test_request_context():
        g.ui_locale = "es"
        spanish = errors_by_field(errors)
    assert spanish["amount"] == ["El importe debe ser mayor que cero."]
    assert spanish["probability"] == ["La probabilidad debe estar entre 0 y 100."]
    assert spanish["closedate"] == ["La fecha de fin no puede ser anterior a la fecha de inicio."]
    assert spanish["deals"] == ["La negociación 12 pertenece a otro cliente."]
    with app.test_request_context():
        g.ui_locale = "ru"
        assert errors_by_field(errors)["amount"] == ["Сумма должна быть больше нуля."]
    with app.test_request_context():
        g.ui_locale = "en"
        assert errors_by_field(errors)["amount"] == ["The amount must be greater than zero."]


def test_a_contact_plan_matches_deals_by_contact_and_keeps_linked_deals_of_other_clients():
    ctx = FormContext(currencies=frozenset({"EUR"}), users=frozenset({2}),
                      deal_clients={21: frozenset({Client("company", 5), Client("contact", 7)}),
                                    22: frozenset({Client("company", 9)}), 23: frozenset({Client("company", 9)})},
                      linked=frozenset({22}))
    data, errors = validate({**GOOD, "client": "C_7"}, ["21", "22"], ctx, TODAY)
    assert errors == [] and data.deal_ids == (21, 22)  # 21 by its contact; 22 was linked already
    _, errors = validate({**GOOD, "client": "C_7"}, ["23"], ctx, TODAY)
    assert [e.code for e in errors] == ["deal_other_client"]  # a new link must be the client's
