"""Locale-aware formatting for the frames: money, numbers, percentages, dates, periods, chart labels.

The request's locale comes from ``b24app.i18n`` (the Bitrix24 ``LANG`` map and the message catalogs).
"""

from __future__ import annotations

import calendar
import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Flask, g
from flask_babel import gettext

from b24app.i18n import current_locale
from b24app.money import quantize


def _dec(value: Decimal | float | int | str | None) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


_SEPARATORS = {"N": "", "D": ".", "C": ",", "S": " ", "B": "\xa0"}  # THOUSANDS_VARIANT (else THOUSANDS_SEP)


@dataclass(frozen=True)
class CurrencyFormat:
    """How the portal writes a currency in one language (a ``LANG`` entry of crm.currency.get, or the flat
    fields crm.currency.list returns for the portal's own language): ``template`` is ``FORMAT_STRING`` with its
    HTML entities decoded, ``#`` standing for the number."""

    template: str
    dec_point: str = "."
    thousands: str = ""
    decimals: int | None = None
    hide_zero: bool = False

    @classmethod
    def of(cls, entry: Mapping[str, Any] | None) -> CurrencyFormat | None:
        """The format of a ``LANG`` entry; None when it has no usable ``FORMAT_STRING`` (no ``#``)."""
        if not isinstance(entry, Mapping):
            return None
        template = html.unescape(str(entry.get("FORMAT_STRING") or ""))
        if "#" not in template:
            return None
        variant = str(entry.get("THOUSANDS_VARIANT") or "").upper()
        thousands = _SEPARATORS[variant] if variant in _SEPARATORS else html.unescape(
            str(entry.get("THOUSANDS_SEP") or ""))
        try:
            decimals: int | None = max(int(str(entry.get("DECIMALS"))), 0)
        except ValueError:
            decimals = None
        return cls(template, html.unescape(str(entry.get("DEC_POINT") or ".")), thousands, decimals,
                   str(entry.get("HIDE_ZERO") or "").upper() == "Y")

    def format(self, value: Decimal, decimals: int | None = None) -> str:
        """``value`` written the portal's way: rounded half up to ``decimals`` if given, else to the format's
        ``DECIMALS`` (none when ``HIDE_ZERO`` and the rounded value is whole), grouped by three with the
        thousands separator, in place of the template's ``#``; a negative amount takes its sign before the
        whole (``-1.234,50 €``)."""
        places = decimals if decimals is not None else (2 if self.decimals is None else self.decimals)
        rounded = quantize(value, places)
        if self.hide_zero and rounded == rounded.to_integral_value():
            places, rounded = 0, quantize(value, 0)
        whole, _, fraction = f"{abs(rounded):.{places}f}".partition(".")
        groups = [whole[max(end - 3, 0):end] for end in range(len(whole), 0, -3)][::-1]
        number = self.thousands.join(groups) + (self.dec_point + fraction if places else "")
        return ("-" if rounded < 0 else "") + self.template.replace("#", number, 1)


def portal_formats(rows: Iterable[Mapping[str, Any]], lang: str) -> dict[str, CurrencyFormat]:
    """Each currency's format in the Bitrix24 language ``lang`` (``la``, ``en``, ``ru``…): its ``LANG`` entry
    for that language, else the flat fields when they are that language's (``LID``); a currency with neither
    is left to the locale's formatting."""
    found: dict[str, CurrencyFormat] = {}
    lang = (lang or "").strip().lower()
    for row in rows:
        given = row.get("LANG")
        langs: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        entry = langs.get(lang) if lang in langs else (row if str(row.get("LID") or "").lower() == lang else None)
        fmt = CurrencyFormat.of(entry)
        if fmt is not None and row.get("CURRENCY"):
            found[str(row["CURRENCY"])] = fmt
    return found


def money(value: Decimal | float | int | str | None, currency: str, locale: str | None = None,
          decimals: int | None = None) -> str:
    """``1.234,50 €`` in Spanish, ``$1,234.50`` in English. In a frame, the portal's own format of the currency
    for the user's language when it has one (``g.currency_formats``, see ``portal_formats``); otherwise the
    currency's symbol in the locale's pattern with the portal's decimals (``DECIMALS`` of crm.currency.list,
    ``g.currency_decimals``; the locale library's digits only when the portal's are unknown)."""
    loc = locale or current_locale()
    in_request = _in_request()
    portal_format = (g.get("currency_formats") or {}).get(currency) if in_request and (
        locale is None or locale == current_locale()) else None
    if portal_format is not None:
        return portal_format.format(_dec(value), decimals)
    if decimals is None:
        decimals = (g.get("currency_decimals") or {}).get(currency) if in_request else None
    try:
        if decimals is None:
            return babel_numbers.format_currency(_dec(value), currency or "USD", locale=loc)
        pattern = babel_numbers.parse_pattern(Locale.parse(loc).currency_formats["standard"].pattern)
        pattern.frac_prec = (decimals, decimals)
        return babel_numbers.format_currency(quantize(_dec(value), decimals), currency or "USD", format=pattern,
                                             locale=loc, currency_digits=False)
    except Exception:  # noqa: BLE001 - an unknown code still shows the number and the code
        places = 2 if decimals is None else decimals
        pattern_text = "#,##0" + ("." + "0" * places if places else "")
        return f"{babel_numbers.format_decimal(_dec(value), format=pattern_text, locale=loc)} {currency}"


def _in_request() -> bool:
    from flask import has_app_context

    return has_app_context()


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


def init_app(app: Flask) -> None:
    """Make the formatting helpers available to the frames' templates (the catalogs: b24app.i18n)."""
    app.jinja_env.globals.update(money=money, number=number, percent=percent, day=day, span=span)
