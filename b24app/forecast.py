"""Where a plan is heading (ARCHITECTURE.md §3): weighted open pipeline, expected finish, coverage, pace and
"at risk".

Pure: no Flask, requests or SQLite; money is ``Decimal``, nothing rounded until ``to_fields``.

- **open pipeline** = Σ over the plan's linked deals still in progress (stage semantics P) of the amount,
  converted at **today's** rates (an open deal has no moment of win yet);
- **weighted open** = Σ of the same amounts × the deal's own ``probability`` / 100 (clamped to 0–100). Bitrix24
  has no per-stage default probability in REST (``crm.status`` rows carry no probability), so a deal whose
  probability is empty gets ``ForecastSettings.default_probability`` (``B24_FORECAST_DEFAULT_PROBABILITY``,
  default 0: a deal nobody weighted adds nothing to the forecast, though it counts in the coverage);
- **expected finish** (the forecast) = won + weighted open;
- **coverage** % = (won + open pipeline) ÷ plan amount × 100;
- **pace** = execution % ÷ elapsed % of the period (1 = on pace), elapsed counted in whole days, both ends
  included;
- **at risk**: an Activo plan with an amount and a period, once at least ``min_elapsed`` % of the period has
  elapsed, whose expected finish is below the plan by more than ``margin`` % of the amount, or whose pace is
  below 1 by more than ``pace_margin`` % (``B24_RISK_MARGIN``, ``B24_RISK_PACE_MARGIN``,
  ``B24_RISK_MIN_ELAPSED``). A fulfilled or ended plan is never at risk.

Open deals count only while a win could still count (today within the counting window): after the period
(plus grace) the forecast is the won amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from b24app.money import ZERO, Rates, quantize
from b24app.planmath import ACTIVE, HUNDRED, Deal, Plan, PlanFigures, counting_window
from b24app.schema import FORECAST_SUFFIX, RISK_SUFFIX

YES = "Y"
NO = "N"


@dataclass(frozen=True)
class ForecastSettings:
    """The thresholds of "at risk", in percent (ARCHITECTURE.md §3, README settings)."""

    margin: Decimal = Decimal(10)  # expected finish below the plan by more than this % of the amount
    pace_margin: Decimal = Decimal(20)  # pace below 1 by more than this %
    min_elapsed: Decimal = Decimal(25)  # judge only after this % of the period has elapsed
    default_probability: Decimal = ZERO  # a deal without probability

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> ForecastSettings:
        def pct(key: str, default: Decimal) -> Decimal:
            value = config.get(key)
            return default if value in (None, "") else min(max(Decimal(str(value)), ZERO), HUNDRED)

        return cls(margin=pct("RISK_MARGIN", cls.margin), pace_margin=pct("RISK_PACE_MARGIN", cls.pace_margin),
                   min_elapsed=pct("RISK_MIN_ELAPSED", cls.min_elapsed),
                   default_probability=pct("FORECAST_DEFAULT_PROBABILITY", cls.default_probability))


@dataclass(frozen=True)
class Forecast:
    open_pipeline: Decimal  # plan currency, unweighted
    weighted_open: Decimal
    expected: Decimal  # won + weighted open
    coverage: Decimal  # percent
    elapsed: Decimal | None  # percent of the period elapsed; None without a period
    pace: Decimal | None  # execution % ÷ elapsed %; None before the period or without one
    at_risk: bool
    uncovered: Decimal  # the remainder the open pipeline does not cover: max(amount - won - open, 0)


def elapsed_share(plan: Plan, today: date) -> Decimal | None:
    """Percent of the period's days elapsed by the end of ``today`` (0 before it starts, 100 after it ends)."""
    return elapsed_percent(plan.begin, plan.close, today)


def elapsed_percent(begin: date | None, close: date | None, today: date) -> Decimal | None:
    """Percent of the days ``begin``..``close`` (both included) elapsed by the end of ``today``."""
    if begin is None or close is None or close < begin:
        return None
    total = (close - begin).days + 1
    done = min(max((today - begin).days + 1, 0), total)
    return Decimal(done) / Decimal(total) * HUNDRED


def coverage_and_pace(amount: Decimal, won: Decimal, execution: Decimal, open_pipeline: Decimal | None,
                      begin: date | None, close: date | None,
                      today: date) -> tuple[Decimal | None, Decimal | None]:
    """The coverage % ((won + open pipeline) ÷ amount) and the pace (execution % ÷ elapsed %) of stored
    figures, as ``compute`` defines them; None where they are undefined (no pipeline read yet, amount 0, the
    period not begun)."""
    coverage = (won + open_pipeline) / amount * HUNDRED if open_pipeline is not None and amount > 0 else None
    elapsed = elapsed_percent(begin, close, today)
    pace = execution / elapsed if elapsed else None
    return coverage, pace


def deal_probability(deal: Deal, settings: ForecastSettings) -> Decimal:
    """The deal's probability clamped to 0–100; the default where it has none."""
    if deal.probability is None:
        return settings.default_probability
    return min(max(deal.probability, ZERO), HUNDRED)


def compute(plan: Plan, figures: PlanFigures, deals: Iterable[Deal], rates: Rates, today: date,
            settings: ForecastSettings | None = None, *, grace_days: int = 0) -> Forecast:
    """The plan's forecast from its figures (``planmath.compute``) and its linked deals."""
    settings = settings or ForecastSettings()
    currency = plan.currency or rates.base
    end = counting_window(plan, grace_days)[1]
    still_open = end is None or today <= end
    pipeline = weighted = ZERO
    for deal in deals:
        if deal.plan_id != plan.id or deal.stage_semantic != ACTIVE or not still_open:
            continue
        value = rates.convert(deal.amount, deal.currency or rates.base, currency)
        pipeline += value
        weighted += value * deal_probability(deal, settings) / HUNDRED
    amount = plan.amount
    expected = figures.won + weighted
    coverage = (figures.won + pipeline) / amount * HUNDRED if amount > 0 else ZERO
    elapsed = elapsed_share(plan, today)
    pace = figures.execution / elapsed if elapsed else None
    at_risk = False
    if figures.status == ACTIVE and amount > 0 and elapsed is not None and elapsed >= settings.min_elapsed:
        short = expected < amount * (HUNDRED - settings.margin) / HUNDRED
        slow = pace is not None and pace < (HUNDRED - settings.pace_margin) / HUNDRED
        at_risk = short or slow
    uncovered = max(amount - figures.won - pipeline, ZERO)
    return Forecast(open_pipeline=pipeline, weighted_open=weighted, expected=expected, coverage=coverage,
                    elapsed=elapsed, pace=pace, at_risk=at_risk, uncovered=uncovered)


def to_fields(forecast: Forecast, field_map: Mapping[str, str], decimals: int = 2) -> dict[str, Decimal | str]:
    """The forecast's user fields for crm.item.update: the expected finish (a double in the plan currency, like
    the other figures) and the risk flag (boolean, ``Y`` / ``N``)."""
    fields: dict[str, Decimal | str] = {}
    if field_map.get(FORECAST_SUFFIX):
        fields[field_map[FORECAST_SUFFIX]] = quantize(forecast.expected, decimals)
    if field_map.get(RISK_SUFFIX):
        fields[field_map[RISK_SUFFIX]] = YES if forecast.at_risk else NO
    return fields


def is_yes(value: object) -> bool:
    """A boolean user field as the portal returns it (``Y``/``N``, ``1``/``0``, true/false)."""
    return str(value).strip().upper() in {"Y", "1", "TRUE"} if value not in (None, "") else False
