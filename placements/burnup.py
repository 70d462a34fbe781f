"""A plan's burn-up chart, drawn on the server as SVG from its snapshots (``planstore.plan_history``; the past
never calls the portal).

Over the plan's period (x: days, y: money in the plan currency): the plan line (the amount, dashed), the even
pace from 0 to the amount, the won amount (one point per day with a snapshot: the day's last one) and the
expected finish (``FORECAST``) of those days. A ``viewBox`` and no fixed size, so it scales from 360 px to a
wide screen; ``<title>``/``<desc>`` name it for screen readers, and ``text_rows`` is the same data as a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup, escape

from b24app import forecast

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 76, 16, 16, 40  # plot margins inside the viewBox (room for 16-unit labels)


@dataclass(frozen=True)
class DayPoint:
    day: date
    won: Decimal
    forecast: Decimal | None
    at_risk: bool
    status: str


def _dec(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def day_points(history: Iterable[Mapping[str, Any]]) -> list[DayPoint]:
    """One point per day that has a snapshot (its last one), oldest first; snapshots without a day use
    the date they were taken."""
    by_day: dict[date, DayPoint] = {}
    for row in history:
        text = str(row.get("day") or row.get("taken_at") or "")[:10]
        try:
            day = date.fromisoformat(text)
        except ValueError:
            continue
        by_day[day] = DayPoint(day, _dec(row.get("won")) or Decimal(0), _dec(row.get("forecast")),
                               bool(row.get("at_risk")), str(row.get("status") or ""))
    return [by_day[d] for d in sorted(by_day)]


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def svg(points: list[DayPoint], amount: Decimal, begin: date | None, close: date | None,
        labels: Mapping[str, str], money: Any = str, axis_money: Any = None) -> Markup:
    """The chart. ``labels``: title, desc, won, forecast, plan, pace (already translated); ``money`` formats
    an amount for the points' titles, ``axis_money`` (default ``money``) for the axis."""
    axis_money = axis_money or money
    first = begin or (points[0].day if points else date.today())
    last = close or (points[-1].day if points else first)
    span = max((last - first).days, 1)
    top = max([amount, *(p.won for p in points), *(p.forecast for p in points if p.forecast is not None)])
    top = top if top > 0 else Decimal(1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + plot_w * min(max((day - first).days, 0), span) / span

    def y(value: Decimal) -> float:
        return TOP + plot_h * (1 - float(value / top))

    parts = [f'<svg class="burnup" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="burnup-title '
             f'burnup-desc" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="burnup-title">{escape(labels.get("title", ""))}</title>',
             f'<desc id="burnup-desc">{escape(labels.get("desc", ""))}</desc>',
             f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/>',
             f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
             f'<line class="plan-line" x1="{LEFT}" y1="{_fmt(y(amount))}" x2="{LEFT + plot_w}" '
             f'y2="{_fmt(y(amount))}"><title>{escape(labels.get("plan", ""))}</title></line>',
             f'<line class="pace-line" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" '
             f'y2="{_fmt(y(amount))}"><title>{escape(labels.get("pace", ""))}</title></line>',
             f'<text class="tick" x="{LEFT - 6}" y="{_fmt(y(amount) + 4)}" text-anchor="end">'
             f'{escape(axis_money(amount))}</text>',
             f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_h + 4}" text-anchor="end">0</text>',
             f'<text class="tick" x="{LEFT}" y="{HEIGHT - 10}">{first.isoformat()}</text>',
             f'<text class="tick" x="{LEFT + plot_w}" y="{HEIGHT - 10}" text-anchor="end">{last.isoformat()}</text>']
    if points:
        won_path = " ".join(f"{_fmt(x(p.day))},{_fmt(y(p.won))}" for p in points)
        parts.append(f'<polyline class="won-line" points="{won_path}"/>')
        expected = [p for p in points if p.forecast is not None]
        if expected:
            path = " ".join(f"{_fmt(x(p.day))},{_fmt(y(p.forecast or Decimal(0)))}" for p in expected)
            parts.append(f'<polyline class="forecast-line" points="{path}"/>')
        for p in expected:
            cy = _fmt(y(p.forecast or Decimal(0)))
            parts.append(f'<circle class="forecast-point" cx="{_fmt(x(p.day))}" cy="{cy}" '
                         f'r="3"><title>{p.day.isoformat()}: {escape(labels.get("forecast", ""))} '
                         f'{escape(money(p.forecast))}</title></circle>')
        for p in points:
            parts.append(f'<circle class="won-point" cx="{_fmt(x(p.day))}" cy="{_fmt(y(p.won))}" r="4">'
                         f'<title>{p.day.isoformat()}: {escape(labels.get("won", ""))} {escape(money(p.won))}'
                         f'</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def outlook(history: Sequence[Mapping[str, Any]], plan: Any, money: Any, labels: Mapping[str, str],
            axis_money: Any = None, today: date | None = None) -> dict[str, Any]:
    """What the plan's outlook section shows (``_outlook.html``): the forecast and flag the plan holds, the open
    pipeline and the amount no open deal covers (from the newest snapshot), coverage and pace (as of ``today``,
    the portal's date), the chart and its rows."""
    points = day_points(history)
    latest = history[-1] if history else {}
    pipeline = _dec(latest.get("open_pipeline"))
    won = plan.won
    uncovered = max(plan.amount - won - pipeline, Decimal(0)) if pipeline is not None else None
    coverage, pace = (forecast.coverage_and_pace(plan.amount, won, plan.execution, pipeline, plan.begindate,
                                                 plan.closedate, today) if today is not None else (None, None))
    return {"plan": plan, "points": points, "open_pipeline": pipeline, "uncovered": uncovered,
            "coverage": coverage, "pace": pace,
            "chart": svg(points, plan.amount, plan.begindate, plan.closedate, labels, money, axis_money)}


def outlook_for(plan: Any) -> dict[str, Any]:
    """``outlook`` for the request's installation and ``plan`` (a ``PlanRow``): snapshots from the app's DB."""
    from flask import g
    from flask_babel import gettext

    from b24app.db import get_db
    from b24app.planstore import plan_history
    from placements.i18n import compact_money, money
    from sync.recompute import portal_today

    def fmt(value: Any) -> str:
        return money(value, plan.currency)

    def axis(value: Any) -> str:
        return compact_money(value, plan.currency)

    labels = {"title": gettext("Burn-up of the plan “%(title)s”", title=plan.title or plan.id),
              "desc": gettext("Won amount and expected finish by day over the plan's period, against the plan "
                              "amount and the even pace; the same data follows as a table."),
              "won": gettext("Won"), "forecast": gettext("Expected finish"), "plan": gettext("Plan"),
              "pace": gettext("Even pace")}
    return outlook(plan_history(get_db(), g.installation.member_id, plan.id), plan, fmt, labels, axis,
                   today=portal_today(g.installation))
