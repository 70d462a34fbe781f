"""b24app/series.py: the next calendar period, the successor's amount from the closed figures, validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from b24app import series

d = date.fromisoformat


@pytest.mark.parametrize(("recurrence", "begin", "end", "want"), [
    ("MONTHLY", "2026-01-01", "2026-01-31", ("2026-02-01", "2026-02-28")),
    ("MONTHLY", "2028-01-01", "2028-01-31", ("2028-02-01", "2028-02-29")),  # leap year
    ("MONTHLY", "2026-12-01", "2026-12-31", ("2027-01-01", "2027-01-31")),  # over the year's end
    ("QUARTERLY", "2026-01-01", "2026-03-31", ("2026-04-01", "2026-06-30")),
    ("QUARTERLY", "2026-10-01", "2026-12-31", ("2027-01-01", "2027-03-31")),
    ("YEARLY", "2026-01-01", "2026-12-31", ("2027-01-01", "2027-12-31")),
    # a one-off plan: the unit its dates make up, else the same number of days again
    ("NONE", "2026-04-01", "2026-06-30", ("2026-07-01", "2026-09-30")),
    ("NONE", "2026-01-10", "2026-01-19", ("2026-01-20", "2026-01-29")),
])
def test_next_period(recurrence: str, begin: str, end: str, want: tuple[str, str]) -> None:
    assert series.next_period(recurrence, d(begin), d(end)) == (d(want[0]), d(want[1]))


@pytest.mark.parametrize(("recurrence", "begin", "end", "ok"), [
    ("MONTHLY", "2026-03-01", "2026-03-31", True),
    ("MONTHLY", "2026-03-01", "2026-04-09", False),   # 40 days
    ("MONTHLY", "2026-03-02", "2026-04-01", False),   # a month long but not a calendar month
    ("QUARTERLY", "2026-02-01", "2026-04-30", False),
    ("QUARTERLY", "2026-04-01", "2026-06-30", True),
    ("YEARLY", "2026-01-01", "2026-12-31", True),
    ("NONE", "2026-01-05", "2026-02-11", True),
])
def test_recurrence_must_match_a_calendar_period(recurrence: str, begin: str, end: str, ok: bool) -> None:
    assert series.matches(recurrence, d(begin), d(end)) is ok


@pytest.mark.parametrize(("policy", "won", "growth", "cap", "carried_in", "total"), [
    ("NONE", "1000", "0", None, "0", "4000.00"),
    ("SHORTFALL", "1000", "0", None, "0", "7000.00"),
    ("SHORTFALL", "1000", "5", None, "0", "7200.00"),     # growth on the own amount, carry-over after it
    ("SHORTFALL", "1000", "0", "500", "0", "4500.00"),    # the cap limits the carry-over
    ("SURPLUS", "5000", "0", None, "0", "3000.00"),
    ("SURPLUS", "1000", "0", None, "0", "4000.00"),       # a shortfall is not carried under SURPLUS
    ("BOTH", "5000", "0", "200", "0", "3800.00"),
    ("BOTH", "9000", "0", None, "0", "0.00"),             # never below zero
    ("SHORTFALL", "4000", "0", None, "3000", "7000.00"),  # 7,000 asked (3,000 carried in), 4,000 won: 4,000 + 3,000
    ("NONE", "0", "-100", None, "0", "0.00"),
])
def test_successor_amount(policy: str, won: str, growth: str, cap: str | None, carried_in: str,
                          total: str) -> None:
    amount = D("4000") + D(carried_in)
    result = series.successor_amount(amount, D(won), growth=D(growth), policy=policy,
                                     cap=D(cap) if cap else None, carried_in=D(carried_in))
    assert result.total == D(total)
    assert str(result.total) == total


def test_the_sum_is_checkable() -> None:
    carry = series.successor_amount(D("4000"), D("1000"), growth=D("5"), policy="SHORTFALL")
    assert (carry.own, carry.grown, carry.carry_raw, carry.carry) == (D("4000"), D("4200.00"), D("3000.00"),
                                                                      D("3000.00"))
    assert carry.grown + carry.carry == carry.total


@pytest.mark.parametrize(("options", "begin", "end", "want"), [
    (series.SeriesOptions(growth=D("1000")), None, None, []),
    (series.SeriesOptions(growth=D("1000.01")), None, None, [series.GROWTH_RANGE]),
    (series.SeriesOptions(growth=D("-100.5")), None, None, [series.GROWTH_RANGE]),
    (series.SeriesOptions(cap=D("-3")), None, None, [series.CAP_NEGATIVE]),
    (series.SeriesOptions(recurrence="MONTHLY"), "2026-03-01", "2026-04-09", [series.RECURRENCE_PERIOD]),
    (series.SeriesOptions(carried=D("10")), None, None, [series.CARRY_WITHOUT_PREDECESSOR]),
    (series.SeriesOptions(carried=D("10"), predecessor=5), None, None, []),
    (series.SeriesOptions(recurrence="WEEKLY"), None, None, [series.RECURRENCE_UNKNOWN]),
])
def test_problems(options: series.SeriesOptions, begin: str | None, end: str | None, want: list[str]) -> None:
    assert series.problems(options, d(begin) if begin else None, d(end) if end else None) == want


def test_read_options_maps_list_ids_back_and_never_raises() -> None:
    enums = {"RECURRENCE": {"NONE": 1, "MONTHLY": 2}, "CARRYOVER": {"NONE": 5, "SHORTFALL": 6}}
    options, found = series.read_options({"recurrence": 2, "carryover": "6", "growth": 5.0, "cap": None,
                                          "predecessor": 12}, enums)
    assert (options.recurrence, options.policy, options.growth, options.predecessor) == ("MONTHLY", "SHORTFALL",
                                                                                         D("5.0"), 12)
    assert found == []
    options, found = series.read_options({"recurrence": 99, "growth": "lots"}, enums)
    assert found == [series.RECURRENCE_UNKNOWN, series.NOT_A_NUMBER]
    assert not options.recurring


@pytest.mark.parametrize(("begin", "end", "name"), [
    ("2026-02-01", "2026-02-28", "2026-02"), ("2026-04-01", "2026-06-30", "2026-Q2"),
    ("2027-01-01", "2027-12-31", "2027"), ("2026-01-10", "2026-01-19", "2026-01-10..2026-01-19"),
])
def test_period_name(begin: str, end: str, name: str) -> None:
    assert series.period_name("NONE", d(begin), d(end)) == name


def test_empty_fields_take_the_settings_defaults() -> None:
    defaults = series.defaults_of({"SERIES_GROWTH": 5.0, "SERIES_CARRYOVER": "SHORTFALL", "SERIES_CAP": 100.0,
                                   "SERIES_RECURRENCE": "MONTHLY"})
    options, _ = series.read_options({"recurrence": None, "growth": None, "carryover": "", "cap": None}, {}, defaults)
    assert (options.recurrence, options.growth, options.policy, options.cap) == ("NONE", D("5.0"), "SHORTFALL",
                                                                                 D("100.0"))
    options, _ = series.read_options({"growth": 0, "cap": 0}, {}, defaults)
    assert (options.growth, options.cap) == (D("0"), D("0"))  # a 0 typed is a value, not "empty"


def test_the_readme_worked_example() -> None:
    april = series.successor_amount(D("4000"), D("1000"), growth=D("5"), policy="SHORTFALL")
    assert (april.total, april.carry) == (D("7200.00"), D("3000.00"))
    may = series.successor_amount(april.total, D("4000"), growth=D("5"), policy="SHORTFALL", carried_in=april.carry)
    assert may.total == D("7610.00")  # not 10,610: March's 3,000 is counted once, inside April's shortfall
    assert series.successor_amount(D("4000"), D("1000"), policy="SHORTFALL", cap=D("500")).total == D("4500.00")
