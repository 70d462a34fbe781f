"""The plans page's query: URL state <-> crm.item.list filter/order/start, plan rows, totals.

Filtering, sorting and paging happen in the portal (``crm.item.list`` filter / order / start, page size 50;
api-reference/crm/universal/crm-item-list.md), so a page costs one list call whatever the number of plans.
Totals and the roll-up need every matching plan: they read only a few fields in fast mode
(``list_all``, settings/performance/huge-data.md) and are cached for a short time per user and filter.
The portal cannot order plans by the client's or the responsible's NAME, so those two sorts use the same
light rows: names are resolved, the rows sorted here (``sort_rows``, as the exports do) and only the
page's 50 plans are read in full (``@id``).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from b24app.forecast import is_yes
from b24app.planmath import parse_date, value_flags
from b24app.schema import SERIES_SUFFIXES, PlanSchema
from b24app.series import SeriesOptions, read_options
from b24app.series import problems as series_problems
from placements.plan_form import Client, period_for

PAGE_SIZE = 50
STATUSES = ("P", "S", "F")
PERIODS = ("month", "quarter", "year", "custom")
SERIES_FILTERS = ("recurring", "oneoff")  # the plans page's series filter
SORTS = ("client", "period", "responsible", "amount", "currency", "probability", "probable", "won",
         "remainder", "execution", "status", "at_risk")
RISKS = ("Y", "N")  # the "En riesgo" filter: at risk, not at risk
_NATIVE_SORT = {"period": "begindate", "amount": "opportunity", "currency": "currencyId", "status": "stageId"}
NAME_SORTS = ("client", "responsible")  # sorted in the app: the portal only knows the ids
MONEY_SORTS = ("amount", "probable", "won", "remainder")  # across currencies: by the base-currency value


def sorted_here(query: ListQuery) -> bool:
    """Whether the app sorts the page (not the portal): by a name, or by money across currencies, which the
    portal can only order by the face value (180,000 MXN above 23,000 USD)."""
    return query.sort in NAME_SORTS or (query.sort in MONEY_SORTS and not query.currency)


def _date(value: Any) -> date | None:
    return parse_date(value)


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def dec(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)


@dataclass(frozen=True)
class ListQuery:
    """The plans page's filter, sort and page, as they appear in the URL (bookmarkable)."""

    status: str = ""
    responsible: int | None = None
    q: str = ""
    period: str = ""
    date_from: date | None = None
    date_to: date | None = None
    currency: str = ""
    sort: str = "period"
    direction: str = "desc"
    page: int = 1
    series: str = ""  # recurring | oneoff (SERIES_FILTERS)
    risk: str = ""  # "Y" at risk, "N" not at risk, "" either

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListQuery:
        status = (args.get("status") or "").upper()
        period = args.get("period") or ""
        sort = args.get("sort") or "period"
        direction = (args.get("dir") or "desc").lower()
        page = _int(args.get("page")) or 1
        currency = (args.get("currency") or "").strip().upper()[:3]
        return cls(
            status=status if status in STATUSES else "",
            responsible=_int(args.get("responsible")),
            q=(args.get("q") or "").strip()[:100],
            period=period if period in PERIODS else "",
            date_from=_date(args.get("from")) if period == "custom" else None,
            date_to=_date(args.get("to")) if period == "custom" else None,
            currency=currency if currency.isalpha() else "",
            sort=sort if sort in SORTS else "period",
            direction=direction if direction in ("asc", "desc") else "desc",
            page=min(page, 10_000),
            series=args.get("series", "") if args.get("series", "") in SERIES_FILTERS else "",
            risk=(args.get("risk") or "").upper() if (args.get("risk") or "").upper() in RISKS else "",
        )

    def to_args(self, **changes: Any) -> dict[str, str]:
        """URL parameters of this query (defaults left out), with ``changes`` applied."""
        query = replace(self, **changes) if changes else self
        out = {"status": query.status, "responsible": str(query.responsible or ""), "q": query.q,
               "period": query.period, "from": query.date_from.isoformat() if query.date_from else "",
               "to": query.date_to.isoformat() if query.date_to else "", "currency": query.currency,
               "sort": query.sort if query.sort != "period" else "",
               "dir": query.direction if query.direction != "desc" else "",
               "page": str(query.page) if query.page > 1 else "", "series": query.series,
               "risk": query.risk}
        return {key: value for key, value in out.items() if value}

    def sorted_by(self, column: str) -> dict[str, str]:
        """Args for a click on a column header: toggle the direction on the current column."""
        direction = "asc" if column != self.sort or self.direction == "desc" else "desc"
        return self.to_args(sort=column, direction=direction, page=1)

    @property
    def period_reversed(self) -> bool:
        """Custom dates whose end is before their start: nothing can match (the page says why)."""
        return bool(self.period == "custom" and self.date_from and self.date_to and self.date_to < self.date_from)

    def period_range(self, today: date) -> tuple[date, date] | None:
        if self.period in ("month", "quarter", "year"):
            return period_for(self.period, today)
        if self.period == "custom" and (self.date_from or self.date_to):
            return (self.date_from or date(1970, 1, 1), self.date_to or date(9999, 12, 31))
        return None


@dataclass(frozen=True)
class ClientMatch:
    """Companies and contacts whose names match the client search."""

    company_ids: tuple[int, ...] = ()
    contact_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.company_ids and not self.contact_ids


def build_filter(query: ListQuery, schema: PlanSchema, today: date,
                 clients: ClientMatch | None = None) -> dict[str, Any] | None:
    """The crm.item.list filter for the query; None when nothing can match (a search that found nobody)."""
    flt: dict[str, Any] = {}
    if query.status and query.status in schema.stages:
        flt["stageId"] = schema.stages[query.status]
    if query.responsible:
        flt["assignedById"] = query.responsible
    if query.currency:
        flt["currencyId"] = query.currency
    if query.risk and "at_risk" in schema.fields:  # a boolean user field filters by 1 / 0
        flt[schema.fields["at_risk"]] = 1 if query.risk == "Y" else 0
    if query.period_reversed:
        return None
    if query.series and schema.has_series:
        recurring = [i for x in ("MONTHLY", "QUARTERLY", "YEARLY") if (i := schema.enum_id("recurrence", x))]
        name = schema.fields["recurrence"]
        if query.series == "recurring":
            flt[f"@{name}"] = recurring
        else:  # an empty recurrence is a one-off plan too
            flt["1"] = {"logic": "OR", "0": {f"!@{name}": recurring}, "1": {name: ""}}
    span = query.period_range(today)
    if span:  # plans whose period overlaps the chosen one
        flt["<=begindate"] = span[1].isoformat()
        flt[">=closedate"] = span[0].isoformat()
    if query.q:
        if clients is None or clients.empty:
            return None
        if clients.company_ids and clients.contact_ids:
            flt["0"] = {"logic": "OR", "0": {"@companyId": list(clients.company_ids)},
                        "1": {"@contactId": list(clients.contact_ids)}}
        elif clients.company_ids:
            flt["@companyId"] = list(clients.company_ids)
        else:
            flt["@contactId"] = list(clients.contact_ids)
    return flt


def build_order(query: ListQuery, schema: PlanSchema) -> dict[str, str]:
    """The portal's order for the native sorts (``NAME_SORTS`` are sorted by ``sort_rows`` instead)."""
    column = _NATIVE_SORT.get(query.sort) or schema.fields.get(query.sort) or "begindate"
    direction = query.direction.upper()
    return {column: direction, "id": direction}


@dataclass
class PlanRow:
    id: int
    title: str
    client: Client | None
    begindate: date | None
    closedate: date | None
    assigned_by_id: int | None
    amount: Decimal
    currency: str
    probability: Decimal
    probable: Decimal
    won: Decimal
    remainder: Decimal
    execution: Decimal
    status: str  # P / S / F
    client_name: str = ""
    responsible_name: str = ""
    responsible_photo: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()  # planmath.value_flags
    series: SeriesOptions = SeriesOptions()  # recurrence, growth, carry-over, links (b24app/series.py)
    series_flags: tuple[str, ...] = ()  # why the daily job cannot continue it (series.problems)
    forecast: Decimal | None = None  # the expected finish (b24app/forecast.py); None before the app wrote it
    at_risk: bool = False

    @property
    def bar(self) -> int:
        """Width of the progress bar in percent (0..100)."""
        return max(0, min(100, int(self.execution)))


def client_of(item: Mapping[str, Any]) -> Client | None:
    company = _int(item.get("companyId"))
    if company:
        return Client("company", company)
    contact = _int(item.get("contactId"))
    return Client("contact", contact) if contact else None


def clients_of(item: Mapping[str, Any]) -> frozenset[Client]:
    """Every client a deal names: its company and its contact (a contact's plan matches a deal by contact)."""
    found = set()
    company, contact = _int(item.get("companyId")), _int(item.get("contactId"))
    if company:
        found.add(Client("company", company))
    if contact:
        found.add(Client("contact", contact))
    return frozenset(found)


def row_from_item(item: Mapping[str, Any], schema: PlanSchema) -> PlanRow:
    def uf(key: str) -> Decimal:
        name = schema.fields.get(key)
        return dec(item.get(name)) if name else Decimal(0)

    amount = dec(item.get("opportunity"))
    raw_probability = item.get(schema.fields.get("probability", ""))
    probability = uf("probability")
    currency = str(item.get("currencyId") or "")
    probable = uf("probable") if item.get(schema.fields.get("probable", "")) not in (None, "") \
        else amount * probability / 100
    won = uf("won")
    remainder = uf("remainder") if item.get(schema.fields.get("remainder", "")) not in (None, "") \
        else max(amount - won, Decimal(0))
    options, problems = SeriesOptions(), ()  # type: tuple[SeriesOptions, tuple[str, ...]]
    if schema.has_series:
        values = {key: item.get(schema.fields[key]) for key in SERIES_SUFFIXES}
        options, found = read_options(values, schema.enums)
        begin, end = _date(item.get("begindate")), _date(item.get("closedate"))
        problems = tuple(dict.fromkeys(found + series_problems(options, begin, end)))
    return PlanRow(
        id=int(item.get("id") or 0), title=str(item.get("title") or ""), client=client_of(item),
        begindate=_date(item.get("begindate")), closedate=_date(item.get("closedate")),
        assigned_by_id=_int(item.get("assignedById")), amount=amount,
        currency=currency, probability=probability, probable=probable,
        won=won, remainder=remainder, execution=uf("execution"), status=schema.semantics(item.get("stageId")),
        flags=value_flags(None if raw_probability in (None, "") else probability, currency, amount,
                          _date(item.get("begindate")), _date(item.get("closedate"))),
        series=options, series_flags=problems,
        forecast=uf("forecast") if item.get(schema.fields.get("forecast", "")) not in (None, "") else None,
        at_risk=is_yes(item.get(schema.fields.get("at_risk", ""))),
    )


@dataclass
class Sums:
    count: int = 0
    amount: Decimal = Decimal(0)
    won: Decimal = Decimal(0)
    remainder: Decimal = Decimal(0)
    probable: Decimal = Decimal(0)
    forecast: Decimal = Decimal(0)  # expected finish; a plan the app has not forecast yet counts its won
    at_risk: int = 0

    def add(self, row: PlanRow, rate: Decimal = Decimal(1)) -> None:
        """Add a plan, its money times ``rate`` (1: its own currency; else the rate to the base currency)."""
        self.count += 1
        self.amount += row.amount * rate
        self.won += row.won * rate
        self.remainder += row.remainder * rate
        self.probable += row.probable * rate
        self.forecast += (row.forecast if row.forecast is not None else row.won) * rate
        self.at_risk += int(row.at_risk)

    @property
    def execution(self) -> Decimal:
        return (self.won / self.amount * 100) if self.amount else Decimal(0)


@dataclass
class Totals:
    by_currency: dict[str, Sums]
    by_responsible: dict[tuple[int, str], Sums]  # (user id, currency) -> sums
    count: int
    base: str = ""  # the portal's base currency of the converted sums ("": no rates known)
    converted: Sums | None = None  # every plan converted to ``base`` at today's rates (marked as converted)
    by_responsible_converted: dict[int, Sums] = field(default_factory=dict)


def totals(rows: list[PlanRow], rates: Mapping[str, Decimal] | None = None, base: str = "") -> Totals:
    """Sums per currency and per (responsible, currency); amounts of different currencies never mix there.
    With ``rates`` (base-currency units per unit of each currency, today's), also every plan converted to
    ``base``, in all and per responsible; a plan in a currency without a rate is left out of those."""
    by_currency: dict[str, Sums] = {}
    by_responsible: dict[tuple[int, str], Sums] = {}
    converted = Sums() if rates else None
    per_person: dict[int, Sums] = {}
    for row in rows:
        by_currency.setdefault(row.currency, Sums()).add(row)
        by_responsible.setdefault((row.assigned_by_id or 0, row.currency), Sums()).add(row)
        rate = (rates or {}).get(row.currency or base)
        if converted is not None and rate is not None:
            converted.add(row, rate)
            per_person.setdefault(row.assigned_by_id or 0, Sums()).add(row, rate)
    return Totals(dict(sorted(by_currency.items())), by_responsible, len(rows), base if rates else "", converted,
                  per_person)


def sort_rows(rows: list[PlanRow], query: ListQuery, to_base: Mapping[str, Decimal] | None = None) -> list[PlanRow]:
    """Sort in Python: exports always, the page when ``sorted_here`` (names must be filled in). Money columns
    compare the value in the base currency when ``to_base`` (currency -> base units per unit) is given;
    a currency without a rate compares at its face value."""
    def key(row: PlanRow) -> Any:
        if query.sort == "client":
            return (row.client_name or row.title).lower()
        if query.sort == "period":
            return row.begindate or date.min
        if query.sort == "responsible":
            return row.responsible_name.lower()
        if query.sort == "status":
            return row.status
        if query.sort == "currency":
            return row.currency
        if query.sort == "at_risk":
            return int(row.at_risk)
        value = getattr(row, query.sort, Decimal(0))
        value = value if isinstance(value, Decimal) else Decimal(0)
        if to_base is not None and query.sort in MONEY_SORTS:
            return value * to_base.get(row.currency, Decimal(1))
        return value

    return sorted(rows, key=lambda r: (key(r), r.id), reverse=query.direction == "desc")


def month_label(begin: date | None, end: date | None) -> str:
    """A compact period name for titles and charts: ``2026-11``, ``2026-Q4``, ``2026`` or the two dates."""
    if begin and end and begin.day == 1:
        last = calendar.monthrange(end.year, end.month)[1]
        if end.day == last and begin.year == end.year:
            months = end.month - begin.month + 1
            if months == 1:
                return begin.strftime("%Y-%m")
            if months == 3 and begin.month % 3 == 1:
                return f"{begin.year}-Q{(begin.month + 2) // 3}"
            if months == 12:
                return str(begin.year)
    return f"{begin.isoformat() if begin else '?'}…{end.isoformat() if end else '?'}"
