"""The plan math (ARCHITECTURE.md §3): won, remainder, execution %, probable amount and status of a plan.

Pure: no Flask, requests or SQLite. All money is ``Decimal``; nothing is rounded until ``rounded`` /
``to_fields`` prepares the write-back — except the status, which is judged on the figures people see.

What counts: a linked deal whose stage has success semantics, won (its ``movedTime``) within the plan's
period plus ``grace_days`` after its end, converted to the plan currency at the rates in force when it was
won (``b24app.money.RateHistory``). A won deal outside that window is listed in ``outside``, never counted.

Status rules, in this order:

1. **Cumplido (S)** when the plan has an amount (> 0), a currency, and the won amount *as shown* (rounded
   to the currency's decimals) is at least the amount as shown. Fulfilment wins over everything: a plan
   closed by hand or whose period ended still becomes S once its deals fill it. A plan with amount 0 is
   never fulfilled automatically (a blank plan must not jump to success).
2. **No cumplido (F)** when the plan was cancelled by hand (``Plan.cancelled``: a person moved it to the
   failure stage before its period ended — see ``closed_by_hand``), or when the period is over
   (``today > close``).
3. **Activo (P)** otherwise. A deal that stops being won moves a fulfilled plan back to P (or F when the
   period is over), because the status is recomputed from the current deals every time.

Out-of-range input from the native card is flagged (``PlanFigures.flags``), never used as if valid: a
probability outside 0–100 is clamped for the probable amount; a plan without a currency is computed in the
base currency but never judged fulfilled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from b24app.money import ZERO as ZERO
from b24app.money import Rate as Rate
from b24app.money import RateHistory as RateHistory
from b24app.money import Rates as Rates
from b24app.money import RatesError as RatesError
from b24app.money import UnknownCurrency as UnknownCurrency
from b24app.money import quantize as quantize
from b24app.money import to_decimal as to_decimal
from b24app.schema import FIGURE_SUFFIXES, PROBABILITY_SUFFIX, parent_field

ACTIVE = "P"
FULFILLED = "S"
NOT_FULFILLED = "F"
SEMANTICS = (ACTIVE, FULFILLED, NOT_FULFILLED)

HUNDRED = Decimal(100)

PROBABILITY_OUT_OF_RANGE = "probability_out_of_range"  # flags of a plan's input (PlanFigures.flags)
NO_CURRENCY = "no_currency"
AMOUNT_NOT_POSITIVE = "amount_not_positive"  # an amount of 0 or less typed in the card: never Cumplido
DATES_REVERSED = "dates_reversed"  # a period that ends before it starts: no won deal can count


@dataclass(frozen=True)
class Deal:
    id: int
    amount: Decimal
    currency: str
    stage_semantic: str  # P in progress, S won, F lost
    plan_id: int | None
    won_at: datetime | None = None  # when a won deal entered its success stage (movedTime)
    probability: Decimal | None = None  # the deal's own probability (0–100), None when empty

    @property
    def is_won(self) -> bool:
        return self.stage_semantic == FULFILLED

    @classmethod
    def from_item(cls, item: Mapping[str, Any], plans_entity_type_id: int) -> Deal:
        """A deal from crm.item.list (entityTypeId 2, camelCase; api-reference/crm/universal/crm-item-list.md).

        A won deal's ``movedTime`` is the moment of its last stage move, i.e. the win (ARCHITECTURE.md F12).
        """
        parent = item.get(parent_field(plans_entity_type_id))
        semantic = str(item.get("stageSemanticId") or ACTIVE)
        return cls(
            id=int(item["id"]),
            amount=to_decimal(item.get("opportunity"), f"deal {item.get('id')} opportunity"),
            currency=str(item.get("currencyId") or ""),
            stage_semantic=semantic,
            plan_id=int(parent) if parent not in (None, "", 0, "0") else None,
            won_at=parse_moment(item.get("movedTime")) if semantic == FULFILLED else None,
            probability=_probability(item.get("probability")),
        )


def _probability(value: Any) -> Decimal | None:
    """A deal's ``probability`` as crm.item gives it (an integer, maybe null or empty); None when absent."""
    if value in (None, ""):
        return None
    try:
        return to_decimal(value, "probability")
    except ValueError:
        return None


@dataclass(frozen=True)
class Plan:
    id: int
    amount: Decimal
    currency: str
    probability: Decimal | None
    begin: date | None
    close: date | None
    stage_semantic: str = ACTIVE  # the plan's current stage semantics
    cancelled: bool = False

    @classmethod
    def from_item(cls, item: Mapping[str, Any], field_map: Mapping[str, str],
                  stage_map: Mapping[str, str], today: date | None = None,
                  semantics: Mapping[str, str] | None = None) -> Plan:
        """A plan from crm.item.list of the plans smart process (camelCase names, ``field_map`` suffix -> name).

        With ``today`` given, ``cancelled`` is derived by ``closed_by_hand``. ``semantics`` gives the
        semantics of stages the app does not own (an admin's "Cancelado", a second in-progress stage).
        """
        semantics_of = {stage: sem for sem, stage in stage_map.items()}
        semantics_of.update(semantics or {})  # every stage of the pipeline, as the portal says (stage id -> P/S/F)
        probability_field = field_map.get(PROBABILITY_SUFFIX, "")
        raw_probability = item.get(probability_field) if probability_field else None
        plan = cls(
            id=int(item["id"]),
            amount=to_decimal(item.get("opportunity"), f"plan {item.get('id')} opportunity"),
            currency=str(item.get("currencyId") or ""),
            probability=None if raw_probability in (None, "") else to_decimal(raw_probability, "probability"),
            begin=parse_date(item.get("begindate")),
            close=parse_date(item.get("closedate")),
            stage_semantic=semantics_of.get(str(item.get("stageId") or ""), ACTIVE),
        )
        if today is not None:
            plan = replace(plan, cancelled=closed_by_hand(plan, today))
        return plan


def parse_date(value: Any) -> date | None:
    """``2024-08-30`` or ``2024-08-30T02:00:00+02:00`` -> the calendar date.

    Date fields come back as midnight UTC written in the portal's offset (the docs' samples:
    ``2024-08-30T02:00:00+02:00``), so a value with a time and an offset is read in UTC: a UTC-6 portal's
    ``2024-08-29T18:00:00-06:00`` is 30 August.
    """
    if not value:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) > 10:
        moment = parse_moment(text)
        if moment is not None and len(text) > 19:
            return moment.astimezone(UTC).date()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_moment(value: Any) -> datetime | None:
    """``2026-01-10T12:30:00+01:00`` -> an aware datetime (a naive one is taken as UTC); None if malformed."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value or "").strip())
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def portal_zone(offset: str) -> tzinfo:
    """``-06:00`` / ``+01:00`` / ``Z`` (the offset of ``server.time``) as a tzinfo; UTC when unknown."""
    text = (offset or "").strip()
    if text in ("", "Z", "z"):
        return UTC
    try:
        zone = datetime.fromisoformat(f"2000-01-01T00:00:00{text}").tzinfo
    except ValueError:
        return UTC
    return zone or UTC


def offset_of(moment: str) -> str:
    """The offset part of a ``server.time`` answer: ``2024-08-05T09:02:13+00:00`` -> ``+00:00``."""
    parsed = parse_moment(moment)
    if parsed is None or parsed.utcoffset() is None:
        return ""
    minutes = int(parsed.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def closed_by_hand(plan: Plan, today: date) -> bool:
    """A plan in the failure stage whose period has not ended was closed (cancelled) by a person.

    The app itself only moves a plan to F after its period, so F before the end is a human decision and
    stays until the plan is fulfilled or someone moves it back to Activo.
    """
    return plan.stage_semantic == NOT_FULFILLED and (plan.close is None or today <= plan.close)


@dataclass(frozen=True)
class Counted:
    """One deal that counts toward a plan, and the rate it was counted at."""

    deal_id: int
    amount: Decimal  # in the plan currency, unrounded
    rate: Decimal  # plan-currency units for one unit of the deal's currency
    currency: str  # the deal's currency
    rate_since: datetime | None  # when the set of rates used was recorded; None: the current rates
    won_on: date | None


@dataclass(frozen=True)
class PlanFigures:
    won: Decimal
    remainder: Decimal
    execution: Decimal  # percent, may exceed 100
    probable: Decimal
    status: str  # P, S or F
    flags: frozenset[str] = frozenset()  # PROBABILITY_OUT_OF_RANGE, NO_CURRENCY, AMOUNT_NOT_POSITIVE, DATES_REVERSED
    counted: tuple[Counted, ...] = field(default=(), compare=False)
    outside: tuple[int, ...] = field(default=(), compare=False)  # won deals outside the counting window

    @property
    def fulfilled(self) -> bool:
        return self.status == FULFILLED


def counting_window(plan: Plan, grace_days: int = 0) -> tuple[date | None, date | None]:
    """The days a won deal counts toward the plan: its period, plus ``grace_days`` after the end."""
    end = plan.close + timedelta(days=max(grace_days, 0)) if plan.close is not None else None
    return plan.begin, end


def is_history(plan: Plan, today: date, grace_days: int = 0) -> bool:
    """A plan whose period (plus grace) is over and whose status is final (S or F) is history: its figures
    and status stay as they were at the close; nothing recomputes them. A person reopens it with a new end."""
    end = counting_window(plan, grace_days)[1]
    return plan.stage_semantic in (FULFILLED, NOT_FULFILLED) and end is not None and today > end


def won_on(deal: Deal, tz: tzinfo | None = None) -> date | None:
    """The calendar day the deal was won, in ``tz`` (default: the offset the portal wrote it in)."""
    if deal.won_at is None:
        return None
    return (deal.won_at.astimezone(tz) if tz is not None else deal.won_at).date()


def in_window(plan: Plan, deal: Deal, grace_days: int = 0, tz: tzinfo | None = None) -> bool:
    """Whether a won deal was won within the plan's counting window (an unknown moment counts)."""
    day = won_on(deal, tz)
    begin, end = counting_window(plan, grace_days)
    return day is None or ((begin is None or day >= begin) and (end is None or day <= end))


def value_flags(probability: Decimal | None, currency: str, amount: Decimal | None = None,
                begin: date | None = None, close: date | None = None) -> frozenset[str]:
    """What is wrong with a plan's input from the native card: a probability outside 0–100, no currency, an amount
    of 0 or less, a period that ends before it starts."""
    flags = set()
    if probability is not None and not ZERO <= probability <= HUNDRED:
        flags.add(PROBABILITY_OUT_OF_RANGE)
    if not currency.strip():
        flags.add(NO_CURRENCY)
    if amount is not None and amount <= ZERO:
        flags.add(AMOUNT_NOT_POSITIVE)
    if begin is not None and close is not None and close < begin:
        flags.add(DATES_REVERSED)
    return frozenset(flags)


def input_flags(plan: Plan) -> frozenset[str]:
    return value_flags(plan.probability, plan.currency, plan.amount, plan.begin, plan.close)


def _rates_for(deal: Deal, currency: str, rates: Rates,
               history: RateHistory | None) -> tuple[datetime | None, Rates]:
    """The set of rates in force when the deal was won; the current one when the history lacks a currency."""
    entry = history.at(deal.won_at) if history is not None else None
    if entry is not None:
        since, old = entry
        if {(deal.currency or old.base).upper(), currency.upper()} <= set(old.rates):
            return since, old
    return None, rates


def compute(plan: Plan, deals: Iterable[Deal], rates: Rates, today: date, *, grace_days: int = 0,
            history: RateHistory | None = None, tz: tzinfo | None = None) -> PlanFigures:
    """The plan's figures from its deals (ARCHITECTURE.md §3). Deals linked to other plans are ignored.

    ``rates`` are the current rates (the plan currency's decimals, deals won before any recorded set);
    ``history`` the recorded sets. A deal without a currency counts in the base currency (what the portal
    gives such objects). Raises UnknownCurrency when a won deal or the plan uses a currency the portal
    does not list.
    """
    flags = input_flags(plan)
    plan_currency = plan.currency or rates.base
    decimals = rates.decimals(plan_currency)
    won = ZERO
    counted: list[Counted] = []
    outside: list[int] = []
    for deal in deals:
        if deal.plan_id != plan.id or not deal.is_won:
            continue
        if not in_window(plan, deal, grace_days, tz):
            outside.append(deal.id)
            continue
        since, used = _rates_for(deal, plan_currency, rates, history)
        source = deal.currency or used.base
        value = used.convert(deal.amount, source, plan_currency)
        won += value
        counted.append(Counted(deal.id, value, used.convert(Decimal(1), source, plan_currency), source.upper(),
                               since, won_on(deal, tz)))
    amount = plan.amount
    remainder = max(amount - won, ZERO)
    execution = won / amount * HUNDRED if amount > 0 else ZERO
    probability = None if plan.probability is None else min(max(plan.probability, ZERO), HUNDRED)
    probable = amount * probability / HUNDRED if probability is not None else ZERO
    if (amount > 0 and NO_CURRENCY not in flags
            and quantize(won, decimals) >= quantize(amount, decimals)):  # as people see them
        status = FULFILLED
    elif plan.cancelled or (plan.close is not None and today > plan.close):
        status = NOT_FULFILLED
    else:
        status = ACTIVE
    return PlanFigures(won=won, remainder=remainder, execution=execution, probable=probable, status=status,
                       flags=flags, counted=tuple(counted), outside=tuple(outside))


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def rounded(figures: PlanFigures, decimals: int = 2) -> PlanFigures:
    """Money rounded to the currency's ``decimals``; execution % always to 2 decimals."""
    return PlanFigures(
        won=quantize(figures.won, decimals),
        remainder=quantize(figures.remainder, decimals),
        execution=quantize(figures.execution, 2),
        probable=quantize(figures.probable, decimals),
        status=figures.status,
        flags=figures.flags,
        counted=figures.counted,
        outside=figures.outside,
    )


def to_fields(figures: PlanFigures, field_map: Mapping[str, str], decimals: int = 2,
              stage_map: Mapping[str, str] | None = None) -> dict[str, Decimal | str]:
    """``fields`` for crm.item.update: the rounded figures under their REST names, plus ``stageId``.

    ``field_map`` maps the manifest suffix (EXECUTED, ...) to the camelCase REST name. Values stay
    Decimal (phpquery and the REST client encode them without float noise).
    """
    figures = rounded(figures, decimals)
    fields: dict[str, Decimal | str] = {}
    for attribute, suffix in FIGURE_SUFFIXES.items():
        name = field_map.get(suffix)
        if name:
            fields[name] = getattr(figures, attribute)
    if stage_map and figures.status in stage_map:
        fields["stageId"] = stage_map[figures.status]
    return fields


def changed_fields(current: Mapping[str, Any], wanted: Mapping[str, Decimal | str]) -> dict[str, Decimal | str]:
    """The subset of ``wanted`` whose value differs from the portal's ``current`` item.

    Numbers compare as Decimal at the wanted value's precision (the portal returns doubles such as 3000
    or 29.999999), so writing back only what changed ends the ONCRMDYNAMICITEMUPDATE loop.
    """
    changes: dict[str, Decimal | str] = {}
    for name, value in wanted.items():
        old = current.get(name)
        if isinstance(value, Decimal):
            try:
                old_number = to_decimal(old, name) if old not in (None, "") else None
            except ValueError:
                old_number = None
            if old_number is None or quantize(old_number, _places(value)) != value:
                changes[name] = value
        elif str(old or "") != value:
            changes[name] = value
    return changes
