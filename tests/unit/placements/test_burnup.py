"""The burn-up chart (placements/burnup.py): one point per day with snapshots, drawn from the app's DB only."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from b24app import planstore
from b24app.db import connect
from placements import burnup

LABELS = {"title": "Burn-up <Plan>", "desc": "won by day", "won": "Won", "forecast": "Expected", "plan": "Plan",
          "pace": "Even pace"}


def history(tmp_path, days, per_day=1):
    db = connect(tmp_path / "b.db")
    for n, day in enumerate(days):
        for _ in range(per_day):
            planstore.add_snapshot(db, "m1", 7, amount="10000", currency="USD", won=str(1000 * (n + 1)),
                                   remainder="0", execution="0", probable="0", status="P",
                                   forecast=str(5000 + 100 * n), open_pipeline="9000", at_risk=n % 2 == 0,
                                   day=day.isoformat(), kind=planstore.DAILY)
    planstore.add_snapshot(db, "m1", 8, amount="1", currency="USD", won="1", remainder="0", execution="0",
                           probable="0", status="P", day=days[0].isoformat())  # another plan: not drawn
    return planstore.plan_history(db, "m1", 7)


def test_snapshots_on_five_days_draw_five_points(tmp_path):
    days = [date(2026, 1, d) for d in (2, 5, 6, 9, 14)]
    points = burnup.day_points(history(tmp_path, days, per_day=3))  # several snapshots a day: the last counts
    assert [p.day for p in points] == days and points[-1].won == Decimal(5000)
    chart = str(burnup.svg(points, Decimal(10000), date(2026, 1, 1), date(2026, 1, 30), LABELS))
    assert chart.count('class="won-point"') == 5 and chart.count('class="forecast-point"') == 5
    assert 'viewBox="0 0 640 260"' in chart and "width=" not in chart.split(">")[0]  # scales with its box
    assert "<title id=\"burnup-title\">Burn-up &lt;Plan&gt;</title>" in chart and "<desc id=\"burnup-desc\">" in chart


def test_points_sit_on_their_day_and_value(tmp_path):
    points = burnup.day_points(history(tmp_path, [date(2026, 1, 1), date(2026, 1, 30)]))
    chart = str(burnup.svg(points, Decimal(10000), date(2026, 1, 1), date(2026, 1, 30), LABELS))
    xs = [float(v) for v in re.findall(r'class="won-point" cx="([\d.]+)"', chart)]
    ys = [float(v) for v in re.findall(r'class="won-point" cx="[\d.]+" cy="([\d.]+)"', chart)]
    assert xs == [burnup.LEFT, burnup.WIDTH - burnup.RIGHT]  # the period's first and last day: both ends
    plot_h = burnup.HEIGHT - burnup.TOP - burnup.BOTTOM
    assert ys == [round(burnup.TOP + plot_h * 0.9, 1), round(burnup.TOP + plot_h * 0.8, 1)]  # 1,000 and 2,000 of 10,000


def test_no_history_draws_the_plan_line_only():
    chart = str(burnup.svg([], Decimal(100), date(2026, 1, 1), date(2026, 1, 30), LABELS))
    assert 'class="plan-line"' in chart and "won-point" not in chart
