"""The forecast math (b24app/forecast.py, ARCHITECTURE.md §3), as tables of cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from b24app import forecast, planmath
from b24app.forecast import ForecastSettings
from b24app.planmath import Deal, Plan, Rates

RATES = Rates.from_rest([
    {"CURRENCY": "USD", "AMOUNT_CNT": "1", "AMOUNT": "1.0000", "BASE": "Y", "DECIMALS": "2"},
    {"CURRENCY": "EUR", "AMOUNT_CNT": "1", "AMOUNT": "1.1000", "BASE": "N", "DECIMALS": "2"},
])
BEGIN, CLOSE = date(2026, 1, 1), date(2026, 1, 30)  # 30 days
MID = date(2026, 1, 15)  # 15 of 30 days: 50 % elapsed


def plan(amount="10000", close=CLOSE, **kw):
    return Plan(id=7, amount=D(amount), currency=kw.pop("currency", "USD"), probability=None, begin=BEGIN,
                close=close, **kw)


def deal(id, amount, stage="P", probability=None, currency="USD", plan_id=7):
    return Deal(id=id, amount=D(amount), currency=currency, stage_semantic=stage, plan_id=plan_id,
                probability=None if probability is None else D(probability))


def run(the_plan, deals, today=MID, settings=None, grace_days=0):
    figures = planmath.compute(the_plan, deals, RATES, today, grace_days=grace_days)
    return figures, forecast.compute(the_plan, figures, deals, RATES, today, settings, grace_days=grace_days)


ISSUE_DEALS = [deal(1, "2000", "S"), deal(2, "5000", probability="50"), deal(3, "4000", probability="25")]


def test_the_issue_example_is_at_risk_at_mid_period():
    figures, fc = run(plan(), ISSUE_DEALS)
    assert (fc.open_pipeline, fc.weighted_open, fc.expected) == (D(9000), D(3500), D(5500))
    assert fc.coverage == D(110) and fc.elapsed == D(50) and fc.pace == D("0.4")
    assert fc.at_risk and fc.uncovered == D(0) and figures.status == "P"


def test_winning_both_open_deals_fulfils_the_plan_and_clears_the_flag():
    won = [deal(1, "2000", "S"), deal(2, "5000", "S", "50"), deal(3, "4000", "S", "25")]
    figures, fc = run(plan(), won)
    assert figures.status == "S" and not fc.at_risk and fc.expected == D(11000) and fc.open_pipeline == 0


@pytest.mark.parametrize(("case", "deals", "today", "settings", "expected", "at_risk"), [
    ("before the minimum elapsed share nothing is judged", ISSUE_DEALS, date(2026, 1, 7), None, "5500", False),
    ("just past the minimum share (8 of 30 days) it is judged", ISSUE_DEALS, date(2026, 1, 8),
     ForecastSettings(min_elapsed=D(25)), "5500", True),
    ("a forecast within the margin, on pace", [deal(1, "5000", "S"), deal(2, "5000", probability="90")], MID,
     None, "9500", False),
    ("a forecast just past the margin", [deal(1, "5000", "S"), deal(2, "3999", probability="100")], MID,
     None, "8999", True),
    ("a full forecast but behind pace", [deal(1, "1000", "S"), deal(2, "9000", probability="100")], MID,
     None, "10000", True),
    ("a full forecast, pace within its margin", [deal(1, "4000", "S"), deal(2, "6000", probability="100")], MID,
     None, "10000", False),
    ("a wider margin accepts the issue's plan", ISSUE_DEALS, MID,
     ForecastSettings(margin=D(50), pace_margin=D(70)), "5500", False),
    ("a deal without probability gets the default (0)", [deal(1, "2000", "S"), deal(2, "8000")], MID, None,
     "2000", True),
    ("a deal without probability gets a configured default", [deal(1, "5000", "S"), deal(2, "5000")], MID,
     ForecastSettings(default_probability=D(100)), "10000", False),
    ("a probability outside 0–100 is clamped", [deal(1, "5000", "S"), deal(2, "5000", probability="150")],
     MID, None, "10000", False),
    ("lost deals and other plans' deals add nothing", [deal(1, "9000", "S"), deal(2, "5000", "F", "90"),
                                                       deal(3, "5000", probability="90", plan_id=8)],
     MID, None, "9000", False),
    ("an open EUR deal at today's rate", [deal(1, "5000", "S"), deal(2, "4000", probability="100",
                                                                      currency="EUR")],
     MID, None, "9400", False),
])
def test_forecast_cases(case, deals, today, settings, expected, at_risk):
    _, fc = run(plan(), deals, today, settings)
    assert (fc.expected, fc.at_risk) == (D(expected), at_risk), case


def test_after_the_period_open_deals_no_longer_count_and_an_ended_plan_is_not_at_risk():
    figures, fc = run(plan(), ISSUE_DEALS, today=date(2026, 2, 2))
    assert figures.status == "F" and fc.expected == D(2000) and fc.open_pipeline == 0 and not fc.at_risk
    _, graced = run(plan(), ISSUE_DEALS, today=date(2026, 2, 2), grace_days=5)
    assert graced.expected == D(5500)  # a win during the grace days still counts


def test_elapsed_share_counts_whole_days_both_ends_included():
    assert forecast.elapsed_share(plan(), date(2025, 12, 31)) == 0
    assert forecast.elapsed_share(plan(), BEGIN) == D(1) / D(30) * 100
    assert forecast.elapsed_share(plan(), CLOSE) == 100
    assert forecast.elapsed_share(plan(), date(2026, 3, 1)) == 100
    assert forecast.elapsed_share(plan(close=None), MID) is None


def test_a_plan_without_amount_or_period_is_never_at_risk():
    _, fc = run(plan(amount="0"), ISSUE_DEALS)
    assert not fc.at_risk and fc.coverage == 0
    _, fc = run(plan(close=None), ISSUE_DEALS)
    assert not fc.at_risk and fc.pace is None


def test_uncovered_is_the_remainder_the_open_pipeline_leaves():
    _, fc = run(plan(), [deal(1, "2000", "S"), deal(2, "3000", probability="50")])
    assert fc.uncovered == D(5000)


def test_fields_round_to_the_currency_and_write_the_flag_as_y_or_n():
    _, fc = run(plan(), [deal(1, "2000", "S"), deal(2, "1000.555", probability="50")])
    names = {"FORECAST": "ufCrm5Forecast", "RISK": "ufCrm5Risk"}
    assert forecast.to_fields(fc, names, 2) == {"ufCrm5Forecast": D("2500.28"), "ufCrm5Risk": "Y"}
    assert forecast.to_fields(fc, {}, 2) == {}


def test_settings_from_the_config_are_clamped_percentages():
    got = ForecastSettings.from_config({"RISK_MARGIN": 5, "RISK_PACE_MARGIN": "150", "RISK_MIN_ELAPSED": None,
                                        "FORECAST_DEFAULT_PROBABILITY": 30})
    assert got == ForecastSettings(margin=D(5), pace_margin=D(100), min_elapsed=D(25),
                                   default_probability=D(30))


def test_deal_probability_is_read_from_crm_item_rows():
    row = {"id": 1, "opportunity": 10, "currencyId": "USD", "stageSemanticId": "P", "parentId1030": 7}
    assert Deal.from_item({**row, "probability": 40}, 1030).probability == D(40)
    assert Deal.from_item({**row, "probability": None}, 1030).probability is None
    assert Deal.from_item(row, 1030).probability is None


@pytest.mark.parametrize(("value", "yes"), [("Y", True), ("N", False), ("1", True), (0, False), (None, False),
                                            ("", False), (True, True)])
def test_is_yes(value, yes):
    assert forecast.is_yes(value) is yes
