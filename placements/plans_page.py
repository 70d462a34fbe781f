"""The app's main page (``PLACEMENT=DEFAULT``): every plan the user may see, filtered, sorted, paged, totalled.

Bitrix24 POSTs the frame to ``/`` (api-reference/widgets/_includes/widget_data.md); after verification the
page redirects to GET ``/`` with the filter state in the URL, so views can be bookmarked and paged.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, g, request
from flask_babel import gettext

from b24app.rest.errors import B24Error
from placements import export, live, web
from placements.frames import frame_required
from placements.plans_query import MONEY_SORTS, PAGE_SIZE, ListQuery, Totals, sort_rows, sorted_here
from placements.portal_data import PortalData

log = logging.getLogger(__name__)
bp = web.blueprint("plans")


def columns() -> list[tuple[str, str]]:
    return [("client", gettext("Client")), ("period", gettext("Period")),
            ("responsible", gettext("Responsible")), ("amount", gettext("Amount")),
            ("currency", gettext("Currency")), ("probability", gettext("Probability")),
            ("probable", gettext("Probable amount")), ("won", gettext("Won")),
            ("remainder", gettext("Remainder")), ("execution", gettext("Execution")),
            ("status", gettext("Status"))]


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


@bp.post("/")
def enter() -> Any:
    user = web.enter_frame()
    if not isinstance(user, web.frames.FrameUser):
        return user
    # a view opened with filters (handler URL query or BX24.openApplication params) keeps them
    options = {str(k): str(v) for k, v in web.placement_options().items()}
    return web.go("plans.index", **ListQuery.from_args({**request.args.to_dict(), **options}).to_args())


@bp.get("/")
@frame_required
def index() -> Any:
    if not g.installation.is_provisioned:
        return web.not_ready()
    query = ListQuery.from_args(request.args)
    portal = web.data()
    rows, total, flt = portal.page(query, date.today(), _estimate())
    users, currencies = portal.users(), portal.currencies()
    sums = portal.cached_totals(flt)  # when not cached, the page loads them with a second request
    extra = totals_context(portal, sums) if sums is not None else {"totals": None}
    pages = max(1, -(-total // PAGE_SIZE))
    base = portal.base_currency() if query.sort in MONEY_SORTS and not query.currency else ""
    # links to views the app sorts itself carry the count, so their scan is one call (see _estimate)
    sort_args = {key: {**query.sorted_by(key), **({"n": str(total)} if total and sorted_here(
        replace(query, sort=key)) else {})} for key, _label in columns()}
    scan_n = total if total and sorted_here(query) else None
    return web.render("placements/plans.html", query=query, rows=rows, total=total, pages=pages, base=base,
                      sort_args=sort_args, scan_n=scan_n, list_back=list_back(query),
                      page_numbers=page_numbers(query.page, pages), users=users, currencies=currencies,
                      columns=columns(), eti=portal.eti, **extra, **live.watch(row.id for row in rows))


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
