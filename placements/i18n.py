"""Languages of the frames: Bitrix24 ``LANG`` -> a UI locale, message catalogs, locale-aware formatting.

Bitrix24 sends ``LANG=la`` for Spanish (api-reference/crm/data-types.md#lang-ids); ``es`` is accepted too.
Catalogs live in ``placements/translations/{es,en,ru}/LC_MESSAGES/messages.po``; the ``.mo`` files are
committed and recompiled at start-up whenever a ``.po`` is newer, so a fresh checkout always has them.
"""

from __future__ import annotations

import calendar
import logging
import math
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, has_request_context
from flask_babel import Babel, gettext

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LOCALES = ("es", "en", "ru")
DEFAULT_LOCALE = "es"
_B24_LANG = {"la": "es", "es": "es", "en": "en", "ru": "ru", "ua": "ru", "by": "ru", "kz": "ru"}


def locale_for(b24_lang: str | None) -> str:
    """Map a Bitrix24 ``LANG`` value (``la``, ``en``, ``ru``...) to one of our UI locales."""
    if not b24_lang:
        return DEFAULT_LOCALE
    return _B24_LANG.get(b24_lang.strip().lower()[:2], "en")


def current_locale() -> str:
    """The request's UI locale (set by the frame session), Spanish otherwise."""
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
    app.jinja_env.globals.update(money=money, number=number, percent=percent, day=day, span=span)


def _dec(value: Decimal | float | int | str | None) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value: Decimal | float | int | str | None, currency: str, locale: str | None = None) -> str:
    """``1.234,50 €`` in Spanish, ``$1,234.50`` in English: the currency's own decimals and symbol."""
    loc = locale or current_locale()
    try:
        return babel_numbers.format_currency(_dec(value), currency or "USD", locale=loc)
    except Exception:  # noqa: BLE001 - an unknown code still shows the number and the code
        return f"{babel_numbers.format_decimal(_dec(value), format='#,##0.00', locale=loc)} {currency}"


def number(value: Decimal | float | int | str | None, decimals: int = 2, locale: str | None = None) -> str:
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return babel_numbers.format_decimal(_dec(value), format=pattern, locale=locale or current_locale())


def percent(value: Decimal | float | int | str | None, locale: str | None = None) -> str:
    """A value already in percent (45.5 -> ``45,5 %`` in Spanish)."""
    loc = locale or current_locale()
    share = (_dec(value) / 100).quantize(Decimal("0.001"))
    return babel_numbers.format_percent(share, locale=loc, decimal_quantization=False)


def day(value: date | None, locale: str | None = None) -> str:
    if value is None:
        return ""
    return babel_dates.format_date(value, format="medium", locale=locale or current_locale())


def span(begin: date | None, end: date | None, locale: str | None = None) -> str:
    """A period, compact: ``1 oct – 31 dic 2026``, ``Oct 1 – Dec 31, 2026``, ``1 окт. — 31 дек. 2026 г.``
    (CLDR interval formats; the year is written once when both dates share it)."""
    loc = locale or current_locale()
    if begin is None or end is None or end < begin:
        return f"{day(begin, loc)} – {day(end, loc)}".strip(" –")
    return babel_dates.format_interval(begin, end, skeleton="yMMMd", locale=loc)


def period_label(begin: date | None, end: date | None, locale: str | None = None) -> str:
    """A short period name for chart axes: ``T4 2026`` / ``Q4 2026`` / ``4 кв. 2026``, ``nov 2026``, ``2026``;
    other spans as a compact interval without the year."""
    loc = locale or current_locale()
    if begin is None or end is None or end < begin:
        return "?"
    whole_months = begin.day == 1 and end.day == calendar.monthrange(end.year, end.month)[1]
    if whole_months and begin.year == end.year:
        months = end.month - begin.month + 1
        if months == 1:
            return babel_dates.format_date(begin, "LLL yyyy", locale=loc)
        if months == 3 and begin.month % 3 == 1:
            return gettext("Q%(quarter)d %(year)d", quarter=(begin.month + 2) // 3, year=begin.year)
        if months == 12:
            return str(begin.year)
    return babel_dates.format_interval(begin, end, skeleton="MMMd", locale=loc)


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1 / 2 / 2.5 / 5 x 10^n not below ``value`` (the top of a chart's scale)."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** math.floor(math.log10(value))
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if magnitude * step >= value:
            return magnitude * step
    return magnitude * 10


def compact_money(value: Decimal | float | int, currency: str, locale: str | None = None) -> str:
    """``20 mil €``, ``€20K``, ``20 тыс. €``: an axis label."""
    loc = locale or current_locale()
    try:
        return babel_numbers.format_compact_currency(_dec(value), currency or "USD", locale=loc,
                                                     fraction_digits=1)
    except Exception:  # noqa: BLE001 - an unknown code
        return f"{babel_numbers.format_compact_decimal(_dec(value), locale=loc, fraction_digits=1)} {currency}"
