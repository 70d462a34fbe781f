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

from placements import live, web
from placements.frames import FrameUser, frame_required
from placements.i18n import compact_money, nice_ceiling, period_label
from placements.plan_form import Client
from placements.plans_query import PlanRow

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
    base_y: float = 130.0  # the zero line
    left: float = 0.0  # where the bars start (the scale's labels are on the left of it)
    ticks: tuple[tuple[float, str], ...] = ()  # (y, label) of the scale: 0, half, top


def charts(rows: list[PlanRow], money: Any, limit: int = 12) -> list[Chart]:
    """One plan-vs-won chart per currency the client's plans are in, the most used first: amounts of
    different currencies never share a scale, and none is left out."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.currency] = counts.get(row.currency, 0) + 1
    order = sorted(counts, key=lambda c: (-counts[c], c))
    return [found for found in (chart([r for r in rows if r.currency == c], money, limit) for c in order) if found]


def chart(rows: list[PlanRow], money: Any, limit: int = 12) -> Chart | None:
    """Plan vs won for the client's most recent periods in the most used currency (oldest on the left),
    with a scale (0, half and a round top value) and period names in the user's language."""
    if not rows:
        return None
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.currency] = counts.get(row.currency, 0) + 1
    currency = max(counts, key=lambda c: counts[c])
    chosen = [r for r in rows if r.currency == currency][:limit][::-1]
    top = nice_ceiling(max([max(r.amount, r.won) for r in chosen] + [Decimal(1)]))
    plot_h, slot, pad, left = 120.0, 56.0, 10.0, 78.0
    base_y = pad + plot_h
    bars = tuple(
        Bar(period_label(r.begindate, r.closedate), left + 10 + i * slot, float(r.amount / top) * plot_h,
            float(r.won / top) * plot_h, money(r.amount, currency), money(r.won, currency))
        for i, r in enumerate(chosen))
    ticks = tuple((base_y - plot_h * share, compact_money(top * Decimal(str(share)), currency) if share else "0")
                  for share in (0, 0.5, 1))
    return Chart(currency, int(left + 20 + slot * len(chosen)), int(base_y + 30), bars, base_y, left, ticks)


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
        return web.not_ready()
    client = Client(kind, client_id)
    portal = web.data()
    name = portal.client_names([client]).get(client, "")
    rows = portal.client_plans(client)
    from placements.i18n import money

    return web.render("placements/client_tab.html", client=client, client_name=name, rows=rows,
                      charts=charts(rows, money), eti=g.installation.entity_type_id,
                      title=gettext("Sales plans"), **live.watch(row.id for row in rows))
