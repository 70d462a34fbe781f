"""Automatic plan titles name the period in the user's language, like the client tab's chart (F15)."""

from __future__ import annotations

from datetime import date

import pytest
from flask import g

from placements.i18n import period_label
from placements.portal_data import plan_title


@pytest.mark.parametrize("locale, quarter, month", [
    ("es", "Acme · T4 2026", "Acme · dic 2026"),
    ("en", "Acme · Q4 2026", "Acme · Dec 2026"),
    ("ru", "Acme · 4 кв. 2026", "Acme · дек. 2026"),
])
def test_auto_titles_use_the_localised_period(app, locale, quarter, month):
    with app.test_request_context("/"):
        g.ui_locale = locale
        title = plan_title("Acme", date(2026, 10, 1), date(2026, 12, 31))
        assert title == quarter
        assert title.endswith(period_label(date(2026, 10, 1), date(2026, 12, 31)))  # same words as the chart
        assert plan_title("Acme", date(2026, 12, 1), date(2026, 12, 31)) == month
        assert plan_title("Acme", date(2026, 1, 1), date(2026, 12, 31)) == "Acme · 2026"
        assert "2026" in plan_title("Acme", date(2026, 1, 5), date(2026, 2, 3))
