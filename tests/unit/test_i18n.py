"""Languages: Bitrix24's LANG picks the catalog; catalogs compile on a fresh machine and are complete."""

from __future__ import annotations

import shutil

from babel.messages.mofile import read_mo

from b24app import i18n


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
