"""Languages: Bitrix24's LANG picks the catalog; catalogs compile on a fresh machine; locale formatting."""

from __future__ import annotations

import shutil
from datetime import date

from babel.messages.mofile import read_mo

from placements import i18n
from tests.unit.placements.conftest import frame_form


def test_bitrix_language_ids_map_to_our_locales():
    assert [i18n.locale_for(x) for x in ("la", "es", "en", "ru", "ua", "de", "", None)] == \
        ["es", "es", "en", "ru", "ru", "en", "es", "es"]


def test_catalogs_compile_from_the_po_files_alone(tmp_path):
    source = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, source, ignore=shutil.ignore_patterns("*.mo"))
    i18n.compile_catalogs(source)
    for lang, expected in (("es", "Planes de ventas"), ("ru", "Планы продаж")):
        with (source / lang / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
            catalog = read_mo(handle)
        assert catalog.get("Sales plans").string == expected


def test_every_message_is_translated_in_spanish_and_russian():
    from babel.messages.pofile import read_po

    for lang in ("es", "ru"):
        with (i18n.TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            catalog = read_po(handle)
        untranslated = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple)
                                                             else m.string)]
        assert untranslated == [], lang


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
