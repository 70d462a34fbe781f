"""The auto-link rule (pure): which plan a deal without one goes to, or why it waits for a person.

A deal with no plan (``parentId{plansETI}`` empty) of a client is linked when the client has exactly one
**active** plan (a stage with in-progress semantics) whose period (``begindate``..``closedate``) contains the
deal's day. The deal's day is its ``closedate``; for a won deal, the day it was won (``movedTime`` in the
portal's offset, ARCHITECTURE.md F12), since that is the day that decides whether it counts. The client is
both the deal's company and its contact: plans of either match (as the plan form and the deal tab match a
contact's plan by contact), so a company plan and a contact plan for the same day are two candidates.

Several candidates, or none for that day while the client has active plans, put the deal "to decide"
(``WAIT``). A lost deal, a deal already linked, a deal a person decided about, a deal without a client or
whose client has no active plan, and a won deal whose day is in no active plan's period are left alone
(``SKIP``). README *Auto-linking* has a worked example; ``tests/unit/test_autolink_rule.py`` the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from b24app.planmath import parse_date, portal_zone

LINK = "link"
WAIT = "wait"
SKIP = "skip"

#: deal fields the rule reads (crm.item camelCase names), besides the plan field
DEAL_FIELDS = ("id", "title", "companyId", "contactId", "closedate", "stageSemanticId", "movedTime",
               "opportunity", "currencyId")
#: plan fields the rule reads
PLAN_FIELDS = ("id", "title", "companyId", "contactId", "begindate", "closedate", "currencyId", "stageId")


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class PlanPeriod:
    """A plan as the rule sees it."""

    id: int
    company_id: int
    contact_id: int
    begin: date | None
    end: date | None
    currency: str = ""
    title: str = ""
    active: bool = True

    def contains(self, day: date | None) -> bool:
        return day is not None and self.begin is not None and self.end is not None and self.begin <= day <= self.end

    def distance(self, day: date | None) -> int:
        """Days from ``day`` to the period (0 inside it); a plan without dates is far."""
        if day is None or self.begin is None or self.end is None:
            return 10 ** 6
        if day < self.begin:
            return (self.begin - day).days
        return max((day - self.end).days, 0)


@dataclass(frozen=True)
class DealFacts:
    """A deal as the rule sees it."""

    id: int
    company_id: int
    contact_id: int
    plan_id: int
    semantics: str  # P in progress, S won, F lost
    day: date | None
    currency: str = ""
    title: str = ""
    amount: str = "0"

    @property
    def has_client(self) -> bool:
        return bool(self.company_id or self.contact_id)


@dataclass(frozen=True)
class Decision:
    action: str  # LINK, WAIT or SKIP
    plan_id: int = 0  # LINK: the plan
    candidates: tuple[int, ...] = ()  # WAIT: the plans a person chooses from (the day's, else all active)
    reason: str = ""  # linked, decided, lost, no-client, no-plan, won-outside, one, several, none-for-day


def win_day(moved: Any, offset: str) -> date | None:
    """The day of a moment (``movedTime``) in the portal's offset."""
    if not moved:
        return None
    try:
        moment = datetime.fromisoformat(str(moved).replace("Z", "+00:00"))
    except ValueError:
        return parse_date(moved)
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(portal_zone(offset)).date()


def deal_facts(row: Mapping[str, Any], parent: str, offset: str = "") -> DealFacts:
    """A REST deal row (``crm.item.list``) as the rule sees it; ``parent`` is the deal's plan field."""
    semantics = str(row.get("stageSemanticId") or "P")
    day = win_day(row.get("movedTime"), offset) if semantics == "S" else None
    return DealFacts(id=_int(row.get("id")), company_id=_int(row.get("companyId")),
                     contact_id=_int(row.get("contactId")), plan_id=_int(row.get(parent)), semantics=semantics,
                     day=day or parse_date(row.get("closedate")), currency=str(row.get("currencyId") or ""),
                     title=str(row.get("title") or ""), amount=str(row.get("opportunity") or "0"))


def plan_period(row: Mapping[str, Any], active_stages: Iterable[str]) -> PlanPeriod:
    """A REST plan row; active when its stage is one of ``active_stages`` (in-progress semantics)."""
    return PlanPeriod(id=_int(row.get("id")), company_id=_int(row.get("companyId")),
                      contact_id=_int(row.get("contactId")), begin=parse_date(row.get("begindate")),
                      end=parse_date(row.get("closedate")), currency=str(row.get("currencyId") or ""),
                      title=str(row.get("title") or ""), active=str(row.get("stageId") or "") in set(active_stages))


def client_plans(deal: DealFacts, plans: Iterable[PlanPeriod]) -> list[PlanPeriod]:
    """The active plans of the deal's company or of its contact, by id."""
    found = [p for p in plans if p.active and (
        (deal.company_id and p.company_id == deal.company_id)
        or (deal.contact_id and not p.company_id and p.contact_id == deal.contact_id))]
    return sorted({p.id: p for p in found}.values(), key=lambda p: p.id)


def decide(deal: DealFacts, plans: Iterable[PlanPeriod], decided: bool = False) -> Decision:
    """What the rule does with one deal (see the module's docstring)."""
    if deal.plan_id:
        return Decision(SKIP, reason="linked")
    if decided:
        return Decision(SKIP, reason="decided")
    if deal.semantics == "F":
        return Decision(SKIP, reason="lost")
    if not deal.has_client:
        return Decision(SKIP, reason="no-client")
    mine = client_plans(deal, plans)
    if not mine:
        return Decision(SKIP, reason="no-plan")
    dated = [p for p in mine if p.contains(deal.day)]
    if len(dated) == 1:
        return Decision(LINK, plan_id=dated[0].id, candidates=(dated[0].id,), reason="one")
    if not dated and deal.semantics == "S":
        return Decision(SKIP, reason="won-outside")
    chosen = dated or mine
    return Decision(WAIT, candidates=tuple(p.id for p in chosen), reason="several" if dated else "none-for-day")


@dataclass(frozen=True)
class Preselection:
    """What the deal tab pre-selects for a deal without a plan, and what it warns about."""

    plan_id: int = 0
    warning: str = ""  # "" | "several" (more than one plan for the deal's day) | "outside" (none holds it)
    outside: frozenset[int] = frozenset()  # plans whose period does not hold the deal's day


def preselect(deal: DealFacts, plans: Sequence[PlanPeriod]) -> Preselection:
    """The rule's plan when there is one; among several for the day the one in the deal's currency; when
    none holds the day, the plan whose period is nearest to it, with a warning."""
    mine = [p for p in plans if p.active]
    outside = frozenset(p.id for p in mine if not p.contains(deal.day))
    if not mine:
        return Preselection()
    dated = [p for p in mine if p.contains(deal.day)]
    if len(dated) == 1:
        return Preselection(dated[0].id, "", outside)
    if dated:
        same = [p for p in dated if p.currency and p.currency == deal.currency]
        return Preselection((same or dated)[0].id, "several", outside)
    nearest = min(mine, key=lambda p: (p.distance(deal.day), p.currency != deal.currency, p.id))
    return Preselection(nearest.id, "outside", outside)
