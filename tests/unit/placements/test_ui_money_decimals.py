"""Money in the frames at the portal's DECIMALS: shown with them, typed with them, kept on edit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from placements.i18n import money
from placements.plan_edit import plain
from placements.plan_form import FormContext, validate

GOOD = {"client": "CO_5", "period": "custom", "begindate": "2026-11-01", "closedate": "2026-11-30",
        "amount": "120.125", "currency": "KWD", "probability": "60", "assigned_by_id": "2"}
CTX = FormContext(currencies=frozenset({"KWD", "CLP", "USD"}), decimals={"KWD": 3, "CLP": 0, "USD": 2})


def test_money_uses_the_portal_decimals_not_the_locale_library_s():
    assert money(Decimal("1234.5"), "KWD", "en", decimals=3) == "KWD1,234.500"
    assert money(Decimal("1234.5"), "USD", "en", decimals=0) == "$1,235"
    assert money(Decimal("1234.5"), "USD", "en") == "$1,234.50"  # unknown: the locale's digits


def test_a_three_decimal_currency_keeps_three_decimals_in_the_form():
    data, errors = validate(GOOD, [], CTX, date(2026, 11, 27))
    assert errors == [] and data.amount == Decimal("120.125")
    assert plain(Decimal("120.125")) == "120.125" and plain(Decimal("5000.00")) == "5000"
    _, errors = validate({**GOOD, "amount": "120.1255"}, [], CTX, date(2026, 11, 27))
    assert [(e.code, e.params) for e in errors] == [("amount_too_precise", {"decimals": "3"})]
    _, errors = validate({**GOOD, "currency": "CLP", "amount": "1000.5"}, [], CTX, date(2026, 11, 27))
    assert [e.code for e in errors] == ["amount_too_precise"]
