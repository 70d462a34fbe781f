"""The plans page's URL state and how it becomes crm.item.list filter/order; totals per currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from b24app.schema import PlanSchema
from placements.plans_query import (
    ClientMatch,
    ListQuery,
    build_filter,
    build_order,
    month_label,
    row_from_item,
    totals,
)

SCHEMA = PlanSchema(1030, {"probability": "ufCrm5Probability", "won": "ufCrm5Executed",
                           "remainder": "ufCrm5Remainder", "execution": "ufCrm5Execution",
                           "probable": "ufCrm5Probable"},
                    {"P": "DT1030_7:NEW", "S": "DT1030_7:SUCCESS", "F": "DT1030_7:FAIL"})
TODAY = date(2026, 11, 27)


def test_the_url_round_trips_and_drops_defaults():
    args = {"status": "s", "responsible": "3", "q": " acme ", "period": "custom", "from": "2026-01-01",
            "to": "2026-03-31", "currency": "eur", "sort": "won", "dir": "asc", "page": "4"}
    query = ListQuery.from_args(args)
    assert query.to_args() == {"status": "S", "responsible": "3", "q": "acme", "period": "custom",
                               "from": "2026-01-01", "to": "2026-03-31", "currency": "EUR", "sort": "won",
                               "dir": "asc", "page": "4"}
    assert ListQuery.from_args({}).to_args() == {}
    assert ListQuery.from_args({"sort": "evil; drop", "dir": "sideways", "page": "-2", "status": "X"}) == ListQuery()


def test_sorting_a_column_toggles_and_resets_the_page():
    query = ListQuery(sort="amount", direction="asc", page=3)
    assert query.sorted_by("amount") == {"sort": "amount"}  # desc is the default
    assert query.sorted_by("won") == {"sort": "won", "dir": "asc"}


def test_filter_and_order_for_the_portal():
    query = ListQuery(status="F", responsible=2, currency="USD", period="quarter", sort="remainder")
    assert build_filter(query, SCHEMA, TODAY) == {
        "stageId": "DT1030_7:FAIL", "assignedById": 2, "currencyId": "USD",
        "<=begindate": "2026-12-31", ">=closedate": "2026-10-01"}
    assert build_order(query, SCHEMA) == {"ufCrm5Remainder": "DESC", "id": "DESC"}
    assert build_order(ListQuery(sort="amount", direction="asc"), SCHEMA) == {"opportunity": "ASC", "id": "ASC"}


def test_client_search_becomes_an_id_filter_or_matches_nothing():
    query = ListQuery(q="acme")
    assert build_filter(query, SCHEMA, TODAY, ClientMatch()) is None
    assert build_filter(query, SCHEMA, TODAY, ClientMatch((5, 6), ())) == {"@companyId": [5, 6]}
    both = build_filter(query, SCHEMA, TODAY, ClientMatch((5,), (7,)))
    assert both == {"0": {"logic": "OR", "0": {"@companyId": [5]}, "1": {"@contactId": [7]}}}


def test_rows_and_totals_keep_currencies_apart():
    items = [
        {"id": 1, "companyId": 5, "opportunity": 1000, "currencyId": "USD", "assignedById": 2,
         "stageId": "DT1030_7:SUCCESS", "ufCrm5Executed": 1200, "ufCrm5Remainder": 0, "ufCrm5Execution": 120,
         "ufCrm5Probability": 50, "ufCrm5Probable": 500},
        {"id": 2, "contactId": 7, "opportunity": "300.50", "currencyId": "EUR", "assignedById": 2,
         "stageId": "DT1030_7:NEW", "ufCrm5Probability": 20},  # not computed yet: derived
        {"id": 3, "companyId": 6, "opportunity": 200, "currencyId": "USD", "assignedById": 3,
         "stageId": "DT1030_7:NEW"},
    ]
    rows = [row_from_item(i, SCHEMA) for i in items]
    assert rows[0].status == "S" and rows[0].bar == 100 and rows[1].client.code == "C_7"
    assert rows[1].probable == Decimal("60.1") and rows[1].remainder == Decimal("300.50")
    result = totals(rows)
    assert list(result.by_currency) == ["EUR", "USD"]
    assert result.by_currency["USD"].amount == 1200 and result.by_currency["USD"].won == 1200
    assert result.by_currency["USD"].remainder == 200 and result.by_currency["EUR"].probable == Decimal("60.1")
    assert result.by_responsible[(2, "USD")].count == 1 and result.by_responsible[(3, "USD")].amount == 200


def test_period_names():
    assert month_label(date(2026, 11, 1), date(2026, 11, 30)) == "2026-11"
    assert month_label(date(2026, 10, 1), date(2026, 12, 31)) == "2026-Q4"
    assert month_label(date(2026, 1, 1), date(2026, 12, 31)) == "2026"
    assert month_label(date(2026, 1, 5), date(2026, 2, 3)) == "2026-01-05…2026-02-03"


def test_a_reversed_custom_period_matches_nothing_instead_of_the_plans_around_it():
    reversed_ = ListQuery.from_args({"period": "custom", "from": "2026-12-01", "to": "2026-01-01"})
    assert reversed_.period_reversed and build_filter(reversed_, SCHEMA, TODAY) is None
    right = ListQuery.from_args({"period": "custom", "from": "2026-01-01", "to": "2026-12-01"})
    assert not right.period_reversed and build_filter(right, SCHEMA, TODAY)["<=begindate"] == "2026-12-01"
