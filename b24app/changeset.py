"""From what a sheet or the grid asks for to a change set, pure: each entry resolved against what the portal
holds (clients, employees, currencies, the plans already there), matched to an existing plan by client and
period, and sorted into create / change / unchanged, with every problem row by row.

A plan matches an entry when it has the same client (company or contact) and exactly the same period. A plan
of that client whose period overlaps the entry's without being equal is a problem (the sheet would make two plans
cover the same days), and so are two entries for the same client and period, or overlapping ones, in one file.
An entry never deletes a plan: an empty cell is "no plan asked for", and a plan the file does not mention is left
alone. Writing the same file twice changes nothing the second time, because the second change set is computed
against the plans the first one wrote.

Attributes a row leaves empty keep the plan's own (on a change) or take the defaults (on a create: the
portal's base currency, no probability, the portal's own responsible - the user who writes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from b24app.sheet import N_, Entry, Problem, period_header, problem

RECURRENCE_SUFFIX = "RECURRENCE"


def recurrence_fields(value: str | None, field_map: Mapping[str, str],
                      enums: Mapping[str, Mapping[str, int]] | None = None) -> dict[str, Any] | None:
    """The plan fields that carry a recurrence (``NONE`` / ``MONTHLY`` / ``QUARTERLY`` / ``YEARLY``): ``{}`` when
    the entry asks for none, ``None`` when the portal's smart process has no recurrence field or no item for that
    value (the change is reported as not applied). The only place a recurrence is turned into plan fields.

    The field is an enumeration: Bitrix24 writes and reads it by its item id, which differs per portal
    (``enums``: ``Installation.enum_map``, suffix -> XML id -> item id; ARCHITECTURE.md F14)."""
    if value is None:
        return {}
    name = field_map.get(RECURRENCE_SUFFIX)
    item_id = ((enums or {}).get(RECURRENCE_SUFFIX) or {}).get(value)
    if not name or item_id is None:
        return None
    return {name: item_id}


def recurrence_of(item: Mapping[str, Any], field_map: Mapping[str, str],
                  enums: Mapping[str, Mapping[str, int]] | None = None) -> str | None:
    """A plan's recurrence as an XML id (None when the field is missing, empty or holds an unknown item)."""
    name = field_map.get(RECURRENCE_SUFFIX)
    value = item.get(name) if name else None
    if value in (None, "", 0, "0", False):
        return None
    by_id = {str(i): xml for xml, i in ((enums or {}).get(RECURRENCE_SUFFIX) or {}).items()}
    return by_id.get(str(value))


Client = tuple[str, int]  # ("company", 12)


@dataclass(frozen=True)
class ExistingPlan:
    id: int
    client: Client
    begin: date
    end: date
    amount: Decimal
    currency: str
    responsible: int | None = None
    probability: Decimal | None = None
    recurrence: str | None = None
    title: str = ""


@dataclass(frozen=True)
class Person:
    id: int
    name: str = ""
    email: str = ""


@dataclass
class Directory:
    """What the portal holds that an entry may name."""

    clients: dict[Client, str]  # every client the entries may be (by id or by name) -> its name
    people: list[Person]
    currencies: dict[str, int]  # code -> DECIMALS
    base_currency: str
    plans: list[ExistingPlan]
    names: dict[str, list[Client]] = field(default_factory=dict)  # case-folded name -> clients so named
    #: whether the portal shows e-mails to the app (user.get needs the ``user_basic`` scope for them)
    emails_known: bool = True

    def __post_init__(self) -> None:
        if not self.names:
            for client, name in self.clients.items():
                if name:
                    self.names.setdefault(" ".join(name.casefold().split()), []).append(client)


@dataclass(frozen=True)
class Target:
    """Where plans are written: the smart process, its pipeline and first stage, the user fields."""

    entity_type_id: int
    category_id: int | None
    stage_new: str | None
    field_map: Mapping[str, str]  # suffix -> REST name (Installation.field_map)
    #: a new plan's title from the client's name and the period (the frames name it in the user's language)
    title: Callable[[str, date, date], str] | None = None
    #: list-field suffix -> XML id -> the portal's item id (Installation.enum_map)
    enums: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def probability_field(self) -> str | None:
        return self.field_map.get("PROBABILITY")


@dataclass
class Change:
    action: str  # create | change | unchanged
    entry: Entry
    client: Client
    client_name: str
    plan_id: int | None
    fields: dict[str, Any]
    diff: list[tuple[str, str, str]] = field(default_factory=list)  # (what, before, after)
    notes: list[str] = field(default_factory=list)  # msgids: what was asked and not applied
    key: str = ""  # the command's name in a batch

    @property
    def period(self) -> str:
        return period_header(self.entry.begin, self.entry.end) or f"{self.entry.begin}…{self.entry.end}"

    def command(self, target: Target) -> tuple[str, dict[str, Any]]:
        if self.action == "create":
            return "crm.item.add", {"entityTypeId": target.entity_type_id, "fields": self.fields}
        return "crm.item.update", {"entityTypeId": target.entity_type_id, "id": self.plan_id, "fields": self.fields}


@dataclass
class ChangeSet:
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def to_write(self) -> list[Change]:
        return [c for c in self.changes if c.action in ("create", "change")]


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _money(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return str(value)


def title_for(client_name: str, begin: date, end: date) -> str:
    return f"{client_name or '?'} · {period_header(begin, end) or f'{begin.isoformat()} – {end.isoformat()}'}"[:200]


def plan_changes(entries: list[Entry], directory: Directory, target: Target,
                 problems: list[Problem] | None = None) -> ChangeSet:
    """The change set of ``entries`` against ``directory`` (see the module's rules). ``problems`` (the sheet's
    own) come first in the result; any error means nothing should be written."""
    out = ChangeSet(problems=list(problems or []))
    by_client: dict[Client, list[ExistingPlan]] = defaultdict(list)
    for plan in directory.plans:
        by_client[plan.client].append(plan)
    people_by_id = {p.id: p for p in directory.people}
    seen: dict[Client, list[Entry]] = defaultdict(list)

    said: set[Problem] = set()

    def fail(entry: Entry, message: str, cell: bool = False, **params: Any) -> None:
        found = problem(message, sheet=entry.sheet, row=entry.row, cell=entry.cell if cell else "", **params)
        if found not in said:  # a row's problem once, not once per period of the row
            said.add(found)
            out.problems.append(found)

    for entry in entries:
        ref = entry.client
        client: Client | None = None
        if ref.kind is not None and ref.id is not None:
            client = (ref.kind, ref.id)
            if client not in directory.clients:
                fail(entry, N_("unknown client %(client)s"), client=str(ref))
                continue
        else:
            found = directory.names.get(_norm(ref.name), [])
            if not found:
                fail(entry, N_("unknown client %(client)s"), client=ref.name)
                continue
            if len(found) > 1:
                fail(entry, N_("%(count)s clients are named %(client)s (%(ids)s): write the one you mean as "
                               "company:ID or contact:ID"), count=len(found), client=ref.name,
                     ids=", ".join(f"{k}:{i}" for k, i in sorted(found)))
                continue
            client = found[0]
        responsible: int | None = None
        if entry.responsible is not None:
            person = entry.responsible
            if person.id is not None:
                matches = [people_by_id[person.id]] if person.id in people_by_id else []
            elif person.email:
                matches = [p for p in directory.people if p.email and p.email.casefold() == person.email]
            else:
                matches = [p for p in directory.people if _norm(p.name) == _norm(person.name)]
            if not matches and person.email and not directory.emails_known:
                fail(entry, N_("the portal does not show employees' e-mails to the app: write the responsible "
                               "%(person)s by id or name"), person=str(person))
                continue
            if not matches:
                fail(entry, N_("unknown responsible %(person)s"), person=str(person))
                continue
            if len(matches) > 1:
                fail(entry, N_("%(count)s employees are named %(person)s: write the responsible's id or e-mail"),
                     count=len(matches), person=str(person))
                continue
            responsible = matches[0].id
        if entry.currency is not None and entry.currency not in directory.currencies:
            fail(entry, N_("the portal has no currency %(currency)s"), currency=entry.currency)
            continue
        clash = next((e for e in seen[client] if e.begin <= entry.end and entry.begin <= e.end), None)
        if clash is not None:
            if (clash.begin, clash.end) == (entry.begin, entry.end):
                fail(entry, N_("the same client and period as %(other)s: one plan per client and period"),
                     cell=True, other=_place(clash))
            else:
                fail(entry, N_("the period overlaps the one of %(other)s for the same client"), cell=True,
                     other=_place(clash))
            continue
        seen[client].append(entry)
        same = [p for p in by_client.get(client, []) if (p.begin, p.end) == (entry.begin, entry.end)]
        overlapping = [p for p in by_client.get(client, []) if p.begin <= entry.end and entry.begin <= p.end
                       and (p.begin, p.end) != (entry.begin, entry.end)]
        if len(same) > 1:
            fail(entry, N_("the portal already has %(count)s plans of this client for this period (%(ids)s)"),
                 cell=True, count=len(same), ids=", ".join(f"#{p.id}" for p in same))
            continue
        if overlapping and not same:
            other = overlapping[0]
            fail(entry, N_("the period overlaps plan #%(id)s (%(start)s – %(end)s) of the same client"), cell=True,
                 id=other.id, start=other.begin.isoformat(), end=other.end.isoformat())
            continue
        out.changes.append(_change(entry, client, directory, target, same[0] if same else None, responsible))
    for number, change in enumerate(out.to_write):
        change.key = f"p{number}"
    return out


def _place(entry: Entry) -> str:
    where = entry.cell or str(entry.row)
    return f"{entry.sheet} {where}".strip()


def _change(entry: Entry, client: Client, directory: Directory, target: Target, plan: ExistingPlan | None,
            responsible: int | None) -> Change:
    name = directory.clients.get(client, "")
    currency = entry.currency or (plan.currency if plan else directory.base_currency)
    places = directory.currencies.get(currency, 2)
    amount = _money(entry.amount, places)
    notes: list[str] = []
    recurrence = recurrence_fields(entry.recurrence, target.field_map, target.enums)
    if recurrence is None:
        notes.append(N_("recurrence not applied (field missing)"))
        recurrence = {}
    pfield = target.probability_field
    if plan is None:
        fields: dict[str, Any] = {
            "title": (target.title or title_for)(name, entry.begin, entry.end),
            "companyId": client[1] if client[0] == "company" else 0,
            "contactId": client[1] if client[0] == "contact" else 0,
            "begindate": entry.begin.isoformat(), "closedate": entry.end.isoformat(),
            "opportunity": float(amount), "currencyId": currency, "isManualOpportunity": "Y",
        }
        if responsible is not None:
            fields["assignedById"] = responsible
        if entry.probability is not None and pfield:
            fields[pfield] = float(entry.probability)
        fields.update(recurrence)
        if target.category_id:
            fields["categoryId"] = target.category_id
        if target.stage_new:
            fields["stageId"] = target.stage_new
        diff = [("amount", "", _text(amount)), ("currency", "", currency)]
        return Change("create", entry, client, name, None, fields, diff, notes)
    fields = {}
    diff = []
    if _money(plan.amount, places) != amount or plan.currency != currency:
        fields.update({"opportunity": float(amount), "isManualOpportunity": "Y"})
        diff.append(("amount", _text(_money(plan.amount, places)), _text(amount)))
    if plan.currency != currency:
        fields["currencyId"] = currency
        diff.append(("currency", plan.currency, currency))
    if responsible is not None and responsible != plan.responsible:
        fields["assignedById"] = responsible
        diff.append(("responsible", _text(plan.responsible), str(responsible)))
    if entry.probability is not None and pfield and (plan.probability is None
                                                      or Decimal(plan.probability) != entry.probability):
        fields[pfield] = float(entry.probability)
        diff.append(("probability", _text(plan.probability), _text(entry.probability)))
    for key, value in recurrence.items():  # the plan's recurrence is read as an XML id, written as an item id
        if plan.recurrence != entry.recurrence:
            fields[key] = value
            diff.append(("recurrence", plan.recurrence or "", str(entry.recurrence)))
    if not fields:
        return Change("unchanged", entry, client, name, plan.id, {}, [], notes)
    if target.category_id:  # an update without categoryId may move the item (ARCHITECTURE.md F7)
        fields["categoryId"] = target.category_id
    return Change("change", entry, client, name, plan.id, fields, diff, notes)
