"""Company and contact card tabs (``CRM_COMPANY_DETAIL_TAB``, ``CRM_CONTACT_DETAIL_TAB``): the client's plans.

One handler serves both; ``PLACEMENT`` says which card opened it and ``PLACEMENT_OPTIONS.ID`` which client
(api-reference/widgets/crm/detail-tab.md). The plan-vs-won chart is inline SVG drawn on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import abort, g, request
from flask_babel import gettext

from b24app.rest.errors import B24Error
from placements import web
from placements.frames import FrameUser, frame_required
from placements.plan_form import Client
from placements.plans_page import not_ready, portal_error
from placements.plans_query import PlanRow, month_label

bp = web.blueprint("client_tab")
KINDS = {"CRM_COMPANY_DETAIL_TAB": "company", "CRM_CONTACT_DETAIL_TAB": "contact"}


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    plan_h: float
    won_h: float
    plan_text: str
    won_text: str


@dataclass(frozen=True)
class Chart:
    currency: str
    width: int
    height: int
    bars: tuple[Bar, ...]


def chart(rows: list[PlanRow], money: Any, limit: int = 12) -> Chart | None:
    """Plan vs won for the client's most recent periods in the most used currency (oldest on the left)."""
    if not rows:
        return None
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.currency] = counts.get(row.currency, 0) + 1
    currency = max(counts, key=lambda c: counts[c])
    chosen = [r for r in rows if r.currency == currency][:limit][::-1]
    top = max([max(r.amount, r.won) for r in chosen] + [Decimal(1)])
    plot_h, slot = 120.0, 48.0
    bars = tuple(
        Bar(month_label(r.begindate, r.closedate)[:10], 10 + i * slot, float(r.amount / top) * plot_h,
            float(r.won / top) * plot_h, money(r.amount, currency), money(r.won, currency))
        for i, r in enumerate(chosen))
    return Chart(currency, int(20 + slot * len(chosen)), int(plot_h + 30), bars)


@bp.post("/placements/client")
def enter() -> Any:
    user = web.enter_frame()
    if not isinstance(user, FrameUser):
        return user
    kind = KINDS.get(request.form.get("PLACEMENT", ""))
    client_id = str(web.placement_options().get("ID") or "")
    if kind is None or not client_id.isdigit():
        abort(400)
    return web.go("client_tab.show", kind=kind, client_id=int(client_id))


@bp.get("/placements/client/<kind>/<int:client_id>")
@frame_required
def show(kind: str, client_id: int) -> Any:
    if kind not in ("company", "contact"):
        abort(404)
    if not g.installation.is_provisioned:
        return not_ready()
    client = Client(kind, client_id)
    portal = web.data()
    try:
        name = portal.client_names([client]).get(client, "")
        rows = portal.client_plans(client)
    except B24Error as exc:
        return portal_error(exc)
    from placements.i18n import money

    return web.render("placements/client_tab.html", client=client, client_name=name, rows=rows,
                      chart=chart(rows, money), eti=g.installation.entity_type_id,
                      title=gettext("Sales plans"))
