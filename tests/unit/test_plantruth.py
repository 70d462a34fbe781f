"""The plan math over time, as tables of cases: status on the figures shown, out-of-range input, the counting
window and the rate a deal was won at (ARCHITECTURE.md §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from b24app.planmath import (
    AMOUNT_NOT_POSITIVE,
    DATES_REVERSED,
    NO_CURRENCY,
    PROBABILITY_OUT_OF_RANGE,
    Deal,
    Plan,
    RateHistory,
    Rates,
    compute,
    rounded,
)

ROWS = [
    {"CURRENCY": "USD", "AMOUNT_CNT": "1", "AMOUNT": "1.0000", "BASE": "Y", "DECIMALS": "2"},
    {"CURRENCY": "EUR", "AMOUNT_CNT": "1", "AMOUNT": "1.0912", "BASE": "N", "DECIMALS": "2"},
    {"CURRENCY": "CLP", "AMOUNT_CNT": "1", "AMOUNT": "0.0010", "BASE": "N", "DECIMALS": "0"},
    {"CURRENCY": "KWD", "AMOUNT_CNT": "1", "AMOUNT": "3.2500", "BASE": "N", "DECIMALS": "3"},
]
RATES = Rates.from_rest(ROWS)
TODAY = date(2026, 6, 15)
MADRID = timezone(timedelta(hours=1))


def plan(amount="10000", currency="USD", probability="60", begin=date(2026, 1, 1), close=date(2026, 12, 31), **kw):
    return Plan(id=42, amount=D(amount), currency=currency, probability=None if probability is None else D(probability),
                begin=begin, close=close, **kw)


def won(id, amount, currency="USD", at=datetime(2026, 3, 1, 12, tzinfo=MADRID)):
    return Deal(id=id, amount=D(amount), currency=currency, stage_semantic="S", plan_id=42, won_at=at)


@pytest.mark.parametrize(
    ("case", "the_plan", "deals", "status", "shown_won"),
    [
        ("9,999.996864 converts to the 10,000.00 shown: Cumplido", plan(), [won(1, "9164.22", "EUR")], "S", "10000.00"),
        ("one cent short shown is still short", plan(), [won(1, "9999.99")], "P", "9999.99"),
        ("CLP has no decimals: 999,999.6 shows 1,000,000", plan("1000000", "CLP"), [won(1, "999999.6", "CLP")],
         "S", "1000000"),
        ("CLP: 999,999.4 shows 999,999", plan("1000000", "CLP"), [won(1, "999999.4", "CLP")], "P", "999999"),
        ("KWD keeps three decimals: 0.0004 short is fulfilled", plan("100.000", "KWD"), [won(1, "99.9996", "KWD")],
         "S", "100.000"),
        ("KWD: 0.001 short is not", plan("100.000", "KWD"), [won(1, "99.999", "KWD")], "P", "99.999"),
    ],
)
def test_status_is_judged_on_the_figures_shown(case, the_plan, deals, status, shown_won):
    figures = compute(the_plan, deals, RATES, TODAY)
    decimals = RATES.decimals(the_plan.currency)
    assert figures.status == status, case
    assert str(rounded(figures, decimals).won) == shown_won, case


@pytest.mark.parametrize(
    ("case", "the_plan", "probable", "flags", "status"),
    [
        ("probability -20 is flagged, not used as -20", plan(probability="-20"), "0", {PROBABILITY_OUT_OF_RANGE}, "S"),
        ("probability 150 is flagged, counted as 100 at most", plan(probability="150"), "10000",
         {PROBABILITY_OUT_OF_RANGE}, "S"),
        ("0 and 100 are fine", plan(probability="100"), "10000", set(), "S"),
        ("a plan without currency is flagged and never fulfilled", plan(currency=""), "6000", {NO_CURRENCY}, "P"),
        ("an amount of 0 is flagged and never fulfilled", plan(amount="0"), "0", {AMOUNT_NOT_POSITIVE}, "P"),
        ("a negative amount is flagged and never fulfilled", plan(amount="-500"), "-300", {AMOUNT_NOT_POSITIVE},
         "P"),
        ("a period that ends before it starts is flagged, counts nothing and is over", plan(
            begin=date(2026, 12, 31), close=date(2026, 1, 1)), "6000", {DATES_REVERSED}, "F"),
    ],
)
def test_out_of_range_input_is_flagged(case, the_plan, probable, flags, status):
    figures = compute(the_plan, [won(1, "10000")], RATES, TODAY)
    assert figures.probable == D(probable), case
    assert figures.flags == frozenset(flags), case
    assert figures.status == status, case


@pytest.mark.parametrize(
    ("case", "at", "grace", "counted"),
    [
        ("won inside the period", datetime(2026, 3, 1, 12, tzinfo=MADRID), 0, True),
        ("won on the first day", datetime(2026, 1, 1, 0, 0, tzinfo=MADRID), 0, True),
        ("won on the last day, late evening portal time", datetime(2026, 3, 31, 23, 59, tzinfo=MADRID), 0, True),
        ("won the day after the end", datetime(2026, 4, 1, 0, 1, tzinfo=MADRID), 0, False),
        ("won before the period began", datetime(2025, 12, 31, 23, 0, tzinfo=MADRID), 0, False),
        ("won within a grace of 5 days", datetime(2026, 4, 5, 10, tzinfo=MADRID), 5, True),
        ("won after the grace", datetime(2026, 4, 6, 10, tzinfo=MADRID), 5, False),
        ("no moment known: counted", None, 0, True),
    ],
)
def test_a_won_deal_counts_within_the_period_plus_grace(case, at, grace, counted):
    quarter = plan(close=date(2026, 3, 31))
    figures = compute(quarter, [won(1, "4000", at=at)], RATES, TODAY, grace_days=grace)
    assert (figures.won == D(4000)) is counted, case
    assert (figures.outside == ()) is counted, case
    assert figures.outside == () or figures.outside == (1,)


def test_the_day_of_a_win_is_the_portal_s_day():
    late = datetime(2026, 4, 1, 3, 30, tzinfo=UTC)  # 31 March 21:30 in UTC-6
    quarter = plan(close=date(2026, 3, 31))
    assert compute(quarter, [won(1, "1", at=late)], RATES, TODAY, tz=timezone(timedelta(hours=-6))).won == D(1)
    assert compute(quarter, [won(1, "1", at=late)], RATES, TODAY, tz=UTC).outside == (1,)


def test_each_deal_converts_at_the_rates_in_force_when_it_was_won():
    january = Rates.from_rest([ROWS[0], {**ROWS[1], "AMOUNT": "1.0900"}])
    june = Rates.from_rest([ROWS[0], {**ROWS[1], "AMOUNT": "1.0800"}])
    history = RateHistory.of([(datetime(2026, 6, 1, 9, tzinfo=UTC), june),
                              (datetime(2026, 1, 1, 0, tzinfo=UTC), january)])
    usd = plan(begin=date(2025, 1, 1), close=date(2026, 12, 31))
    in_january = won(1, "9200", "EUR", at=datetime(2026, 1, 20, 10, tzinfo=MADRID))
    figures = compute(usd, [in_january], june, TODAY, history=history)
    assert figures.won == D("10028.00") and figures.status == "S"  # 9,200 at 1.09, not at today's 1.08
    assert figures.counted[0].rate == D("1.09") and figures.counted[0].rate_since == datetime(2026, 1, 1, tzinfo=UTC)
    in_june = won(2, "1000", "EUR", at=datetime(2026, 6, 1, 10, 0, 0, tzinfo=UTC))
    assert compute(usd, [in_june], june, TODAY, history=history).won == D("1080.00")
    same_second = won(3, "1000", "EUR", at=datetime(2026, 6, 1, 9, 0, 0, tzinfo=UTC))
    assert compute(usd, [same_second], june, TODAY, history=history).won == D("1080.00")
    before_any = won(4, "1000", "EUR", at=datetime(2025, 6, 1, tzinfo=UTC))
    assert compute(usd, [before_any], june, TODAY, history=history).won == D("1090.00")  # the oldest set known


def test_a_currency_missing_from_an_old_set_uses_the_current_rates():
    old = Rates.from_rest([ROWS[0]])
    history = RateHistory.of([(datetime(2026, 1, 1, tzinfo=UTC), old)])
    figures = compute(plan(), [won(1, "1000", "EUR")], RATES, TODAY, history=history)
    assert figures.won == D("1091.2000") and figures.counted[0].rate_since is None


@pytest.mark.parametrize(
    ("case", "stage", "close", "grace", "today", "history"),
    [
        ("fulfilled, period over: history", "S", date(2026, 3, 31), 0, date(2026, 4, 1), True),
        ("not fulfilled, period over: history", "F", date(2026, 3, 31), 0, date(2026, 4, 1), True),
        ("still in its grace days: followed", "S", date(2026, 3, 31), 5, date(2026, 4, 5), False),
        ("after the grace: history", "F", date(2026, 3, 31), 5, date(2026, 4, 6), True),
        ("the last day is not over", "S", date(2026, 3, 31), 0, date(2026, 3, 31), False),
        ("Activo after its end is closed by the period-end job, not history yet", "P", date(2026, 3, 31), 0,
         date(2026, 4, 1), False),
        ("no end date: never history", "S", None, 0, date(2030, 1, 1), False),
    ],
)
def test_a_closed_period_is_history(case, stage, close, grace, today, history):
    from b24app.planmath import is_history

    assert is_history(plan(close=close, stage_semantic=stage), today, grace) is history, case
