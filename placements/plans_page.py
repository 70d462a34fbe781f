"""The app's main page (``PLACEMENT=DEFAULT``): every plan the user may see, filtered, sorted, paged, totalled.

Bitrix24 POSTs the frame to ``/`` (api-reference/widgets/_includes/widget_data.md); after verification the
page redirects to GET ``/`` with the filter state in the URL, so views can be bookmarked and paged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, g, request
from flask_babel import gettext

from b24app import linkstore
from b24app.db import get_db
from b24app.rest.codec import BatchResult, Command
from b24app.rest.errors import B24Error
from b24app.schema import COMPANY, CONTACT, DEAL
from placements import export, live, web
from placements.frames import frame_required
from placements.plan_form import Client
from placements.plans_query import MONEY_SORTS, PAGE_SIZE, ListQuery, Totals, clients_of, sort_rows, sorted_here
from placements.portal_data import PortalData
from placements.reference_data import items_of, person_name

log = logging.getLogger(__name__)
bp = web.blueprint("plans")


def columns() -> list[tuple[str, str]]:
    return [("client", gettext("Client")), ("period", gettext("Period")),
            ("responsible", gettext("Responsible")), ("amount", gettext("Amount")),
            ("currency", gettext("Currency")), ("probability", gettext("Probability")),
            ("probable", gettext("Probable amount")), ("won", gettext("Won")),
            ("remainder", gettext("Remainder")), ("execution", gettext("Execution")),
            ("status", gettext("Status")), ("at_risk", gettext("At risk"))]


def list_back(query: ListQuery) -> str:
    """The form's ``back`` for this view of the list: after Guardar, Cerrar or Reabrir the same filter, sort and
    page come back (placements/plan_edit.py ``back_url``)."""
    args = query.to_args()
    return "plans:" + urlencode(args) if args else "plans"


def _estimate() -> int | None:
    """``n``: how many plans the page that linked here counted, so a scan of them needs no probe (a wrong
    or stale count only sizes the first batch)."""
    value = request.args.get("n", type=int)
    return value if value and value > 0 else None


def page_numbers(page: int, pages: int) -> list[int]:
    """1 … 4 5 [6] 7 8 … 100, with 0 standing for a gap."""
    wanted = {1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)}
    out: list[int] = []
    for n in sorted(wanted):
        if out and n - out[-1] > 1:
            out.append(0)
        out.append(n)
    return out


@web.notice_flag("decided")
def _decided_notice(value: str | None) -> dict[str, str]:
    """``decided=<deal id>`` after a deal of the "to decide" list was linked (see ``link_waiting``)."""
    return {"notice": gettext("Deal %(deal)s was linked to the chosen plan.", deal=value)} if (
        value and value.isdigit()) else {}


@dataclass
class Waiting:
    """A deal of the "to decide" list as the current user may see it."""

    entry: linkstore.Pending
    deal: dict[str, Any]
    client_name: str = ""
    client: Client | None = None


_DEAL_SELECT = ["id", "title", "companyId", "contactId", "closedate", "opportunity", "currencyId",
                "stageSemanticId"]


def to_decide_commands(portal: PortalData, entries: list[linkstore.Pending]) -> dict[str, Command]:
    """The batch commands the "to decide" list needs, known before the page is read (the deals waiting are
    the app's own, ``linkstore.pending``): the deals and the candidate plans as this user may read them, and
    the deals' client names through ``$result[td_deals][items][i][...]`` references (a row past the end reads
    as an empty id and matches nothing)."""
    if not entries:
        return {}
    commands: dict[str, Command] = {"td_deals": ("crm.item.list", {
        "entityTypeId": DEAL, "filter": {"@id": [e.deal_id for e in entries]},
        "select": [*_DEAL_SELECT, portal.schema.parent_field]})}
    plan_ids = sorted({c.id for e in entries for c in e.candidates})
    for n in range(0, len(plan_ids), 50):  # the candidates this user may see (their titles are shown)
        commands[f"td_p{n}"] = ("crm.item.list", {"entityTypeId": portal.eti,
                                                  "filter": {"@id": plan_ids[n:n + 50]}, "select": ["id"]})

    def refs(column: str) -> list[str]:
        return [f"$result[td_deals][items][{i}][{column}]" for i in range(len(entries))]

    commands["td_co"] = ("crm.item.list", {"entityTypeId": COMPANY, "select": ["id", "title"],
                                           "filter": {"@id": refs("companyId")}, "start": -1})
    commands["td_cn"] = ("crm.item.list", {"entityTypeId": CONTACT, "select": ["id", "name", "lastName"],
                                           "filter": {"@id": refs("contactId")}, "start": -1})
    return commands


def to_decide(portal: PortalData, entries: list[linkstore.Pending], result: BatchResult) -> list[Waiting]:
    """The deals waiting for a person to choose their plan (kept by the worker and reconcile), as this user
    may see them, from the answer to ``to_decide_commands`` (which rides in the page's batch): a deal or a
    candidate plan the user cannot read is left out, a deal linked or lost meanwhile leaves the list."""
    if not entries:
        return []
    for key in result.errors:
        if key in ("td_deals",) or key.startswith("td_p"):
            raise result.errors[key]
    db, member = get_db(), portal.inst.member_id
    parent = portal.schema.parent_field
    deals = {int(d["id"]): d for d in items_of(result.result.get("td_deals"))}
    visible = {int(p["id"]) for key in result.result if key.startswith("td_p")
               for p in items_of(result.result.get(key))}
    linked = [deal_id for deal_id, d in deals.items() if int(d.get(parent) or 0) or d.get("stageSemanticId") == "F"]
    linkstore.drop_pending(db, member, linked)
    shown = []
    for e in entries:
        if e.deal_id in deals and e.deal_id not in linked:
            e.candidates = [c for c in e.candidates if c.id in visible]
            if e.candidates:
                shown.append(Waiting(e, deals[e.deal_id]))
    for w in shown:
        w.client = next(iter(sorted(clients_of(w.deal), key=lambda c: c.kind != "company")), None)
    if "td_co" in result.errors or "td_cn" in result.errors:  # the names the usual way (one more call)
        names = portal.client_names({w.client for w in shown if w.client})
    else:
        names = {Client("company", int(i["id"])): str(i.get("title") or "") for i in items_of(
            result.result.get("td_co"))}
        names.update({Client("contact", int(i["id"])): person_name(i) for i in items_of(
            result.result.get("td_cn"))})
    for w in shown:
        w.client_name = names.get(w.client, "") if w.client else ""
    return shown


@bp.post("/plans/to-decide/<int:deal_id>/link")
@frame_required
def link_waiting(deal_id: int) -> Any:
    """One click in the "to decide" list: link the deal to the chosen plan (one of its client's), as the user."""
    plan_id = request.form.get("plan_id", "")
    if not plan_id.isdigit():
        abort(400)
    portal = web.data()
    deal, plan = portal.deal(deal_id), portal.plan(int(plan_id))
    if plan.client is None or plan.client not in clients_of(deal):
        return web.render("placements/notice.html", message=gettext(
            "Deal %(deal)s belongs to another client.", deal=deal_id), back_url=web.furl("plans.index")), 400
    portal.link_deal(deal_id, int(plan_id))
    linkstore.record_decision(get_db(), g.installation.member_id, deal_id, int(plan_id), g.frame_user.user_id,
                              source="list")
    log.info("deal %s linked to plan %s from the to-decide list by user %s", deal_id, plan_id, g.frame_user.user_id)
    live.recompute_now(g.installation, int(plan_id))
    kept = ListQuery.from_args({k[5:]: v for k, v in request.form.items() if k.startswith("list_")}).to_args()
    return web.go("plans.index", decided=deal_id, **kept)  # back to the list as it was (filters, sort, page)


@bp.post("/")
def enter() -> Any:
    user = web.enter_frame()
    if not isinstance(user, web.frames.FrameUser):
        return user
    # a view opened with filters (handler URL query or BX24.openApplication params) keeps them
    options = {str(k): str(v) for k, v in web.placement_options().items()}
    if options.get("plan", "").isdigit():  # an alert's link opens its plan (sync/alerts.py plan_link)
        return web.go("plan_edit.edit", plan_id=int(options["plan"]))
    return web.go("plans.index", **ListQuery.from_args({**request.args.to_dict(), **options}).to_args())


@bp.get("/")
@frame_required
def index() -> Any:
    if not g.installation.is_provisioned:
        return web.not_ready()
    query = ListQuery.from_args(request.args)
    portal = web.data()
    entries = linkstore.pending(get_db(), portal.inst.member_id)
    portal.ride(to_decide_commands(portal, entries))  # the "to decide" list rides in the page's batch
    rows, total, flt = portal.page(query, date.today(), _estimate())
    users, currencies = portal.users(), portal.currencies()
    sums = portal.cached_totals(flt)  # when not cached, the page loads them with a second request
    extra = totals_context(portal, sums) if sums is not None else {"totals": None}
    pages = max(1, -(-total // PAGE_SIZE))
    try:
        waiting = to_decide(portal, entries, portal.rider_answer())
    except B24Error as exc:  # the plans still show; the list comes back on the next view
        log.warning("the deals to decide could not be read: %s", exc)
        waiting = []
    base = portal.base_currency() if query.sort in MONEY_SORTS and not query.currency else ""
    # links to views the app sorts itself carry the count, so their scan is one call (see _estimate)
    sort_args = {key: {**query.sorted_by(key), **({"n": str(total)} if total and sorted_here(
        replace(query, sort=key)) else {})} for key, _label in columns()}
    scan_n = total if total and sorted_here(query) else None
    return web.render("placements/plans.html", query=query, rows=rows, total=total, pages=pages, base=base,
                      sort_args=sort_args, scan_n=scan_n, list_back=list_back(query),
                      page_numbers=page_numbers(query.page, pages), users=users, currencies=currencies,
                      columns=columns(), eti=portal.eti, waiting=waiting,
                      waiting_total=linkstore.pending_count(get_db(), portal.inst.member_id) if waiting else 0,
                      portal_problem=web.missing_fields_banner(portal.missing_fields), **extra,
                      **live.watch(row.id for row in rows))


def totals_context(portal: PortalData, sums: Totals) -> dict[str, Any]:
    """Totals per currency and the roll-up by responsible, with the responsibles' names."""
    user_names = {u.id: u.name for u in portal.users()}
    missing = {uid for uid, _ in sums.by_responsible if uid and uid not in user_names}
    if missing:
        user_names.update({u.id: u.name for u in portal.users_by_id(missing).values()})
    rollup = sorted(sums.by_responsible.items(), key=lambda kv: (user_names.get(kv[0][0], "").lower(), kv[0][1]))
    return {"totals": sums, "rollup": rollup, "user_names": user_names}


@bp.get("/plans/totals")
@frame_required
def totals() -> Any:
    """The totals block for the page's filter: every matching plan, read in fast mode (an HTML fragment)."""
    if not g.installation.is_provisioned:
        abort(404)
    query = ListQuery.from_args(request.args)
    portal = web.data()
    try:
        context = totals_context(portal, portal.totals(portal.filter_for(query, date.today()), _estimate()))
    except B24Error as exc:
        log.warning("totals failed: %s", exc)
        return web.render("placements/notice.html", message=gettext(
            "Bitrix24 did not answer in time. Please try again in a moment.")), 502
    return web.render("placements/_totals.html", **context)


@bp.get("/plans/export.<fmt>", endpoint="export")
@frame_required
def export_plans(fmt: str) -> Any:
    if fmt not in ("xlsx", "csv") or not g.installation.is_provisioned:
        abort(404)
    query = ListQuery.from_args(request.args)
    portal = web.data()
    rows = sort_rows(portal.all_rows(query, date.today()), query, portal.to_base())  # as the page sorts them
    body, mimetype = (export.to_xlsx(rows, columns(), g.ui_locale) if fmt == "xlsx"
                      else export.to_csv(rows, columns(), g.ui_locale))
    stem = gettext("sales-plans")
    name = f"{stem}-{date.today().isoformat()}.{fmt}"
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
