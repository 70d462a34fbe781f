"""The rate history: a set is kept only when it differs, in force from the portal's DATE_UPDATE."""

from __future__ import annotations

from datetime import UTC, datetime

from b24app import ratestore
from b24app.db import connect

USD = {"CURRENCY": "USD", "AMOUNT": "1.0000", "AMOUNT_CNT": "1", "DECIMALS": "2", "BASE": "Y"}


def eur(amount: str, updated: str = "") -> dict[str, str]:
    return {"CURRENCY": "EUR", "AMOUNT": amount, "AMOUNT_CNT": "1", "DECIMALS": "2", "BASE": "N",
            "DATE_UPDATE": updated, "FULL_NAME": "Euro"}


def test_a_set_is_recorded_once_and_a_change_is_in_force_from_its_date_update():
    db = connect(":memory:")
    first = datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert ratestore.record(db, "m", [USD, eur("1.0900")], "install", now=first)
    assert not ratestore.record(db, "m", [eur("1.0900", "2026-01-02T00:00:00+01:00"), USD], "read",
                                now=datetime(2026, 2, 1, tzinfo=UTC))  # same rates: nothing new
    changed_at = "2026-06-01T10:00:00+02:00"
    assert ratestore.record(db, "m", [USD, eur("1.0800", changed_at)], "event", now=datetime(2026, 6, 1, 9, 5,
                                                                                             tzinfo=UTC))
    sets = ratestore.history(db, "m")
    assert [since for since, _ in sets] == [first, datetime.fromisoformat(changed_at)]
    assert [r["AMOUNT"] for r in sets[1][1] if r["CURRENCY"] == "EUR"] == ["1.0800"]
    assert ratestore.history(db, "other") == []


def test_a_date_update_in_the_future_or_before_the_last_set_is_not_believed():
    db = connect(":memory:")
    ratestore.record(db, "m", [USD, eur("1.09")], "install", now=datetime(2026, 3, 1, tzinfo=UTC))
    now = datetime(2026, 3, 2, tzinfo=UTC)
    ratestore.record(db, "m", [USD, eur("1.08", "2026-02-01T00:00:00+00:00")], "event", now=now)
    assert ratestore.latest(db, "m")[0] == now
