"""Money in the portal's own currency formats (issue 16 item 13): ``FORMAT_STRING``, ``DEC_POINT``,
``THOUSANDS_VARIANT`` / ``THOUSANDS_SEP``, ``DECIMALS`` and ``HIDE_ZERO`` of the user's language, and today's
locale formatting when the portal has no format for it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from placements import i18n
from placements.i18n import CurrencyFormat, portal_formats

RUBLE = {"FORMAT_STRING": "#&nbsp;&#8381;", "DEC_POINT": ",", "THOUSANDS_VARIANT": "S", "THOUSANDS_SEP": None,
         "DECIMALS": "2", "HIDE_ZERO": "N"}


@pytest.mark.parametrize(("entry", "value", "shown"), [
    (RUBLE, "1234567.5", "1 234 567,50\xa0₽"),  # S: a plain space; the entities decoded
    ({**RUBLE, "THOUSANDS_VARIANT": "B"}, "1234567.5", "1\xa0234\xa0567,50\xa0₽"),
    ({**RUBLE, "THOUSANDS_VARIANT": "N"}, "1234567.5", "1234567,50\xa0₽"),
    ({**RUBLE, "THOUSANDS_VARIANT": "D"}, "1234567.5", "1.234.567,50\xa0₽"),
    ({"FORMAT_STRING": "$#", "DEC_POINT": ".", "THOUSANDS_VARIANT": "C", "DECIMALS": "2"}, "999.995", "$1,000.00"),
    ({"FORMAT_STRING": "# CAD", "DEC_POINT": ".", "THOUSANDS_SEP": "&nbsp;", "DECIMALS": "2"}, "1234",
     "1\xa0234.00 CAD"),
    ({"FORMAT_STRING": "#'", "DEC_POINT": ".", "THOUSANDS_SEP": "'", "DECIMALS": "0"}, "1234.5", "1'235'"),
    ({**RUBLE, "HIDE_ZERO": "Y"}, "1000.004", "1 000\xa0₽"),  # whole once rounded: no ",00"
    ({**RUBLE, "HIDE_ZERO": "Y"}, "1000.5", "1 000,50\xa0₽"),
    (RUBLE, "-1234.5", "-1 234,50\xa0₽"),  # the sign before the whole
    (RUBLE, "0", "0,00\xa0₽"),
    (RUBLE, "123", "123,00\xa0₽"),
])
def test_a_portal_format_writes_the_amount_its_way(entry, value, shown):
    fmt = CurrencyFormat.of(entry)
    assert fmt is not None and fmt.format(Decimal(value)) == shown


def test_a_format_without_a_number_place_is_not_used():
    assert CurrencyFormat.of({"FORMAT_STRING": "руб."}) is None and CurrencyFormat.of(None) is None


def test_the_users_language_picks_the_entry_and_the_list_fields_count_for_the_portals_language():
    rows = [{"CURRENCY": "RUB", "LID": "la", "FORMAT_STRING": "#&nbsp;RUB", "DEC_POINT": ",", "THOUSANDS_SEP": ".",
             "DECIMALS": "2", "LANG": {"ru": RUBLE, "en": {**RUBLE, "FORMAT_STRING": "&#8381;#", "DEC_POINT": ".",
                                                           "THOUSANDS_VARIANT": "C"}}},
            {"CURRENCY": "USD", "LID": "la", "FORMAT_STRING": "#&nbsp;US$", "DEC_POINT": ",", "THOUSANDS_SEP": ".",
             "DECIMALS": "2"}]  # no LANG (its get failed or was past MAX_FORMATS): the list's fields, for la only
    assert portal_formats(rows, "ru")["RUB"].format(Decimal(1234)) == "1 234,00\xa0₽"
    assert portal_formats(rows, "en")["RUB"].format(Decimal(1234)) == "₽1,234.00"
    assert portal_formats(rows, "la")["RUB"].format(Decimal(1234)) == "1.234,00\xa0RUB"
    assert portal_formats(rows, "la")["USD"].format(Decimal(1234)) == "1.234,00\xa0US$"
    assert "USD" not in portal_formats(rows, "en") and "USD" not in portal_formats(rows, "ru")


def test_money_uses_the_frames_formats_and_falls_back_to_the_locale(app):
    from flask import g

    with app.test_request_context("/"):
        g.ui_locale = "ru"
        g.currency_formats = {"RUB": CurrencyFormat.of(RUBLE)}
        g.currency_decimals = {"RUB": 2, "USD": 0}
        assert i18n.money(Decimal("1234567.5"), "RUB") == "1 234 567,50\xa0₽"
        assert i18n.money(Decimal("1234567.5"), "RUB", decimals=0) == "1 234 568\xa0₽"  # a caller's decimals
        # a currency without a portal format: today's locale formatting with the portal's decimals
        assert i18n.money(Decimal("1234.5"), "USD") == "1\xa0235\xa0$"
        # another locale asked for explicitly (not the frame user's): the locale's formatting
        assert i18n.money(Decimal("1234.5"), "RUB", "es") == "1.234,50\xa0RUB"
