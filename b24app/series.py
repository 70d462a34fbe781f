"""Plan series (README "Recurring plans", ARCHITECTURE.md §3): the next period and the successor's amount.

Pure: no Flask, requests or SQLite; mypy ``--strict``. Dates are plain calendar dates: the caller judges
"today" in the portal's time zone (``planmath.portal_zone``) before asking anything here.

- A recurring plan covers one calendar month, quarter or year (``recurrence``); its successor covers the
  calendar period right after it (``next_period``). A one-off plan's "next period" is the calendar unit its
  dates make up, else a period of the same number of days starting the day after its end.
- The successor's amount is computed from the figures **stored when the period closed**:
  ``own = amount − carried in`` (what the plan asked for itself, without what its predecessor carried into it),
  ``grown = own × (1 + growth / 100)``, ``carry = + shortfall (SHORTFALL, BOTH) − surplus (SURPLUS, BOTH)``
  where shortfall = max(amount − won, 0) and surplus = max(won − amount, 0), limited to ±cap when a cap is
  set, and ``total = max(grown + carry, 0)``, rounded to the currency's decimals.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

NONE = "NONE"
MONTHLY = "MONTHLY"
QUARTERLY = "QUARTERLY"
YEARLY = "YEARLY"
RECURRENCES = (NONE, MONTHLY, QUARTERLY, YEARLY)
MONTHS = {MONTHLY: 1, QUARTERLY: 3, YEARLY: 12}

SHORTFALL = "SHORTFALL"
SURPLUS = "SURPLUS"
BOTH = "BOTH"
POLICIES = (NONE, SHORTFALL, SURPLUS, BOTH)

GROWTH_MIN = Decimal(-100)
GROWTH_MAX = Decimal(1000)
ZERO = Decimal(0)
HUNDRED = Decimal(100)

# validation problems (the form's messages and the plan's flags use these codes)
GROWTH_RANGE = "growth_range"
CAP_NEGATIVE = "cap_negative"
RECURRENCE_PERIOD = "recurrence_period"
CARRY_WITHOUT_PREDECESSOR = "carry_without_predecessor"
RECURRENCE_UNKNOWN = "recurrence_unknown"
POLICY_UNKNOWN = "policy_unknown"
NOT_A_NUMBER = "not_a_number"


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def calendar_period(recurrence: str, day: date) -> tuple[date, date]:
    """The calendar month / quarter / year holding ``day``."""
    months = MONTHS[recurrence]
    first_month = (day.month - 1) // months * months + 1
    begin = date(day.year, first_month, 1)
    end_first = _add_months(begin, months - 1)
    return begin, _month_end(end_first.year, end_first.month)


def matches(recurrence: str, begin: date | None, end: date | None) -> bool:
    """True when the plan's dates are exactly one period of ``recurrence`` (NONE matches anything)."""
    if recurrence == NONE:
        return True
    if recurrence not in MONTHS or begin is None or end is None:
        return False
    return calendar_period(recurrence, begin) == (begin, end)


def unit_of(begin: date, end: date) -> str:
    """The calendar unit a period makes up (MONTHLY, QUARTERLY, YEARLY), or NONE."""
    for recurrence in (MONTHLY, QUARTERLY, YEARLY):
        if matches(recurrence, begin, end):
            return recurrence
    return NONE


def next_period(recurrence: str, begin: date, end: date) -> tuple[date, date]:
    """The period after ``begin``..``end``: the next calendar unit of ``recurrence`` (or of the unit the dates
    make up), else as many days again from the day after ``end``."""
    unit = recurrence if recurrence in MONTHS else unit_of(begin, end)
    if unit in MONTHS:
        return calendar_period(unit, end + timedelta(days=1))
    length = (end - begin).days
    return end + timedelta(days=1), end + timedelta(days=1 + max(length, 0))


def number(value: object) -> Decimal | None:
    """A typed or stored figure as Decimal; empty -> None; raises ValueError when it is not a number."""
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(str(value)) from exc
    if not result.is_finite():
        raise ValueError(str(value))
    return result


@dataclass(frozen=True)
class Carry:
    """The successor's amount as a sum people can check."""

    amount: Decimal          # the closed plan's amount
    won: Decimal             # its won figure as stored at the close
    carried_in: Decimal      # what its predecessor had carried into it
    own: Decimal             # amount − carried_in
    growth: Decimal          # percent
    grown: Decimal           # own × (1 + growth / 100)
    policy: str
    carry_raw: Decimal       # + shortfall / − surplus before the cap
    cap: Decimal | None
    carry: Decimal           # after the cap
    total: Decimal           # max(grown + carry, 0)


def _round(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def successor_amount(amount: Decimal, won: Decimal, *, growth: Decimal = ZERO, policy: str = NONE,
                     cap: Decimal | None = None, carried_in: Decimal = ZERO, decimals: int = 2) -> Carry:
    """The next period's amount from the closed period's stored figures (module docstring)."""
    own = amount - carried_in
    grown = _round(own * (1 + growth / HUNDRED), decimals)
    raw = ZERO
    if policy in (SHORTFALL, BOTH):
        raw += max(amount - won, ZERO)
    if policy in (SURPLUS, BOTH):
        raw -= max(won - amount, ZERO)
    raw = _round(raw, decimals)
    carry = raw if cap is None else max(min(raw, cap), -cap)
    total = max(grown + carry, ZERO)
    return Carry(amount, won, carried_in, own, growth, grown, policy, raw, cap, carry, _round(total, decimals))


@dataclass(frozen=True)
class SeriesOptions:
    """A plan's series options as read from its fields (XML ids already mapped back)."""

    recurrence: str = NONE
    growth: Decimal = ZERO
    policy: str = NONE
    cap: Decimal | None = None
    carried: Decimal = ZERO
    predecessor: int | None = None
    successor: int | None = None

    @property
    def recurring(self) -> bool:
        return self.recurrence in MONTHS


def problems(options: SeriesOptions, begin: date | None, end: date | None) -> list[str]:
    """What makes these options unusable (empty: fine). The form refuses them, the job skips the plan."""
    found = []
    if options.recurrence not in RECURRENCES:
        found.append(RECURRENCE_UNKNOWN)
    elif not matches(options.recurrence, begin, end):
        found.append(RECURRENCE_PERIOD)
    if options.policy not in POLICIES:
        found.append(POLICY_UNKNOWN)
    if not GROWTH_MIN <= options.growth <= GROWTH_MAX:
        found.append(GROWTH_RANGE)
    if options.cap is not None and options.cap < 0:
        found.append(CAP_NEGATIVE)
    if options.carried != 0 and not options.predecessor:
        found.append(CARRY_WITHOUT_PREDECESSOR)
    return found


def read_options(values: Mapping[str, object], enum_ids: Mapping[str, Mapping[str, int]],
                 defaults: SeriesOptions | None = None) -> tuple[SeriesOptions, list[str]]:
    """Options from a plan's field values by our keys (recurrence, growth, carryover, cap, carried,
    predecessor, successor); list values are the portal's item ids, mapped back with ``enum_ids``
    (suffix -> XML id -> id). An empty growth, policy or cap takes the ``defaults`` (the settings); an empty
    recurrence is NONE. Returns the options and the problems met while reading (an unknown list id, a value
    that is not a number): the reading never raises."""
    found: list[str] = []
    defaults = defaults or SeriesOptions()

    def xml(suffix: str, key: str, unknown: str, default: str = NONE) -> str:
        raw = values.get(key)
        if raw in (None, "", 0, "0", False):
            return default
        by_id = {str(i): x for x, i in (enum_ids.get(suffix) or {}).items()}
        xml_id = by_id.get(str(raw))
        if xml_id is None:
            found.append(unknown)
            return str(raw)
        return xml_id

    def num(key: str) -> Decimal | None:
        try:
            return number(values.get(key))
        except ValueError:
            found.append(NOT_A_NUMBER)
            return None

    def ident(key: str) -> int | None:
        value = num(key)
        return int(value) if value is not None and value > 0 and value == value.to_integral_value() else None

    options = SeriesOptions(
        recurrence=xml("RECURRENCE", "recurrence", RECURRENCE_UNKNOWN),
        growth=_or(num("growth"), defaults.growth) or ZERO,
        policy=xml("CARRYOVER", "carryover", POLICY_UNKNOWN, defaults.policy),
        cap=_or(num("cap"), defaults.cap),
        carried=num("carried") or ZERO,
        predecessor=ident("predecessor"),
        successor=ident("successor"),
    )
    return options, found


def _or(value: Decimal | None, default: Decimal | None) -> Decimal | None:
    return default if value is None else value


def defaults_of(config: Mapping[str, object]) -> SeriesOptions:
    """The settings' defaults (``B24_SERIES_*``) as options."""
    cap = config.get("SERIES_CAP")
    return SeriesOptions(recurrence=str(config.get("SERIES_RECURRENCE") or NONE),
                         growth=number(config.get("SERIES_GROWTH")) or ZERO,
                         policy=str(config.get("SERIES_CARRYOVER") or NONE),
                         cap=number(cap) if cap not in (None, "") else None)


def period_name(recurrence: str, begin: date, end: date) -> str:
    """A language-neutral name of a period for a successor's title: ``2026-02``, ``2026-Q2``, ``2026``, else
    ``2026-01-10..2026-01-19``."""
    unit = recurrence if recurrence in MONTHS and matches(recurrence, begin, end) else unit_of(begin, end)
    if unit == MONTHLY:
        return f"{begin.year}-{begin.month:02d}"
    if unit == QUARTERLY:
        return f"{begin.year}-Q{(begin.month - 1) // 3 + 1}"
    if unit == YEARLY:
        return str(begin.year)
    return f"{begin.isoformat()}..{end.isoformat()}"
