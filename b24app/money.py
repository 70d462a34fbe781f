"""Money: the portal's currency rates, their history and rounding (ARCHITECTURE.md §3, F9).

Pure: no Flask, requests or SQLite. Conversion uses the portal's rates
(api-reference/crm/currency/crm-currency-list.md): ``base = amount * AMOUNT / AMOUNT_CNT`` and
``x = base * AMOUNT_CNT_x / AMOUNT_x``. Bitrix24 keeps only the current rates, so the app records every
set of rates it sees (``RateHistory``) and converts a won deal at the set in force when it was won.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)


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


def quantize(value: Decimal, decimals: int) -> Decimal:
    """ROUND_HALF_UP to ``decimals`` places (0.005 -> 0.01), the way people round money."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


class RatesError(ValueError):
    """The portal's currency list cannot be used (no base currency, a malformed rate)."""


class UnknownCurrency(RatesError):
    """A currency that is not in the portal's currency list."""

    def __init__(self, currency: str):
        super().__init__(f"currency {currency!r} is not in the portal's currency list (crm.currency.list)")
        self.currency = currency


@dataclass(frozen=True)
class Rate:
    """One row of crm.currency.list: ``amount`` base units buy ``amount_cnt`` units of ``currency``."""

    currency: str
    amount: Decimal
    amount_cnt: Decimal
    decimals: int = 2
    updated: str = field(default="", compare=False)  # DATE_UPDATE: when the portal's rate was last changed


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
            rates[code] = Rate(code, amount, amount_cnt, max(decimals, 0), str(row.get("DATE_UPDATE") or ""))
            if str(row.get("BASE", "N")).upper() == "Y":
                flagged.append(code)
        chosen = (base or "").strip().upper() or (flagged[0] if flagged else "")
        if not chosen:
            raise RatesError("crm.currency.list has no base currency (no row with BASE=Y)")
        if chosen not in rates:
            raise UnknownCurrency(chosen)
        return cls(chosen, rates)


@dataclass(frozen=True)
class RateHistory:
    """Every set of rates the app recorded, oldest first: ``(in force since, Rates)``.

    The set in force at a moment is the newest one recorded at or before it (compared to the second, the
    precision of the portal's ``movedTime``); a moment before the first record, or an unknown one, gets
    the oldest set: the best the app knows for a deal won before it started recording.
    """

    entries: tuple[tuple[datetime, Rates], ...]

    @classmethod
    def of(cls, entries: Sequence[tuple[datetime, Rates]]) -> RateHistory:
        return cls(tuple(sorted(entries, key=lambda e: e[0])))

    def at(self, moment: datetime | None) -> tuple[datetime, Rates] | None:
        """The ``(since, rates)`` in force at ``moment`` (timezone-aware); None for an empty history."""
        if not self.entries:
            return None
        if moment is None:
            return self.entries[0]
        found = self.entries[0]
        second = moment.replace(microsecond=0)
        for since, rates in self.entries:
            if since.replace(microsecond=0) <= second:
                found = (since, rates)
            else:
                break
        return found


def rows_of(rates: Rates) -> list[dict[str, str]]:
    """``rates`` as crm.currency.list rows again (what the history keeps)."""
    return [{"CURRENCY": r.currency, "AMOUNT": str(r.amount), "AMOUNT_CNT": str(r.amount_cnt),
             "DECIMALS": str(r.decimals), "BASE": "Y" if r.currency == rates.base else "N",
             "DATE_UPDATE": r.updated} for r in rates.rates.values()]
