"""The deal card's tab (``CRM_DEAL_DETAIL_TAB``): the deal's plan, its responsible, the client's people.

``PLACEMENT_OPTIONS`` = ``{"ID":"8061", ...}`` names the deal (api-reference/widgets/crm/detail-tab.md).
A deal belongs to a plan through its ``parentId{plansEntityTypeId}`` field (ARCHITECTURE.md F7).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, g, request
from flask_babel import gettext

from b24app import autolink, linkstore
from b24app.db import get_db
from b24app.rest.errors import AccessDenied
from placements import burnup, live, web
from placements.frames import FrameUser, frame_required
from placements.plans_query import PlanRow, client_of, clients_of, dec
from placements.portal_data import PortalData
from placements.reference_data import Contact, User
from sync.explain import Explanation
from sync.recompute import grace_days

log = logging.getLogger(__name__)
bp = web.blueprint("deal_tab")


@web.notice_flag("unlinked")
def _unlinked_notice(value: str | None) -> dict[str, str]:
    """``unlinked=1`` after a deal left its plan (see ``unlink``)."""
    return {"notice": gettext("The deal was removed from the plan.")} if value == "1" else {}


@dataclass(frozen=True)
class HiddenPlan:
    """A plan the person may not open: only its number and whose it is (never its figures)."""

    id: int
    owner: User | None


@dataclass
class DealView:
    deal: dict[str, Any]
    client_name: str = ""
    plan: PlanRow | None = None
    responsible: User | None = None
    contacts: list[Contact] = field(default_factory=list)
    other_deals: list[dict[str, Any]] = field(default_factory=list)
    active_plans: list[PlanRow] = field(default_factory=list)
    explanation: Explanation = field(default_factory=Explanation)  # the plan's deals won outside its period
    preselection: autolink.Preselection = field(default_factory=autolink.Preselection)  # by the auto-link rule
    waiting: linkstore.Pending | None = None  # in the "to decide" list
    decided: bool = False  # a person linked or unlinked this deal: the rule leaves it alone
    hidden_plan: HiddenPlan | None = None  # the deal's plan, when the portal does not let this person read it

    @property
    def client(self) -> Any:
        return client_of(self.deal)


def deal_view(portal: PortalData, deal_id: int, grace: int = 0) -> DealView:
    deal = portal.deal(deal_id)
    view = DealView(deal)
    client = view.client
    if client:
        view.client_name = portal.client_names([client]).get(client, "")
        try:
            view.contacts = portal.contacts_of(client)
        except AccessDenied:  # a client the person may not read: their deal is still shown
            view.contacts = []
    plan_id = int(deal.get(portal.schema.parent_field) or 0)
    if plan_id:
        try:
            view.plan = portal.plan(plan_id)
        except AccessDenied:  # the deal is theirs, the plan someone else's: say whose, show nothing of it
            view.hidden_plan = HiddenPlan(plan_id, portal.plan_owner(plan_id))
            return view
        if view.plan.assigned_by_id:
            view.responsible = portal.users_by_id([view.plan.assigned_by_id]).get(view.plan.assigned_by_id)
        view.other_deals = [d for d in portal.plan_deals(plan_id) if int(d["id"]) != deal_id]
        view.explanation = portal.explain(get_db(), view.plan, [deal, *view.other_deals], grace)
    elif client:
        view.active_plans = client_active_plans(portal, deal)
        periods = [autolink.PlanPeriod(p.id, p.client.id if p.client and p.client.kind == "company" else 0,
                                       p.client.id if p.client and p.client.kind == "contact" else 0,
                                       p.begindate, p.closedate, p.currency, p.title) for p in view.active_plans]
        facts = autolink.deal_facts(deal, portal.schema.parent_field, portal.inst.time_zone or "")
        view.preselection = autolink.preselect(facts, periods)
        view.waiting = linkstore.pending_deal(get_db(), portal.inst.member_id, deal_id)
        view.decided = linkstore.decision(get_db(), portal.inst.member_id, deal_id) is not None
    return view


def client_active_plans(portal: PortalData, deal: dict[str, Any]) -> list[PlanRow]:
    """The active plans of the deal's company and of its contact (a contact's plan matches by contact)."""
    found: dict[int, PlanRow] = {}
    for client in sorted(clients_of(deal), key=lambda c: c.kind != "company"):
        for row in portal.client_plans(client, status="P"):
            found.setdefault(row.id, row)
    return list(found.values())


@bp.post("/placements/deal")
def enter() -> Any:
    user = web.enter_frame()
    if not isinstance(user, FrameUser):
        return user
    deal_id = str(web.placement_options().get("ID") or "")
    if not deal_id.isdigit():
        abort(400)
    return web.go("deal_tab.show", deal_id=int(deal_id))


@bp.get("/placements/deal/<int:deal_id>")
@frame_required
def show(deal_id: int) -> Any:
    if not g.installation.is_provisioned:
        return web.not_ready()
    view = deal_view(web.data(), deal_id, grace_days(current_app.config))
    return web.render("placements/deal_tab.html", view=view, deal_id=deal_id, dec=dec,
                      eti=g.installation.entity_type_id, title=gettext("Sales plan"),
                      outlook=burnup.outlook_for(view.plan) if view.plan else None, outlook_back=f"deal:{deal_id}",
                      **live.watch([view.plan.id] if view.plan else [], deal_id))


@bp.post("/placements/deal/<int:deal_id>/link")
@frame_required
def link(deal_id: int) -> Any:
    """Put the deal into one of its client's plans (the plan must be that client's)."""
    plan_id = request.form.get("plan_id", "")
    if not plan_id.isdigit():
        abort(400)
    portal = web.data()
    deal, plan = portal.deal(deal_id), portal.plan(int(plan_id))
    if plan.client is None or plan.client not in clients_of(deal):  # a contact's plan matches by contact
        return web.render("placements/notice.html", message=gettext(
            "Deal %(deal)s belongs to another client.", deal=deal_id),
            back_url=web.furl("deal_tab.show", deal_id=deal_id)), 400
    portal.link_deal(deal_id, int(plan_id))
    linkstore.record_decision(get_db(), g.installation.member_id, deal_id, int(plan_id), g.frame_user.user_id,
                              source="tab")
    log.info("deal %s linked to plan %s by user %s", deal_id, plan_id, g.frame_user.user_id)
    return web.go("deal_tab.show", deal_id=deal_id)


@bp.post("/placements/deal/<int:deal_id>/unlink")
@frame_required
def unlink(deal_id: int) -> Any:
    web.data().link_deal(deal_id, 0)
    linkstore.record_decision(get_db(), g.installation.member_id, deal_id, 0, g.frame_user.user_id, source="tab")
    log.info("deal %s unlinked by user %s", deal_id, g.frame_user.user_id)
    return web.go("deal_tab.show", deal_id=deal_id, unlinked=1)
