"""Create, edit, close and cancel plans; the JSON lookups behind the client picker and the deal list.

Validation is complete before the first write (placements/plan_form.py): a bad value anywhere means no
call that changes the portal. Writes use the current user's token (crm.item.add / crm.item.update).
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from flask import abort, current_app, g, jsonify, redirect, request
from flask_babel import gettext, ngettext

from b24app import linkstore
from b24app.db import get_db
from b24app.rest.errors import B24Error
from b24app.series import Carry, SeriesOptions, defaults_of, next_period, successor_amount
from placements import burnup, live, web
from placements.frames import frame_required
from placements.i18n import money
from placements.messages import errors_by_field
from placements.plan_form import Client, FieldError, FormContext, period_for, preset_of, validate
from placements.plans_query import PlanRow
from placements.portal_data import PortalData
from sync.explain import Explanation
from sync.recompute import grace_days, portal_today

log = logging.getLogger(__name__)
bp = web.blueprint("plan_edit")


@web.notice_flag("saved")
def _saved_notice(value: str | None) -> dict[str, Any]:
    """``saved=<plan id>`` after the form (see ``back_url``): the page says so and highlights the plan."""
    if value and value.isdigit():
        return {"notice": gettext("Plan saved."), "saved_id": int(value)}
    return {"saved_id": 0}


def back_url(back: str, **extra: Any) -> str:
    """Where the form returns: ``plans`` (``plans:status=P&sort=amount``: that view of the list), ``deal:<id>`` or
    ``client:CO_5`` (``extra``: URL flags such as
    ``saved=<plan id>``, which the page it lands on turns into a notice: ``_saved_notice``)."""
    kind, _, value = (back or "plans").partition(":")
    if kind == "plans" and value:  # ``plans:<the list's query>``: back to the same filter, sort and page
        from placements.plans_query import ListQuery

        return web.furl("plans.index", **ListQuery.from_args(dict(parse_qsl(value))).to_args(), **extra)
    if kind == "deal" and value.isdigit():
        return web.furl("deal_tab.show", deal_id=int(value), **extra)
    client = Client.parse(value) if kind == "client" else None
    if client:
        return web.furl("client_tab.show", kind=client.kind, client_id=client.id, **extra)
    return web.furl("plans.index", **extra)


def back_to(back: str, **extra: Any) -> Any:
    return redirect(back_url(back, **extra), code=303)


def plain(value: Decimal) -> str:
    """A number as a form shows it, every decimal kept: ``5000``, ``6500.25``, ``120.125`` (3-decimal currencies)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _deal_ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.strip().isdigit() and int(v) > 0]


SERIES_KEYS = ("recurrence", "growth", "carryover", "cap", "carried", "predecessor")


def series_values(options: SeriesOptions) -> dict[str, str]:
    """A plan's series options as the form shows them."""
    return {"recurrence": options.recurrence, "growth": plain(options.growth), "carryover": options.policy,
            "cap": plain(options.cap) if options.cap is not None else "",
            "carried": plain(options.carried) if options.carried else "",
            "predecessor": str(options.predecessor or "")}


def carry_for(portal: PortalData, plan: PlanRow) -> Carry:
    """The next period's amount of ``plan`` from its stored figures, as a sum (b24app/series.py)."""
    options = plan.series
    return successor_amount(plan.amount, plan.won, growth=options.growth, policy=options.policy, cap=options.cap,
                            carried_in=options.carried, decimals=portal.currency_decimals().get(plan.currency, 2))


def render_form(portal: PortalData, values: dict[str, Any], plan_id: int | None,
                errors: list[FieldError] | None = None, status: str = "P",
                explanation: Explanation | None = None, linked_deals: list[dict[str, Any]] | None = None,
                plan: PlanRow | None = None, overlaps: list[Any] | None = None) -> Any:
    """The form; every deal linked to the plan is listed, those of another client flagged (untick to unlink).
    A form that continues a plan (``predecessor``) shows the next period's amount as a sum."""
    today = portal_today(g.installation).isoformat()
    has_series = portal.schema.has_series
    predecessor = str(values.get("predecessor") or "")
    carry, previous = None, None
    if has_series and predecessor.isdigit() and int(predecessor) > 0:
        previous = portal.plan(int(predecessor))
        carry = carry_for(portal, previous)
    client = Client.parse(values.get("client"))
    client_name = portal.client_names([client]).get(client, "") if client else ""
    deals = portal.client_deals(client) if client else []
    if plan_id:
        listed = {int(d["id"]) for d in deals}
        linked = linked_deals if linked_deals is not None else portal.plan_deals(plan_id)
        deals += [{**d, "foreign": True} for d in linked if int(d["id"]) not in listed]
    chosen = {int(d) for d in values.get("deals", [])}
    return web.render(
        "placements/plan_form.html", values=values, plan_id=plan_id, client=client, client_name=client_name,
        deals=deals, chosen=chosen, errors=errors_by_field(errors or []), users=portal.users(),
        currencies=portal.currencies(), back_url=back_url(values.get("back", "plans")),
        parent_field=portal.schema.parent_field, status=status, today=today,
        ended=bool(values.get("closedate")) and str(values.get("closedate")) < today,
        outside=(explanation or Explanation()).outside, counted=(explanation or Explanation()).counted,
        title=gettext("Edit plan") if plan_id else gettext("New plan"), overlaps=overlaps or [],
        linked_count=len(linked_deals) if linked_deals is not None else None,
        has_series=has_series, carry=carry, previous=previous, plan=plan,
        outlook=burnup.outlook_for(plan) if plan is not None else None, outlook_back=values.get("back", "plans"),
    ), (400 if errors else 409 if overlaps else 200)


@bp.get("/plans/new")
@frame_required
def new() -> Any:
    if not g.installation.is_provisioned:
        return web.not_ready()
    portal = web.data()
    begin, end = period_for("month", portal_today(g.installation))
    currencies = portal.currencies()
    values = {"client": request.args.get("client", ""), "period": "month", "begindate": begin.isoformat(),
              "closedate": end.isoformat(), "amount": "", "currency": currencies[0] if currencies else "",
              "probability": "50", "assigned_by_id": str(g.frame_user.user_id), "title": "",
              "deals": _deal_ids(request.args.getlist("deal")), "back": request.args.get("back", "plans"),
              **series_values(defaults_of(current_app.config))}
    return render_form(portal, values, None)


@bp.get("/plans/<int:plan_id>/next")
@frame_required
def plan_next(plan_id: int) -> Any:
    """"Plan the next period": the form pre-filled with the period after this plan's, its client, currency,
    probability, responsible and series options, and the amount as a sum (base, growth, carry-over, cap).
    A plan already continued opens its successor instead."""
    portal = web.data()
    if not portal.schema.has_series:
        return web.not_ready()
    plan = portal.plan(plan_id)
    back = request.args.get("back", "plans")
    if plan.series.successor:
        return redirect(web.furl("plan_edit.edit", plan_id=plan.series.successor, back=back), code=303)
    if plan.begindate is None or plan.closedate is None:
        abort(400)
    begin, end = next_period(plan.series.recurrence, plan.begindate, plan.closedate)
    carry = carry_for(portal, plan)
    values = {"client": plan.client.code if plan.client else "", "period": "custom",
              "begindate": begin.isoformat(), "closedate": end.isoformat(), "amount": plain(carry.total),
              "currency": plan.currency, "probability": plain(plan.probability), "title": "",
              "assigned_by_id": str(plan.assigned_by_id or g.frame_user.user_id), "deals": [], "back": back,
              **series_values(plan.series), "carried": plain(carry.carry) if carry.carry else "",
              "predecessor": str(plan.id)}
    return render_form(portal, values, None)


@bp.get("/plans/<int:plan_id>/edit")
@frame_required
def edit(plan_id: int) -> Any:
    portal = web.data()
    plan = portal.plan(plan_id)
    linked_deals = portal.plan_deals(plan_id)
    linked = [int(d["id"]) for d in linked_deals]
    values = {"client": plan.client.code if plan.client else "", "period": preset_of(plan.begindate, plan.closedate),
              "begindate": plan.begindate.isoformat() if plan.begindate else "",
              "closedate": plan.closedate.isoformat() if plan.closedate else "",
              "amount": plain(plan.amount), "currency": plan.currency,
              "probability": plain(plan.probability), "title": plan.title,
              "assigned_by_id": str(plan.assigned_by_id or ""), "deals": linked,
              "back": request.args.get("back", "plans"), **series_values(plan.series)}
    return render_form(portal, values, plan_id, status=plan.status, linked_deals=linked_deals, plan=plan,
                       explanation=portal.explain(get_db(), plan, linked_deals, grace_days(current_app.config)))


@bp.post("/plans/save")
@frame_required
def save() -> Any:
    form = request.form
    plan_id = int(form["plan_id"]) if form.get("plan_id", "").isdigit() else None
    deal_values = form.getlist("deals")
    portal = web.data()
    values: dict[str, Any] = {k: form.get(k, "") for k in ("client", "period", "begindate", "closedate",
                                                          "amount", "currency", "probability",
                                                          "assigned_by_id", "title", "back",
                                                          *SERIES_KEYS)}
    linked_before = [int(d["id"]) for d in portal.plan_deals(plan_id)] if plan_id else []
    # a linked deal the form did not show (its list was reloaded, or it came after the page) stays linked
    shown = set(_deal_ids(form.getlist("shown")))
    deal_values = [*deal_values, *(str(d) for d in linked_before if d not in shown)]
    values["deals"] = _deal_ids(deal_values)
    client = Client.parse(form.get("client"))
    names = portal.client_names([client]) if client else {}
    ctx = FormContext(currencies=frozenset(portal.currencies()),
                      users=frozenset(u.id for u in portal.users()),
                      deal_clients=portal.deal_clients(values["deals"]),
                      known_clients=frozenset(names), decimals=portal.currency_decimals(),
                      linked=frozenset(linked_before), series=portal.schema.has_series)
    data, errors = validate(form, deal_values, ctx, portal_today(g.installation))
    if errors or data is None:
        return render_form(portal, values, plan_id, errors)
    if plan_id is None and form.get("confirm_overlap") != "1":  # a new plan like one the client has: intended?
        overlaps = portal.overlapping_plans(data.client, data.currency, data.begindate, data.closedate, plan_id)
        if overlaps:
            portal.fill_names(overlaps)
            return render_form(portal, values, plan_id, overlaps=overlaps)
    new_id = portal.save_plan(data, names.get(data.client, ""), plan_id, linked_before)
    db = get_db()  # the deals this person put on or took off the plan: the auto-link rule leaves them be
    for deal_id in set(data.deal_ids) - set(linked_before):
        linkstore.record_decision(db, g.installation.member_id, deal_id, new_id, g.frame_user.user_id, "form")
    for deal_id in set(linked_before) - set(data.deal_ids):
        linkstore.record_decision(db, g.installation.member_id, deal_id, 0, g.frame_user.user_id, "form")
    log.info("plan %s saved by user %s of %s", new_id, g.frame_user.user_id, g.installation.member_id)
    live.recompute_now(g.installation, new_id)  # the page we return to shows consistent figures
    return back_to(values["back"], saved=new_id)


@bp.post("/plans/<int:plan_id>/status")
@frame_required
def set_status(plan_id: int) -> Any:
    status = request.form.get("status", "")
    if status not in ("P", "F"):  # Cumplido (S) follows the won deals; the worker sets it
        abort(400)
    portal = web.data()
    until = None
    if status == "P":  # reopening a plan whose period ended asks until when it is followed again
        plan, today = portal.plan(plan_id), portal_today(g.installation)
        if plan.closedate is not None and plan.closedate < today:
            until = _date_or_none(request.form.get("closedate"))
            if until is None or until < today:
                return web.render("placements/notice.html", message=gettext(
                    "The period of this plan is over: choose until when it is followed again (today or later)."),
                    back_url=web.furl("plan_edit.edit", plan_id=plan_id, back=request.form.get("back", "plans"))), 400
    portal.set_status(plan_id, status, closedate=until)
    if until is not None:
        live.recompute_now(g.installation, plan_id)  # followed again at once, until the new end
    return back_to(request.form.get("back", "plans"), status_set=f"{status}{plan_id}")


@bp.post("/plans/<int:plan_id>/delete")
@frame_required
def delete(plan_id: int) -> Any:
    """Delete a plan (the form asked first): its deals are unlinked, their own figures untouched."""
    unlinked = web.data().delete_plan(plan_id)
    log.info("plan %s deleted by user %s of %s (%s deal(s) unlinked)", plan_id, g.frame_user.user_id,
             g.installation.member_id, unlinked)
    return back_to(request.form.get("back", "plans"), deleted=str(unlinked))


@web.notice_flag("deleted")
def _deleted_notice(value: str | None) -> dict[str, Any]:
    """``deleted=<deals unlinked>`` after deleting a plan."""
    if value and value.isdigit():
        return {"notice": ngettext("Plan deleted; its %(num)d deal was unlinked (its figures are untouched).",
                                   "Plan deleted; its %(num)d deals were unlinked (their figures are untouched).",
                                   int(value)) if int(value) else gettext("Plan deleted.")}
    return {}


@web.notice_flag("status_set")
def _status_notice(value: str | None) -> dict[str, Any]:
    """``status_set=F12`` / ``P12`` after closing or reopening plan 12: the page says which happened."""
    if value and value[:1] in ("F", "P") and value[1:].isdigit():
        text = gettext("Plan closed as not fulfilled.") if value[0] == "F" else gettext("Plan reopened.")
        return {"notice": text}
    return {}


@web.notice_flag("gap_deal")
def _gap_deal_notice(value: str | None) -> dict[str, Any]:
    if not value or not value.isdigit():
        return {}
    return {"notice": gettext("Deal %(deal)s was created for the remainder and linked to the plan.", deal=value)}


@bp.post("/plans/<int:plan_id>/gap-deal")
@frame_required
def gap_deal(plan_id: int) -> Any:
    """"Crear negociación por el pendiente": a deal for the amount no open deal covers (the newest snapshot's
    figure, at today's rates), for the plan's client, in its currency, closing inside the period (today, or
    the start when the period has not begun), linked to the plan."""
    portal = web.data()
    plan = portal.plan(plan_id)
    uncovered = burnup.outlook_for(plan)["uncovered"]
    today = portal_today(g.installation)
    back = request.form.get("back", "plans")
    if plan.status != "P" or not uncovered or plan.client is None or (plan.closedate and plan.closedate < today):
        return web.render("placements/notice.html", message=gettext(
            "This plan has no remainder left uncovered by open deals."),
            back_url=web.furl("plan_edit.edit", plan_id=plan_id, back=back)), 400
    closedate = max(today, plan.begindate) if plan.begindate else today
    if plan.closedate is not None:
        closedate = min(closedate, plan.closedate)
    title = gettext("Remainder of %(plan)s", plan=plan.title or f"#{plan.id}")
    deal_id = portal.add_gap_deal(plan, uncovered, closedate, title)
    log.info("plan %s: deal %s created for the remainder by user %s", plan_id, deal_id, g.frame_user.user_id)
    live.recompute_now(g.installation, plan_id)
    if back.startswith("deal:"):
        return web.go("deal_tab.show", deal_id=int(back[5:]), gap_deal=deal_id)
    return web.go("plan_edit.edit", plan_id=plan_id, back=back, gap_deal=deal_id)


def _date_or_none(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


@bp.get("/api/clients")
@frame_required
def clients() -> Any:
    """Companies and contacts matching ``q`` (search as you type)."""
    try:
        return jsonify(web.data().search_clients(request.args.get("q", "")))
    except B24Error as exc:
        log.warning("client search failed: %s", exc)
        return jsonify([]), 502


@bp.get("/api/deals")
@frame_required
def deals() -> Any:
    """The client's deals, for the form's 'deals to link' list."""
    client = Client.parse(request.args.get("client"))
    if client is None:
        return jsonify([])
    portal = web.data()
    plan_id = int(request.args["plan"]) if request.args.get("plan", "").isdigit() else 0
    try:
        rows = portal.client_deals(client)
    except B24Error as exc:
        log.warning("deal list failed: %s", exc)
        return jsonify([]), 502
    parent = portal.schema.parent_field
    return jsonify([{"id": int(d["id"]), "title": d.get("title") or f"#{d['id']}",
                     "amount": money(d.get("opportunity"), d.get("currencyId") or ""),
                     "won": d.get("stageSemanticId") == "S",
                     "plan": int(d.get(parent) or 0), "linked": bool(plan_id) and int(d.get(parent) or 0) == plan_id}
                    for d in rows])
