"""Why a plan's figures are what they are, deal by deal, for the frames: which won deals count, which were
won outside the plan's counting window, and (``counted``) the rate each counted deal was converted at.

The same rules as the recompute (``b24app.planmath``, ARCHITECTURE.md §3) over the deals a frame read with
the user's token, with the moments of the wins the deal -> plan index keeps (``sync.recompute``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from b24app import planmath
from b24app.installations import Installation
from b24app.storage import Store
from sync.recompute import stored_history, with_won_moments


@dataclass(frozen=True)
class Outside:
    """A linked deal won outside the plan's counting window: the day it was won, the client's plan then."""

    deal_id: int
    won_on: date
    plan_id: int | None = None  # the client's plan whose period holds that day, when there is one


@dataclass(frozen=True)
class CountedAt:
    """A counted deal in another currency than the plan's: the rate it was converted at, and since when."""

    deal_id: int
    currency: str  # the deal's
    plan_currency: str
    rate: Decimal  # plan-currency units for one unit of the deal's currency
    since: datetime | None  # when that set of rates came in force; None: the current rates


@dataclass
class Explanation:
    outside: dict[int, Outside] = field(default_factory=dict)
    counted: dict[int, CountedAt] = field(default_factory=dict)


def _plan(begin: date | None, close: date | None, currency: str = "") -> planmath.Plan:
    return planmath.Plan(id=0, amount=planmath.ZERO, currency=currency, probability=None, begin=begin, close=close)


def explain(db: Store, inst: Installation, begin: date | None, close: date | None,
            deals: Iterable[Mapping[str, Any]], grace_days: int = 0,
            client_periods: Iterable[tuple[int, date | None, date | None]] = (), currency: str = "") -> Explanation:
    """The deals of one plan (period ``begin``..``close``, in ``currency``) judged as the recompute does.

    ``client_periods`` are the client's plans as ``(id, begin, close)``: a deal won outside this plan's
    window names the one whose period (plus grace) holds the day it was won. Counted deals in another
    currency get the rate they were converted at, from the rate history (no call to the portal).
    """
    plan = _plan(begin, close, currency)
    periods = list(client_periods)
    found = Explanation()
    won = []
    for row in with_won_moments(db, inst, deals):
        deal = replace(planmath.Deal.from_item(row, inst.entity_type_id or 0), plan_id=0)
        day = planmath.won_on(deal)
        if not deal.is_won:
            continue
        if day is None or planmath.in_window(plan, deal, grace_days):
            won.append(deal)
            continue
        home = next((pid for pid, b, c in periods if planmath.in_window(_plan(b, c), deal, grace_days)), None)
        found.outside[deal.id] = Outside(deal.id, day, home)
    history = stored_history(db, inst)
    if won and currency and history.entries:
        current = history.entries[-1][1]
        try:
            figures = planmath.compute(plan, won, current, date.max, grace_days=grace_days, history=history)
        except planmath.RatesError:  # a currency the history does not know: say nothing rather than guess
            return found
        for c in figures.counted:
            if c.currency != currency.upper():
                found.counted[c.deal_id] = CountedAt(c.deal_id, c.currency, currency.upper(), c.rate,
                                                     c.rate_since)
    return found
