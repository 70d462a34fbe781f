"""The grid's changed cells become a sheet in the import's wide layout (placements/grid.py grid_of_payload), so
the grid and a file share one reader: Spanish number text, cleared cells counted (never a deletion)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from b24app.sheet import ClientRef, parse_grids
from placements.grid import cell_text, grid_of_payload


def test_changed_cells_read_as_a_wide_sheet():
    grid, cleared = grid_of_payload({"periods": ["2027-01", "2027-02", "2027-03"], "rows": [
        {"client": "CO_5", "currency": "EUR", "probability": "60", "cells": {"2027-01": "1.234,50", "2027-03": ""}},
        {"client": "contact:7", "cells": {"2027-02": " 2.000 "}}, "not a row"]})
    assert cleared == 1
    parsed = parse_grids([grid], "es")
    assert parsed.ok, [p.text() for p in parsed.problems]
    assert [(e.client, e.begin, e.amount, e.currency, e.probability) for e in parsed.entries] == [
        (ClientRef("company", 5), date(2027, 1, 1), Decimal("1234.50"), "EUR", 60),
        (ClientRef("contact", 7), date(2027, 2, 1), Decimal(2000), None, None)]


@pytest.mark.parametrize("bad", [[], "x", 3])
def test_a_payload_that_is_not_an_object_is_refused(bad):
    with pytest.raises(ValueError):
        grid_of_payload(bad)


def test_cell_text_is_what_a_person_types():
    from flask import Flask

    from placements import i18n

    app = Flask(__name__)
    i18n.init_app(app)
    with app.test_request_context():
        from flask import g

        g.ui_locale = "es"
        assert cell_text(Decimal("1234.50")) == "1234,50" and cell_text(Decimal(2000)) == "2000"
        assert cell_text(None) == ""
