"""Languages of every page the app shows: Bitrix24 ``LANG`` -> a UI locale, and the message catalogs.

Bitrix24 sends ``LANG=la`` for Spanish (api-reference/crm/data-types.md#lang-ids); ``es`` is accepted too.
This is the only map from Bitrix24 language ids to our locales: the install page (handlers/) and the frames
(placements/) both use it. Catalogs live in ``b24app/translations/{es,en,ru}/LC_MESSAGES/messages.po``
(msgids in English); the ``.mo`` files are committed and recompiled at start-up whenever a ``.po`` is
newer, so a fresh checkout always has them.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, has_request_context
from flask_babel import Babel

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LOCALES = ("es", "en", "ru")
DEFAULT_LOCALE = "es"
_B24_LANG = {"la": "es", "es": "es", "en": "en", "ru": "ru", "ua": "ru", "by": "ru", "kz": "ru"}


def locale_for(b24_lang: str | None) -> str:
    """Map a Bitrix24 ``LANG`` value (``la``, ``en``, ``ru``...) to one of our UI locales; Spanish first."""
    if not b24_lang:
        return DEFAULT_LOCALE
    return _B24_LANG.get(b24_lang.strip().lower()[:2], "en")


def current_locale() -> str:
    """The request's UI locale (``g.ui_locale``, set by the view from ``LANG``), Spanish otherwise."""
    if has_request_context():
        return getattr(g, "ui_locale", None) or DEFAULT_LOCALE
    return DEFAULT_LOCALE


def compile_catalogs(source: Path = TRANSLATIONS, target: Path | None = None) -> Path:
    """Compile every ``messages.po`` whose ``.mo`` is missing or older; return the directory holding them."""
    target = target or source
    for po_path in sorted(source.glob("*/LC_MESSAGES/messages.po")):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parts[-3])
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        log.info("compiled %s", mo_path)
    return target


def init_app(app: Flask) -> None:
    """Compile the catalogs if needed (into a temp dir when the package is read-only) and set up Babel."""
    try:
        directory = compile_catalogs()
    except OSError:
        directory = compile_catalogs(target=Path(tempfile.mkdtemp(prefix="b24plans-mo-")))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    existing = app.config.get("BABEL_TRANSLATION_DIRECTORIES")
    dirs = [str(directory)] + ([existing] if existing and existing != "translations" else [])
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(dirs)
    if "babel" not in app.extensions:
        Babel(app, locale_selector=current_locale)
