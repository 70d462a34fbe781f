"""The frames in the user's language: pages in Russian and English, locale formatting."""

from __future__ import annotations

from datetime import date

from placements import i18n
from tests.unit.placements.conftest import frame_form


def test_money_numbers_and_dates_follow_the_locale():
    assert i18n.money(1234.5, "EUR", "es").replace("\xa0", " ") == "1.234,50 €"
    assert i18n.money(1234.5, "USD", "en") == "$1,234.50"
    assert i18n.money(1234.5, "RUB", "ru").replace("\xa0", " ") == "1 234,50 ₽"
    assert i18n.money(1000, "JPY", "en") == "¥1,000"  # the currency's own decimals
    assert i18n.percent(45.67, "es").replace("\xa0", " ") == "45,7 %"
    assert i18n.day(date(2026, 11, 1), "es") == "1 nov 2026"
    assert i18n.day(date(2026, 11, 1), "en") == "Nov 1, 2026"


def test_the_pages_speak_russian_and_english(client, inst, fake):
    russian = client.post("/?LANG=ru", data=frame_form())
    page = client.get(russian.headers["Location"]).get_data(as_text=True)
    assert "Планы продаж" in page and "Новый план" in page and 'lang="ru"' in page
    english = client.post("/?LANG=en", data=frame_form())
    page = client.get(english.headers["Location"]).get_data(as_text=True)
    assert "Sales plans" in page and "New plan" in page and 'lang="en"' in page


def test_periods_are_compact_with_the_year_once():
    def span(begin, end, locale):
        return i18n.span(begin, end, locale).replace("\xa0", " ").replace("\u2009", " ").replace("\u202f", " ")

    assert span(date(2026, 10, 1), date(2026, 12, 31), "es") == "1 oct – 31 dic 2026"
    assert span(date(2026, 10, 1), date(2026, 12, 31), "en") == "Oct 1 – Dec 31, 2026"
    assert span(date(2026, 10, 1), date(2026, 12, 31), "ru") == "1 окт. — 31 дек. 2026 г."
    assert span(date(2026, 12, 1), date(2027, 1, 31), "es") == "1 dic 2026 – 31 ene 2027"
