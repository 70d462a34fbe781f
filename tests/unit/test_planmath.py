"""The plan math, as tables of cases (ARCHITECTURE.md §3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from b24app.planmath import (
    Deal,
    Plan,
    PlanFigures,
    Rates,
    RatesError,
    UnknownCurrency,
    changed_fields,
    closed_by_hand,
    compute,
    rounded,
    to_fields,
)

# The portal's currency list as crm.currency.list returns it: strings, base USD, IDR quoted per 10,000.
CURRENCY_ROWS = [
    {"CURRENCY": "USD", "AMOUNT_CNT": "1", "AMOUNT": "1.0000", "BASE": "Y", "DECIMALS": "2"},
    {"CURRENCY": "EUR", "AMOUNT_CNT": "1", "AMOUNT": "1.1000", "BASE": "N", "DECIMALS": "2"},
    {"CURRENCY": "IDR", "AMOUNT_CNT": "10000", "AMOUNT": "0.6500", "BASE": "N", "DECIMALS": "0"},
    {"CURRENCY": "JPY", "AMOUNT_CNT": "100", "AMOUNT": "0.6700", "BASE": "N", "DECIMALS": "0"},
]
RATES = Rates.from_rest(CURRENCY_ROWS)
TODAY = date(2026, 6, 15)


def plan(amount="10000", currency="USD", probability="60", close=date(2026, 12, 31), **kw):
    return Plan(id=kw.pop("id", 42), amount=D(amount), currency=currency,
                probability=None if probability is None else D(probability),
                begin=date(2026, 1, 1), close=close, **kw)


def deal(id, amount, currency="USD", stage="S", plan_id=42):
    return Deal(id=id, amount=D(amount), currency=currency, stage_semantic=stage, plan_id=plan_id)


@pytest.mark.parametrize(
    ("case", "the_plan", "deals", "won", "remainder", "execution", "probable", "status"),
    [
        ("nothing won", plan(), [deal(1, "3000", stage="P"), deal(2, "2000", "EUR", "F")],
         "0", "10000", "0", "6000", "P"),
        ("the USD deal won", plan(), [deal(1, "3000"), deal(2, "2000", "EUR", "P")],
         "3000", "7000", "30", "6000", "P"),
        ("EUR converted at the portal rate", plan(), [deal(1, "3000"), deal(2, "2000", "EUR")],
         "5200", "4800", "52", "6000", "P"),
        ("exactly fulfilled", plan(), [deal(1, "6000"), deal(2, "4000")],
         "10000", "0", "100", "6000", "S"),
        ("over-fulfilled", plan(), [deal(1, "9000"), deal(2, "2000", "EUR")],
         "11200", "0", "112", "6000", "S"),
        ("one cent short", plan(), [deal(1, "9999.99")],
         "9999.99", "0.01", "99.9999", "6000", "P"),
        ("a won deal un-won moves the plan back", plan(stage_semantic="S"), [deal(1, "10000", stage="P")],
         "0", "10000", "0", "6000", "P"),
        ("period over, not fulfilled", plan(close=date(2026, 6, 14)), [deal(1, "3000")],
         "3000", "7000", "30", "6000", "F"),
        ("last day of the period is still active", plan(close=TODAY), [deal(1, "3000")],
         "3000", "7000", "30", "6000", "P"),
        ("period over but fulfilled", plan(close=date(2026, 1, 31)), [deal(1, "10000")],
         "10000", "0", "100", "6000", "S"),
        ("cancelled by hand", plan(cancelled=True), [deal(1, "3000")],
         "3000", "7000", "30", "6000", "F"),
        ("cancelled but then fulfilled", plan(cancelled=True), [deal(1, "10000")],
         "10000", "0", "100", "6000", "S"),
        ("zero probability", plan(probability="0"), [], "0", "10000", "0", "0", "P"),
        ("missing probability", plan(probability=None), [], "0", "10000", "0", "0", "P"),
        ("deals of other plans are ignored", plan(), [deal(1, "3000"), deal(2, "5000", plan_id=43),
                                                      deal(3, "5000", plan_id=None)],
         "3000", "7000", "30", "6000", "P"),
        ("zero amount never crashes nor succeeds", plan(amount="0"), [deal(1, "500")],
         "500", "0", "0", "0", "P"),
        ("IDR deal (AMOUNT_CNT 10000) into a USD plan", plan(), [deal(1, "20000000", "IDR")],
         "1300", "8700", "13", "6000", "P"),
        ("USD deal into an EUR plan", plan(currency="EUR", amount="1000"), [deal(1, "550")],
         "500", "500", "50", "600", "P"),
        ("JPY deal into an IDR plan, cross rate through the base", plan(currency="IDR", amount="1000000"),
         [deal(1, "1000", "JPY")], "103076.9230769230769230769231", "896923.0769230769230769230769",
         "10.30769230769230769230769231", "600000", "P"),
        ("a deal without currency counts in the base currency", plan(currency="EUR", amount="1100"),
         [deal(1, "1100", "")], "1000", "100", "90.90909090909090909090909091", "660", "P"),
    ],
)
def test_compute(case, the_plan, deals, won, remainder, execution, probable, status):
    figures = compute(the_plan, deals, RATES, TODAY)
    assert figures.won == D(won), case
    assert figures.remainder == D(remainder), case
    assert figures.execution == D(execution), case
    assert figures.probable == D(probable), case
    assert figures.status == status, case


@pytest.mark.parametrize(
    ("figures", "decimals", "expected"),
    [
        # ROUND_HALF_UP, money to the currency's decimals, execution always to 2
        (PlanFigures(D("0.005"), D("1.004999"), D("33.3333333"), D("2.675"), "P"), 2,
         PlanFigures(D("0.01"), D("1.00"), D("33.33"), D("2.68"), "P")),
        (PlanFigures(D("103076.923"), D("896923.5"), D("10.305"), D("600000"), "P"), 0,
         PlanFigures(D("103077"), D("896924"), D("10.31"), D("600000"), "P")),
        (PlanFigures(D("1.0005"), D("0"), D("99.995"), D("0"), "S"), 3,
         PlanFigures(D("1.001"), D("0.000"), D("100.00"), D("0.000"), "S")),
    ],
)
def test_rounded(figures, decimals, expected):
    assert rounded(figures, decimals) == expected


FIELD_MAP = {"PROBABILITY": "ufCrm7Probability", "EXECUTED": "ufCrm7Executed", "REMAINDER": "ufCrm7Remainder",
             "EXECUTION": "ufCrm7Execution", "PROBABLE": "ufCrm7Probable"}
STAGE_MAP = {"P": "DT1030_5:NEW", "S": "DT1030_5:SUCCESS", "F": "DT1030_5:FAIL"}


def test_to_fields_names_rounds_and_moves_the_stage():
    figures = compute(plan(probability="33.333"), [deal(1, "3333.335")], RATES, TODAY)
    assert to_fields(figures, FIELD_MAP, 2, STAGE_MAP) == {
        "ufCrm7Executed": D("3333.34"), "ufCrm7Remainder": D("6666.67"), "ufCrm7Execution": D("33.33"),
        "ufCrm7Probable": D("3333.30"), "stageId": "DT1030_5:NEW",
    }
    fulfilled = compute(plan(), [deal(1, "10000")], RATES, TODAY)
    assert to_fields(fulfilled, FIELD_MAP, 2, STAGE_MAP)["stageId"] == "DT1030_5:SUCCESS"
    assert "stageId" not in to_fields(fulfilled, FIELD_MAP, 2)


def test_changed_fields_compares_at_the_written_precision():
    wanted = {"ufCrm7Executed": D("3000.00"), "ufCrm7Execution": D("30.00"), "stageId": "DT1030_5:NEW",
              "ufCrm7Probable": D("6000.00"), "ufCrm7Remainder": D("7000.00")}
    portal = {"ufCrm7Executed": 3000, "ufCrm7Execution": 29.999999, "stageId": "DT1030_5:NEW",
              "ufCrm7Probable": "6000.5", "ufCrm7Remainder": None}
    assert changed_fields(portal, wanted) == {"ufCrm7Probable": D("6000.00"), "ufCrm7Remainder": D("7000.00")}
    same = {**portal, "ufCrm7Probable": 6000.0, "ufCrm7Remainder": 7000}
    assert changed_fields(same, wanted) == {}
    assert changed_fields({**same, "stageId": "DT1030_5:SUCCESS"}, wanted) == {"stageId": "DT1030_5:NEW"}


def test_rates_convert_both_ways_through_the_base():
    assert RATES.base == "USD"
    assert RATES.convert(D("2000"), "EUR", "USD") == D("2200")
    assert RATES.convert(D("2200"), "USD", "EUR") == D("2000")
    assert RATES.convert(D("1"), "USD", "IDR") == D("1") * D("10000") / D("0.65")
    assert RATES.convert(D("7"), "eur", "EUR") == D("7")
    assert RATES.decimals("IDR") == 0


def test_rates_explicit_base_wins_and_errors_name_the_problem():
    assert Rates.from_rest(CURRENCY_ROWS, base="EUR").base == "EUR"
    with pytest.raises(UnknownCurrency, match="'GBP'"):
        RATES.convert(D("1"), "GBP", "USD")
    with pytest.raises(UnknownCurrency):
        compute(plan(currency="GBP"), [deal(1, "1")], RATES, TODAY)
    with pytest.raises(RatesError, match="no base currency"):
        Rates.from_rest([{"CURRENCY": "EUR", "AMOUNT": "1.1", "AMOUNT_CNT": "1", "BASE": "N"}])
    with pytest.raises(RatesError, match="EUR AMOUNT: 'abc' is not a number"):
        Rates.from_rest([*CURRENCY_ROWS[:1], {"CURRENCY": "EUR", "AMOUNT": "abc", "AMOUNT_CNT": "1"}])
    with pytest.raises(RatesError, match="greater than 0"):
        Rates.from_rest([*CURRENCY_ROWS[:1], {"CURRENCY": "EUR", "AMOUNT": "0", "AMOUNT_CNT": "1"}])
    with pytest.raises(RatesError, match="row 1 has no CURRENCY"):
        Rates.from_rest([CURRENCY_ROWS[0], {"AMOUNT": "1"}])


def test_rows_from_crm_item_list():
    d = Deal.from_item({"id": 7, "opportunity": 2000.5, "currencyId": "EUR", "stageSemanticId": "S",
                        "parentId1030": 42}, 1030)
    assert d == Deal(7, D("2000.5"), "EUR", "S", 42)
    assert Deal.from_item({"id": "8", "opportunity": None, "parentId1030": 0}, 1030).plan_id is None
    item = {"id": 42, "opportunity": 10000, "currencyId": "USD", "ufCrm7Probability": "60",
            "begindate": "2026-01-01T03:00:00+03:00", "closedate": "2026-03-31T03:00:00+03:00",
            "stageId": "DT1030_5:FAIL"}
    p = Plan.from_item(item, FIELD_MAP, STAGE_MAP, today=date(2026, 2, 1))
    assert (p.amount, p.probability, p.begin, p.close) == (D("10000"), D("60"), date(2026, 1, 1), date(2026, 3, 31))
    assert p.stage_semantic == "F" and p.cancelled  # failed before its period ended: closed by a person
    after_end = Plan.from_item(item, FIELD_MAP, STAGE_MAP, today=date(2026, 4, 1))
    assert not after_end.cancelled and not closed_by_hand(after_end, date(2026, 4, 1))
    assert Plan.from_item({**item, "ufCrm7Probability": None}, FIELD_MAP, STAGE_MAP).probability is None


def test_the_plan_math_stays_pure_and_typed():
    import ast
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    import b24app.money as money
    import b24app.planmath as module
    import b24app.schema as schema

    pure = {"b24app.planmath", "b24app.schema", "b24app.money"}  # the pure core: each may import only the others
    for path in (module.__file__, schema.__file__, money.__file__):
        imported = set()
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        roots = {name.split(".")[0] for name in imported - pure}
        assert not roots & {"flask", "requests", "sqlite3", "sqlite_utils", "b24app", "sync", "handlers",
                            "placements"}, (path, imported)
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                             "--no-error-summary", module.__file__, schema.__file__, money.__file__],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
