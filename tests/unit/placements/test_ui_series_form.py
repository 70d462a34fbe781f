"""The plan form's series fields: each bad value gets its own message in every language; good ones pass."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from placements.messages import _TEXTS
from placements.plan_form import CODE_OF, Client, FormContext, validate

TODAY = date(2026, 11, 27)
CTX = FormContext(currencies=frozenset({"USD"}), users=frozenset({2}), series=True)
GOOD = {"client": "CO_5", "period": "custom", "begindate": "2026-11-01", "closedate": "2026-11-30",
        "amount": "4000", "currency": "USD", "probability": "60", "assigned_by_id": "2",
        "recurrence": "MONTHLY", "growth": "5", "carryover": "SHORTFALL", "cap": "", "carried": "", "predecessor": ""}


def run(ctx: FormContext = CTX, **changes: str):
    return validate({**GOOD, **changes}, [], ctx, TODAY)


def test_good_series_options_are_accepted():
    data, errors = run(carried="3000", predecessor="12", cap="500")
    assert errors == [] and data is not None and data.client == Client("company", 5)
    assert data.series is not None
    assert (data.series.recurrence, data.series.growth, data.series.policy, data.series.cap, data.series.carried,
            data.series.predecessor) == ("MONTHLY", Decimal(5), "SHORTFALL", Decimal(500), Decimal(3000), 12)


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"growth": "1000.01"}, "growth", "growth_range"),
    ({"growth": "-100,5"}, "growth", "growth_range"),
    ({"growth": "mucho"}, "growth", "series_not_number"),
    ({"cap": "-3"}, "cap", "cap_negative"),
    ({"closedate": "2026-12-10"}, "recurrence", "recurrence_period"),  # a "monthly" plan of 40 days
    ({"recurrence": "QUARTERLY"}, "recurrence", "recurrence_period"),
    ({"recurrence": "WEEKLY"}, "recurrence", "recurrence_unknown"),
    ({"carryover": "ALL"}, "carryover", "carryover_unknown"),
    ({"carried": "250"}, "carried", "carry_no_predecessor"),
])
def test_bad_series_values_are_refused(changes, field, code):
    data, errors = run(**changes)
    assert data is None
    assert [(e.field, e.code) for e in errors] == [(field, code)]


def test_edge_values_pass():
    for growth in ("-100", "1000", "0"):
        assert run(growth=growth)[1] == []
    assert run(cap="0")[1] == []
    assert run(recurrence="NONE", closedate="2026-12-10")[1] == []


def test_a_portal_without_the_series_fields_ignores_them():
    data, errors = run(replace(CTX, series=False), growth="5000")
    assert errors == [] and data is not None and data.series is None


def test_every_series_code_has_a_message():
    assert set(CODE_OF.values()) | {"series_not_number"} <= set(_TEXTS)
