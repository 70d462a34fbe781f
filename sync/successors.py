"""The plan series' next period, made by the daily period-end job (README "Recurring plans").

After ``close_periods`` has closed the ended plans, every recurring plan (``RECURRENCE`` MONTHLY, QUARTERLY or
YEARLY) whose closed period is history (``planmath.is_history``: period plus grace over, status final) gets
its successor: the next calendar period's plan for the same client, responsible, currency, probability and
series options, its amount from the closed plan's **stored** figures (``b24app.series.successor_amount``),
``PREDECESSOR`` pointing back; the closed plan's ``SUCCESSOR`` is then set to it.

Exactly once: the portal is the record. A plan whose ``SUCCESSOR`` is set is done (a successor a person
deleted stays deleted: the series stops). Otherwise the plans whose ``PREDECESSOR`` is the plan are listed;
one found (a run that stopped between create and back-link) is linked back, none found -> one is created.
Runs for one portal are serialised on this host with a file lock; after creating, the plans pointing at the
predecessor are listed again and any beyond the lowest id are deleted (two hosts raced), so every run ends
with one successor. A plan whose options cannot be used (``series.problems``: growth out of range, a
negative cap, a recurrence that does not match its dates) is skipped with a log line and reported as flagged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from b24app import planmath, series
from b24app.installations import Installation, audit
from b24app.rest.clients import RestClient
from b24app.schema import SERIES_SUFFIXES
from b24app.storage import Store, portal_key
from sync import recompute

log = logging.getLogger(__name__)

#: the native fields a successor copies or needs
SOURCE_FIELDS = ("id", "title", "companyId", "contactId", "assignedById", "begindate", "closedate", "opportunity",
                 "currencyId", "stageId", "categoryId")


@dataclass
class SeriesOutcome:
    """What one run did: predecessor -> successor created or linked back, duplicates removed, plans flagged."""

    created: dict[int, int] = field(default_factory=dict)
    linked: dict[int, int] = field(default_factory=dict)
    removed: list[int] = field(default_factory=list)
    flagged: dict[int, list[str]] = field(default_factory=dict)
    amounts: dict[int, series.Carry] = field(default_factory=dict)  # successor id -> its sum


def names(inst: Installation) -> dict[str, str]:
    """Our key -> the REST name of the series fields this portal has (empty before it was re-provisioned)."""
    return {key: inst.field_map[suffix] for key, suffix in SERIES_SUFFIXES.items() if suffix in inst.field_map}


def options_of(inst: Installation, row: Mapping[str, Any],
               defaults: series.SeriesOptions | None = None) -> tuple[series.SeriesOptions, list[str]]:
    """A plan row's series options (empty fields: ``defaults``, the settings) and every problem with them."""
    fields = names(inst)
    values = {key: row.get(name) for key, name in fields.items()}
    options, found = series.read_options(values, inst.enum_map, defaults)
    begin, end = planmath.parse_date(row.get("begindate")), planmath.parse_date(row.get("closedate"))
    problems = found + [p for p in series.problems(options, begin, end) if p not in found]
    return options, problems


@contextmanager
def portal_lock(db: Store, member_id: str) -> Iterator[None]:
    """One series run per portal across processes (the store's lock: a file lock beside a SQLite database,
    an advisory lock on PostgreSQL; a thread lock for an in-memory database)."""
    with db.lock(f"series-{portal_key(member_id)}"):
        yield


def _recurring_ids(inst: Installation) -> list[int]:
    ids = inst.enum_map.get(SERIES_SUFFIXES["recurrence"]) or {}
    return sorted(ids[x] for x in series.MONTHS if x in ids)


def _enum_id(inst: Installation, key: str, xml_id: str) -> int | None:
    return (inst.enum_map.get(SERIES_SUFFIXES[key]) or {}).get(xml_id)


def read_candidates(client: RestClient, inst: Installation, today: date,
                    stages: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Recurring plans in a final stage (the app's and any an admin added) whose period ended before today."""
    fields = names(inst)
    recurring = _recurring_ids(inst)
    final = sorted({inst.stage_map[s] for s in ("S", "F") if s in inst.stage_map}
                   | {sid for sid, sem in (stages or {}).items() if sem in ("S", "F")})
    if not recurring or not final or "recurrence" not in fields:
        return []
    select = [*SOURCE_FIELDS, *fields.values(),
              *(inst.field_map[s] for s in ("PROBABILITY", "EXECUTED") if s in inst.field_map)]
    rows = client.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": select,
                                             "filter": {"@stageId": final, f"@{fields['recurrence']}": recurring,
                                                        "<closedate": today.isoformat()}}, items_key="items")
    return [dict(r) for r in rows]


def successors_of(client: RestClient, inst: Installation, plan_ids: list[int]) -> dict[int, list[int]]:
    """predecessor id -> the ids of the plans that name it (sorted), read from the portal."""
    field_name = names(inst)["predecessor"]
    found: dict[int, list[int]] = {}
    for chunk in recompute.chunks(sorted(set(plan_ids))):
        rows = client.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": ["id", field_name],
                                                 "filter": {f"@{field_name}": chunk}, "order": {"id": "ASC"}},
                               items_key="items")
        for row in rows:
            pred = recompute.as_int(row.get(field_name))
            if pred:
                found.setdefault(pred, []).append(recompute.as_int(row.get("id")))
    return {pred: sorted(ids) for pred, ids in found.items()}


def _decimal(value: Any) -> Decimal:
    return planmath.to_decimal(value if value not in (None, "") else 0, "plan figure")


def carry_of(inst: Installation, row: Mapping[str, Any], options: series.SeriesOptions,
             decimals: int = 2) -> series.Carry:
    """The successor's amount from the closed plan's stored amount, won figure and carried-in amount."""
    won = row.get(inst.field_map.get("EXECUTED", ""))
    return series.successor_amount(_decimal(row.get("opportunity")), _decimal(won), growth=options.growth,
                                   policy=options.policy, cap=options.cap, carried_in=options.carried,
                                   decimals=decimals)


def successor_fields(inst: Installation, row: Mapping[str, Any], options: series.SeriesOptions,
                     carry: series.Carry, begin: date, end: date) -> dict[str, Any]:
    """The new plan's fields: the closed plan's client, responsible, currency, probability and options."""
    fields = names(inst)
    title = str(row.get("title") or "").rsplit(" · ", 1)[0] or "Plan"
    out: dict[str, Any] = {
        "title": f"{title} · {series.period_name(options.recurrence, begin, end)}"[:200],
        "companyId": recompute.as_int(row.get("companyId")), "contactId": recompute.as_int(row.get("contactId")),
        "assignedById": recompute.as_int(row.get("assignedById")) or None,
        "currencyId": row.get("currencyId"), "opportunity": float(carry.total), "isManualOpportunity": "Y",
        "begindate": begin.isoformat(), "closedate": end.isoformat(), "stageId": inst.stage_map.get("P"),
        fields["recurrence"]: _enum_id(inst, "recurrence", options.recurrence),
        fields["growth"]: float(options.growth),
        fields["carryover"]: _enum_id(inst, "carryover", options.policy),
        fields["cap"]: float(options.cap) if options.cap is not None else None,
        fields["carried"]: float(carry.carry),
        fields["predecessor"]: recompute.as_int(row.get("id")),
    }
    probability = inst.field_map.get("PROBABILITY")
    if probability and row.get(probability) not in (None, ""):
        out[probability] = row.get(probability)
    if inst.category_id:
        out["categoryId"] = inst.category_id
    return {k: v for k, v in out.items() if v is not None}


def back_link(client: RestClient, inst: Installation, plan_id: int, successor: int) -> None:
    """The closed plan points forward to its successor."""
    fields: dict[str, Any] = {names(inst)["successor"]: successor}
    if inst.category_id:
        fields["categoryId"] = inst.category_id
    client.call("crm.item.update", {"entityTypeId": inst.entity_type_id, "id": plan_id, "fields": fields})


def keep_lowest(client: RestClient, inst: Installation, ids: list[int], outcome: SeriesOutcome) -> int:
    """Of several successors of one plan, keep the lowest id and delete the others; returns the one kept."""
    keep, *surplus = sorted(ids)
    for extra in surplus:
        client.call("crm.item.delete", {"entityTypeId": inst.entity_type_id, "id": extra})
        outcome.removed.append(extra)
        log.warning("portal %s: plan %s was a second successor of one plan; deleted, %s kept",
                    inst.member_id, extra, keep)
    return keep


def make_successors(client: RestClient, db: Store, inst: Installation, today: date,
                    grace_days: int = 0, stages: Mapping[str, str] | None = None,
                    rates: planmath.Rates | None = None,
                    defaults: series.SeriesOptions | None = None) -> SeriesOutcome:
    """Create the missing successors of one portal's closed recurring plans (module docstring)."""
    outcome = SeriesOutcome()
    if not inst.is_provisioned or not {"recurrence", "predecessor", "successor"} <= set(names(inst)):
        return outcome
    with portal_lock(db, inst.member_id):
        rows = read_candidates(client, inst, today, stages)
        waiting: dict[int, tuple[dict[str, Any], series.SeriesOptions]] = {}
        for row in rows:
            plan_id = recompute.as_int(row.get("id"))
            if not recompute.is_closed(inst, row, today, grace_days, stages):
                continue
            options, problems = options_of(inst, row, defaults)
            if options.successor:
                continue  # done (a successor a person deleted stays deleted)
            if problems:
                outcome.flagged[plan_id] = problems
                log.warning("portal %s: plan %s not continued: %s", inst.member_id, plan_id, ", ".join(problems))
                continue
            waiting[plan_id] = (row, options)
        if not waiting:
            return outcome
        existing = successors_of(client, inst, list(waiting))
        if rates is None and any(pid not in existing for pid in waiting):
            rates = recompute.read_rates(client)
        for plan_id, (row, options) in sorted(waiting.items()):
            made = existing.get(plan_id)
            if made:  # a run stopped between create and back-link, or another host made it
                keep = keep_lowest(client, inst, made, outcome)
                back_link(client, inst, plan_id, keep)
                outcome.linked[plan_id] = keep
                continue
            begin, end = series.next_period(options.recurrence, *_dates(row))
            decimals = recompute.currency_decimals(rates, row) if rates is not None else 2
            carry = carry_of(inst, row, options, decimals)
            fields = successor_fields(inst, row, options, carry, begin, end)
            created = client.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": fields})
            new_id = recompute.as_int((created or {}).get("item", {}).get("id"))
            again = successors_of(client, inst, [plan_id]).get(plan_id) or [new_id]
            keep = keep_lowest(client, inst, again, outcome)
            back_link(client, inst, plan_id, keep)
            outcome.created[plan_id] = keep
            outcome.amounts[keep] = carry
            log.info("portal %s: plan %s continued by plan %s (%s..%s, %s = %s × (1 + %s %%) + %s)", inst.member_id,
                     plan_id, keep, begin, end, carry.total, carry.own, carry.growth, carry.carry)
        if outcome.created or outcome.linked or outcome.removed:
            audit(db, inst.member_id, "series.successors", actor="close_periods",
                  created=outcome.created, linked=outcome.linked, removed=outcome.removed)
    return outcome


def _dates(row: Mapping[str, Any]) -> tuple[date, date]:
    begin, end = planmath.parse_date(row.get("begindate")), planmath.parse_date(row.get("closedate"))
    if begin is None or end is None:  # is_closed and series.problems refused such a plan already
        raise ValueError(f"plan {row.get('id')} has no period")
    return begin, end
