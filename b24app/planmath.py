"""The plan math (ARCHITECTURE.md §3): won, remainder, execution %, probable amount and status of a plan.

Pure: no Flask, requests or SQLite. All money is ``Decimal``; nothing is rounded until ``rounded`` /
``to_fields`` prepares the write-back.

Status rules, in this order:

1. **Cumplido (S)** when the plan has an amount (> 0) and ``won >= amount``. Fulfilment wins over
   everything: a plan closed by hand or whose period ended still becomes S once its deals fill it.
   A plan with amount 0 is never fulfilled automatically (a blank plan must not jump to success).
2. **No cumplido (F)** when the plan was cancelled by hand (``Plan.cancelled``: a person moved it to the
   failure stage before its period ended — see ``closed_by_hand``), or when the period is over
   (``today > close``).
3. **Activo (P)** otherwise. A deal that stops being won moves a fulfilled plan back to P (or F when the
   period is over), because the status is recomputed from the current deals every time.

Currency conversion uses the portal's rates (api-reference/crm/currency/crm-currency-list.md):
``base = amount * AMOUNT / AMOUNT_CNT`` and ``x = base * AMOUNT_CNT_x / AMOUNT_x``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from b24app.schema import FIGURE_SUFFIXES, PROBABILITY_SUFFIX, parent_field

ACTIVE = "P"
FULFILLED = "S"
NOT_FULFILLED = "F"
SEMANTICS = (ACTIVE, FULFILLED, NOT_FULFILLED)

HUNDRED = Decimal(100)
ZERO = Decimal(0)



class RatesError(ValueError):
    """The portal's currency list cannot be used (no base currency, a malformed rate)."""


class UnknownCurrency(RatesError):
    """A currency that is not in the portal's currency list."""

    def __init__(self, currency: str):
        super().__init__(f"currency {currency!r} is not in the portal's currency list (crm.currency.list)")
        self.currency = currency


def to_decimal(value: Any, what: str = "value") -> Decimal:
    """A REST number (string, int, float, None) as Decimal; floats go through ``str`` to keep 0.1 as 0.1."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


@dataclass(frozen=True)
class Rate:
    """One row of crm.currency.list: ``amount`` base units buy ``amount_cnt`` units of ``currency``."""

    currency: str
    amount: Decimal
    amount_cnt: Decimal
    decimals: int = 2


@dataclass(frozen=True)
class Rates:
    base: str
    rates: dict[str, Rate]

    def rate(self, currency: str) -> Rate:
        try:
            return self.rates[currency.upper()]
        except KeyError:
            raise UnknownCurrency(currency) from None

    def decimals(self, currency: str) -> int:
        return self.rate(currency).decimals

    def convert(self, amount: Decimal, from_currency: str, to_currency: str) -> Decimal:
        """``amount`` in ``from_currency`` expressed in ``to_currency`` (unrounded)."""
        source, target = self.rate(from_currency), self.rate(to_currency)
        if source.currency == target.currency:
            return amount
        base = amount * source.amount / source.amount_cnt
        return base * target.amount_cnt / target.amount

    @classmethod
    def from_rest(cls, rows: Iterable[Mapping[str, Any]], base: str | None = None) -> Rates:
        """Parse crm.currency.list rows (numbers arrive as strings).

        ``base`` (from crm.currency.base.get) wins over the rows' ``BASE`` flag when given.
        """
        rates: dict[str, Rate] = {}
        flagged: list[str] = []
        for i, row in enumerate(rows):
            code = str(row.get("CURRENCY") or "").strip().upper()
            if not code:
                raise RatesError(f"crm.currency.list row {i} has no CURRENCY")
            try:
                amount = to_decimal(row.get("AMOUNT"), f"{code} AMOUNT")
                amount_cnt = to_decimal(row.get("AMOUNT_CNT", "1"), f"{code} AMOUNT_CNT")
                decimals = int(str(row.get("DECIMALS", "2") or "2"))
            except ValueError as exc:
                raise RatesError(f"crm.currency.list: {exc}") from None
            if amount <= 0 or amount_cnt <= 0:
                raise RatesError(f"crm.currency.list: {code} has a rate of {amount} per {amount_cnt}; "
                                 "both must be greater than 0")
            rates[code] = Rate(code, amount, amount_cnt, max(decimals, 0))
            if str(row.get("BASE", "N")).upper() == "Y":
                flagged.append(code)
        chosen = (base or "").strip().upper() or (flagged[0] if flagged else "")
        if not chosen:
            raise RatesError("crm.currency.list has no base currency (no row with BASE=Y)")
        if chosen not in rates:
            raise UnknownCurrency(chosen)
        return cls(chosen, rates)


@dataclass(frozen=True)
class Deal:
    id: int
    amount: Decimal
    currency: str
    stage_semantic: str  # P in progress, S won, F lost
    plan_id: int | None

    @property
    def is_won(self) -> bool:
        return self.stage_semantic == FULFILLED

    @classmethod
    def from_item(cls, item: Mapping[str, Any], plans_entity_type_id: int) -> Deal:
        """A deal from crm.item.list (entityTypeId 2, camelCase; api-reference/crm/universal/crm-item-list.md)."""
        parent = item.get(parent_field(plans_entity_type_id))
        return cls(
            id=int(item["id"]),
            amount=to_decimal(item.get("opportunity"), f"deal {item.get('id')} opportunity"),
            currency=str(item.get("currencyId") or ""),
            stage_semantic=str(item.get("stageSemanticId") or ACTIVE),
            plan_id=int(parent) if parent not in (None, "", 0, "0") else None,
        )


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
                  stage_map: Mapping[str, str], today: date | None = None) -> Plan:
        """A plan from crm.item.list of the plans smart process (camelCase names, ``field_map`` suffix -> name).

        With ``today`` given, ``cancelled`` is derived by ``closed_by_hand``.
        """
        semantics_of = {stage: sem for sem, stage in stage_map.items()}
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
    """``2024-08-30`` or ``2024-08-30T02:00:00+02:00`` -> the calendar date as the portal wrote it."""
    if not value:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def closed_by_hand(plan: Plan, today: date) -> bool:
    """A plan in the failure stage whose period has not ended was closed (cancelled) by a person.

    The app itself only moves a plan to F after its period, so F before the end is a human decision and
    stays until the plan is fulfilled or someone moves it back to Activo.
    """
    return plan.stage_semantic == NOT_FULFILLED and (plan.close is None or today <= plan.close)


@dataclass(frozen=True)
class PlanFigures:
    won: Decimal
    remainder: Decimal
    execution: Decimal  # percent, may exceed 100
    probable: Decimal
    status: str  # P, S or F

    @property
    def fulfilled(self) -> bool:
        return self.status == FULFILLED


def compute(plan: Plan, deals: Iterable[Deal], rates: Rates, today: date) -> PlanFigures:
    """The plan's figures from its deals (ARCHITECTURE.md §3). Deals linked to other plans are ignored.

    A deal without a currency counts in the base currency (what the portal gives such objects).
    Raises UnknownCurrency when a won deal or the plan uses a currency the portal does not list.
    """
    plan_currency = plan.currency or rates.base
    won = ZERO
    for deal in deals:
        if deal.plan_id != plan.id or not deal.is_won:
            continue
        won += rates.convert(deal.amount, deal.currency or rates.base, plan_currency)
    amount = plan.amount
    remainder = max(amount - won, ZERO)
    execution = won / amount * HUNDRED if amount > 0 else ZERO
    probable = amount * plan.probability / HUNDRED if plan.probability is not None else ZERO
    if amount > 0 and won >= amount:
        status = FULFILLED
    elif plan.cancelled or (plan.close is not None and today > plan.close):
        status = NOT_FULFILLED
    else:
        status = ACTIVE
    return PlanFigures(won=won, remainder=remainder, execution=execution, probable=probable, status=status)


def quantize(value: Decimal, decimals: int) -> Decimal:
    """ROUND_HALF_UP to ``decimals`` places (0.005 -> 0.01), the way people round money."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


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
