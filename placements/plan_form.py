"""The plan form, with its series fields (recurrence, growth, carry-over), validated in full before anything
is written (pure: no Flask, no REST, no SQL).

``validate(raw, context)`` turns the posted strings into a ``PlanInput`` or a list of ``FieldError``
(field + message code + parameters); the view translates the codes (placements/messages.py) and writes
to the portal only when the list is empty.
"""

from __future__ import annotations

import calendar
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from b24app import series
from b24app.series import SeriesOptions

PRESETS = ("month", "quarter", "year", "custom")
MAX_AMOUNT = Decimal("1e15")


@dataclass(frozen=True)
class Client:
    """A plan's client: a company (``CO``) or a contact (``C``), written like CRM bindings ``CO_5`` / ``C_7``."""

    kind: str  # "company" | "contact"
    id: int

    @property
    def code(self) -> str:
        return f"{'CO' if self.kind == 'company' else 'C'}_{self.id}"

    @property
    def entity_type_id(self) -> int:
        return 4 if self.kind == "company" else 3

    @property
    def path(self) -> str:
        return f"/crm/{self.kind}/details/{self.id}/"

    @classmethod
    def parse(cls, value: str | None) -> Client | None:
        """``CO_5`` -> company 5, ``C_7`` -> contact 7; anything else -> None."""
        prefix, _, number = (value or "").strip().upper().partition("_")
        if prefix not in ("CO", "C") or not number.isdigit() or int(number) <= 0:
            return None
        return cls("company" if prefix == "CO" else "contact", int(number))


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    params: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class PlanInput:
    client: Client
    begindate: date
    closedate: date
    amount: Decimal
    currency: str
    probability: Decimal
    assigned_by_id: int
    deal_ids: tuple[int, ...]
    title: str = ""
    series: SeriesOptions | None = None  # None: the portal has no series fields yet


@dataclass(frozen=True)
class FormContext:
    """What the validator needs to know about the portal, read before validating."""

    currencies: frozenset[str]
    users: frozenset[int] = frozenset()  # empty: do not check
    deal_clients: Mapping[int, Client | frozenset[Client] | None] = field(default_factory=dict)  # deal -> client(s)
    linked: frozenset[int] = frozenset()  # deals already linked to this plan: kept whatever their client
    known_clients: frozenset[Client] | None = None  # None: do not check
    decimals: Mapping[str, int] = field(default_factory=dict)  # the portal's DECIMALS per currency (default 2)
    series: bool = False  # the portal has the series fields: validate them (placements/series_form.py)


def period_for(preset: str, anchor: date) -> tuple[date, date]:
    """The calendar month, quarter or year that contains ``anchor``."""
    if preset == "month":
        return anchor.replace(day=1), anchor.replace(day=calendar.monthrange(anchor.year, anchor.month)[1])
    if preset == "quarter":
        first = 3 * ((anchor.month - 1) // 3) + 1
        last = first + 2
        return date(anchor.year, first, 1), date(anchor.year, last, calendar.monthrange(anchor.year, last)[1])
    if preset == "year":
        return date(anchor.year, 1, 1), date(anchor.year, 12, 31)
    raise ValueError(preset)


def preset_of(begin: date | None, end: date | None) -> str:
    """The preset a stored period is: a whole calendar month, quarter or year reopens as that, else custom."""
    if begin is None or end is None:
        return "custom"
    for preset in ("month", "quarter", "year"):
        if period_for(preset, begin) == (begin, end):
            return preset
    return "custom"


def parse_decimal(text: str | None) -> Decimal | None:
    """Accept ``1234.5``, ``1 234,50``, ``1.234,50`` and ``1,234.50``; None if not a finite number."""
    raw = (text or "").strip().replace("\u00a0", "").replace(" ", "").replace("\u202f", "")
    if not raw:
        return None
    if "," in raw and "." in raw:
        if raw.rfind(",") > raw.rfind("."):
            raw = raw.replace(".", "").replace(",", ".")
        else:
            raw = raw.replace(",", "")
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        raw = raw.replace(",", "") if len(tail) == 3 and head.count(",") >= 1 else raw.replace(",", ".")
    elif raw.count(".") > 1:
        raw = raw.replace(".", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _ints(values: Sequence[str]) -> tuple[list[int], bool]:
    out, bad = [], False
    for value in values:
        value = (value or "").strip()
        if not value:
            continue
        if value.isdigit() and int(value) > 0:
            out.append(int(value))
        else:
            bad = True
    return sorted(set(out)), bad


def _names(found: Client | frozenset[Client] | None, client: Client) -> bool:
    """Whether a deal's client(s) include ``client`` (a deal of a company and a contact fits either's plan)."""
    return client in found if isinstance(found, frozenset) else found == client


def validate(raw: Mapping[str, str], deal_values: Sequence[str], ctx: FormContext,
             today: date) -> tuple[PlanInput | None, list[FieldError]]:
    """Check every field; return (PlanInput, []) or (None, errors). Nothing here has side effects."""
    errors: list[FieldError] = []

    client = Client.parse(raw.get("client"))
    if client is None:
        errors.append(FieldError("client", "client_missing"))
    elif ctx.known_clients is not None and client not in ctx.known_clients:
        errors.append(FieldError("client", "client_not_found"))

    preset = (raw.get("period") or "custom").strip()
    begin = _parse_date(raw.get("begindate"))
    end = _parse_date(raw.get("closedate"))
    if preset not in PRESETS:
        errors.append(FieldError("period", "period_unknown"))
    elif preset != "custom":
        begin, end = period_for(preset, begin or today)
    else:
        if begin is None:
            errors.append(FieldError("begindate", "date_invalid"))
        if end is None:
            errors.append(FieldError("closedate", "date_invalid"))
        if begin and end and end < begin:
            errors.append(FieldError("closedate", "end_before_start"))

    amount = parse_decimal(raw.get("amount"))
    if not (raw.get("amount") or "").strip():
        errors.append(FieldError("amount", "amount_required"))
    elif amount is None:
        errors.append(FieldError("amount", "amount_not_number"))
    elif amount <= 0:
        errors.append(FieldError("amount", "amount_not_positive"))
    elif amount >= MAX_AMOUNT:
        errors.append(FieldError("amount", "amount_too_large"))

    currency = (raw.get("currency") or "").strip().upper()
    places = ctx.decimals.get(currency, 2)
    if amount is not None and 0 < amount < MAX_AMOUNT and -int(amount.normalize().as_tuple().exponent) > places:
        errors.append(FieldError("amount", "amount_too_precise", {"decimals": str(places)}))

    if not currency or currency not in ctx.currencies:
        errors.append(FieldError("currency", "currency_unknown", {"currency": currency}))

    probability = parse_decimal(raw.get("probability"))
    if not (raw.get("probability") or "").strip():
        errors.append(FieldError("probability", "probability_required"))
    elif probability is None:
        errors.append(FieldError("probability", "probability_not_number"))
    elif not Decimal(0) <= probability <= Decimal(100):
        errors.append(FieldError("probability", "probability_range"))

    assigned_raw = (raw.get("assigned_by_id") or "").strip()
    assigned = int(assigned_raw) if assigned_raw.isdigit() and int(assigned_raw) > 0 else None
    if assigned is None or (ctx.users and assigned not in ctx.users):
        errors.append(FieldError("assigned_by_id", "responsible_unknown"))

    deal_ids, bad_ids = _ints(deal_values)
    if bad_ids:
        errors.append(FieldError("deals", "deal_invalid"))
    for deal_id in deal_ids:
        if deal_id not in ctx.deal_clients:
            errors.append(FieldError("deals", "deal_not_found", {"deal": str(deal_id)}))
        elif client is not None and deal_id not in ctx.linked and not _names(ctx.deal_clients[deal_id], client):
            errors.append(FieldError("deals", "deal_other_client", {"deal": str(deal_id)}))

    options = None
    if ctx.series:
        options, series_errors = validate_series(raw, begin, end)
        errors += series_errors

    if errors:
        return None, errors
    assert client and begin and end and amount is not None and probability is not None and assigned
    return PlanInput(client, begin, end, amount, currency, probability, assigned, tuple(deal_ids),
                     (raw.get("title") or "").strip()[:200], options), []


# ------------------------------------------------------------------------------------------- series fields

#: form field of each series problem
FIELD_OF = {series.GROWTH_RANGE: "growth", series.CAP_NEGATIVE: "cap", series.RECURRENCE_PERIOD: "recurrence",
            series.CARRY_WITHOUT_PREDECESSOR: "carried", series.RECURRENCE_UNKNOWN: "recurrence",
            series.POLICY_UNKNOWN: "carryover"}
CODE_OF = {series.GROWTH_RANGE: "growth_range", series.CAP_NEGATIVE: "cap_negative",
           series.RECURRENCE_PERIOD: "recurrence_period", series.CARRY_WITHOUT_PREDECESSOR: "carry_no_predecessor",
           series.RECURRENCE_UNKNOWN: "recurrence_unknown", series.POLICY_UNKNOWN: "carryover_unknown"}


def validate_series(raw: Mapping[str, str], begin: date | None,
                    end: date | None) -> tuple[series.SeriesOptions | None, list[FieldError]]:
    """The posted series fields -> options, or the errors (field, message code)."""
    errors: list[FieldError] = []

    def num(name: str, default: Decimal | None) -> Decimal | None:
        text = (raw.get(name) or "").strip()
        if not text:
            return default
        value = parse_decimal(text)
        if value is None:
            errors.append(FieldError(name, "series_not_number"))
        return value

    predecessor_raw = (raw.get("predecessor") or "").strip()
    options = series.SeriesOptions(
        recurrence=(raw.get("recurrence") or series.NONE).strip().upper(),
        growth=num("growth", Decimal(0)) or Decimal(0),
        policy=(raw.get("carryover") or series.NONE).strip().upper(),
        cap=num("cap", None),
        carried=num("carried", Decimal(0)) or Decimal(0),
        predecessor=int(predecessor_raw) if predecessor_raw.isdigit() and int(predecessor_raw) > 0 else None,
    )
    for problem in series.problems(options, begin, end):
        errors.append(FieldError(FIELD_OF[problem], CODE_OF[problem]))
    return (None, errors) if errors else (options, [])
