"""Auto-linking in the worker and in reconcile: the rule of ``b24app.autolink`` applied to deals as read.

The worker hands in the deals its events named (read in recompute's one batch, with the rule's fields);
reconcile hands in every unlinked deal of a client with an active plan (``read_unlinked_deals``). This module
then reads the candidate plans of those deals' clients (one batch for all of them, not a call per deal),
writes the links (``crm.item.update`` of the deal's ``parentId{plansETI}``, 50 to a batch) and keeps the
"to decide" list (``b24app.linkstore``).

A person's unlink in Bitrix24's deal card is recognised here: the deal → plan index had the deal in a plan
that still exists and the deal now has none. The app's own unlinks are people's too (the deal tab, the plan
form), recorded where they happen; the app itself never unlinks. The app's own link causes a deal update
event; that event finds the deal linked, so the rule does nothing and no loop starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from b24app import autolink, linkstore, planstore
from b24app.installations import Installation, audit
from b24app.rest.clients import RestClient
from b24app.schema import DEAL, WON_AT_FIELD, deal_select, parent_field
from b24app.storage import Store
from sync import recompute

log = logging.getLogger(__name__)
CLIENTS_PER_READ = 200  # client ids in one reconcile read's filter (it is repeated in each of its 50 chained pages)


def enabled(config: Mapping[str, Any]) -> bool:
    """``B24_AUTO_LINK`` (on by default)."""
    value = config.get("AUTO_LINK", True)
    return value if isinstance(value, bool) else str(value).strip().lower() not in ("0", "off", "false", "no", "")


def deal_fields(inst: Installation) -> list[str]:
    """The deal fields the rule needs (added to the worker's read of the deals its events named)."""
    base = deal_select(inst)
    return [*base, *(f for f in autolink.DEAL_FIELDS if f not in base)]


@dataclass
class LinkOutcome:
    linked: dict[int, int] = field(default_factory=dict)  # deal -> plan written
    waiting: list[int] = field(default_factory=list)  # deals put (or kept) "to decide"
    unlinked_by_person: list[int] = field(default_factory=list)  # a person cleared the plan in the card
    failed: dict[int, str] = field(default_factory=dict)  # deal -> why its link write failed


def active_stages(inst: Installation, stages: Mapping[str, str]) -> list[str]:
    """Every stage id of the plans' pipeline with in-progress semantics (the app's and any an admin added)."""
    found = {sid for sid, sem in stages.items() if sem == "P"}
    if "P" in inst.stage_map:
        found.add(inst.stage_map["P"])
    return sorted(found)


def read_candidates(client: RestClient, inst: Installation, deals: Sequence[autolink.DealFacts],
                    stages: Mapping[str, str]) -> list[autolink.PlanPeriod]:
    """The active plans of the deals' companies and contacts: one batch of ``crm.item.list`` (50 clients a
    command); a command that fills a page is read to its end."""
    companies = sorted({d.company_id for d in deals if d.company_id})
    contacts = sorted({d.contact_id for d in deals if d.contact_id})
    active = active_stages(inst, stages)
    if not (companies or contacts) or not active:
        return []
    select = list(autolink.PLAN_FIELDS)
    filters: dict[str, dict[str, Any]] = {}
    for kind, ids in (("companyId", companies), ("contactId", contacts)):
        for n, chunk in enumerate(recompute.chunks(ids)):
            filters[f"{kind[:2]}{n}"] = {f"@{kind}": chunk, "@stageId": active}
    commands = {key: ("crm.item.list", {"entityTypeId": inst.entity_type_id, "filter": flt, "select": select,
                                        "order": {"id": "ASC"}, "start": -1})
                for key, flt in filters.items()}
    result = client.batch_all(commands)
    if result.errors:
        key, error = next(iter(result.errors.items()))
        raise recompute.RecomputeError(f"reading candidate plans failed at {key}: {error}")
    rows: dict[int, dict[str, Any]] = {}
    for key, flt in filters.items():
        value = result.result.get(key)
        items = value.get("items", []) if isinstance(value, Mapping) else (value or [])
        if len(items) >= recompute.CHUNK:
            items = client.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id, "filter": flt,
                                                      "select": select}, items_key="items")
        for row in items:
            rows[recompute.as_int(row.get("id"))] = dict(row)
    return [autolink.plan_period(row, active) for row in rows.values()]


def read_unlinked_deals(client: RestClient, inst: Installation,
                        plans: Iterable[autolink.PlanPeriod]) -> list[dict[str, Any]]:
    """Reconcile's part: every deal without a plan, not lost, of a company or contact that has an active plan
    (fast mode: a chained read per 200 companies and per 200 contacts, so that the filter repeated in each
    chained command stays small; ⌈their open and won deals/2500⌉ calls each)."""
    mine = [p for p in plans if p.active]
    companies = sorted({p.company_id for p in mine if p.company_id})
    contacts = sorted({p.contact_id for p in mine if p.contact_id and not p.company_id})
    parent = parent_field(inst.entity_type_id)
    found: dict[int, dict[str, Any]] = {}
    for kind, ids in (("companyId", companies), ("contactId", contacts)):
        rows = [row for n in range(0, len(ids), CLIENTS_PER_READ) for row in client.list_all("crm.item.list", {
            "entityTypeId": DEAL, "filter": {f"@{kind}": ids[n:n + CLIENTS_PER_READ], "@stageSemanticId": ["P", "S"]},
            "select": deal_fields(inst)}, items_key="items")]
        for row in rows:  # "no plan" is checked here: an empty parent field is not reliably filterable
            if not recompute.as_int(row.get(parent)):
                found[recompute.as_int(row.get("id"))] = dict(row)
    return list(found.values())


def apply_rule(client: RestClient, db: Store, inst: Installation,
               deal_rows: Iterable[Mapping[str, Any]], stages: Mapping[str, str],
               known: Mapping[int, int] | None = None, plans_found: Iterable[int] = (),
               plans: Sequence[autolink.PlanPeriod] | None = None, actor: str = "worker") -> LinkOutcome:
    """The rule over deals as just read: recognise a person's unlink in the card, link the deals with one
    candidate, keep the "to decide" list. ``known``: the deal → plan index as it was before the read;
    ``plans_found``: plans that exist (read in the same pass); ``plans``: the candidate plans when the caller
    already has them (reconcile), else they are read here."""
    parent = parent_field(inst.entity_type_id)
    out = LinkOutcome()
    facts = [autolink.deal_facts(row, parent, inst.time_zone or "") for row in deal_rows]
    facts = [f for f in facts if f.id > 0]
    if not facts:
        return out
    existing = set(plans_found)
    for f in facts:  # a deal the index had in a plan that still exists, now without one: a person's unlink
        before = (known or {}).get(f.id, 0)
        if before and not f.plan_id and before in existing:
            linkstore.record_decision(db, inst.member_id, f.id, 0, source="card")
            audit(db, inst.member_id, "deal.unlinked_by_person", actor=actor, deal_id=f.id, plan_id=before)
            out.unlinked_by_person.append(f.id)
    people = linkstore.decided(db, inst.member_id, [f.id for f in facts])
    open_deals = [f for f in facts if not f.plan_id and f.id not in people and f.semantics != "F" and f.has_client]
    if plans is None:
        plans = read_candidates(client, inst, open_deals, stages) if open_deals else []
    by_id = {p.id: p for p in plans}
    links: dict[int, int] = {}
    waiting: list[linkstore.Pending] = []
    done: list[int] = []
    for f in facts:
        decision = autolink.decide(f, plans, decided=f.id in people)
        if decision.action == autolink.LINK:
            links[f.id] = decision.plan_id
        elif decision.action == autolink.WAIT:
            waiting.append(linkstore.Pending(
                deal_id=f.id, title=f.title, company_id=f.company_id, contact_id=f.contact_id, day=f.day,
                amount=f.amount, currency=f.currency, reason=decision.reason,
                candidates=[by_id[c] for c in decision.candidates if c in by_id]))
        else:
            done.append(f.id)
    linkstore.drop_pending(db, inst.member_id, done)
    linkstore.put_pending(db, inst.member_id, waiting)
    out.waiting = [w.deal_id for w in waiting]
    if links:
        _write_links(client, db, inst, links, {f.id: f for f in facts}, deal_rows_by_id(deal_rows), out, actor)
    return out


def deal_rows_by_id(rows: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {recompute.as_int(r.get("id")): r for r in rows}


def _write_links(client: RestClient, db: Store, inst: Installation, links: Mapping[int, int],
                 facts: Mapping[int, autolink.DealFacts], rows: Mapping[int, Mapping[str, Any]], out: LinkOutcome,
                 actor: str) -> None:
    """Write the links, 50 to a batch; the index learns each at once (so a later unlink is recognised)."""
    parent = parent_field(inst.entity_type_id)
    for chunk in recompute.chunks(sorted(links)):
        commands = {f"l{deal_id}": ("crm.item.update", {"entityTypeId": DEAL, "id": deal_id,
                                                        "fields": {parent: links[deal_id]}}) for deal_id in chunk}
        result = client.batch(commands)
        written: list[dict[str, Any]] = []
        for deal_id in chunk:
            error = result.errors.get(f"l{deal_id}")
            if error is not None:
                out.failed[deal_id] = str(error)
                log.warning("portal %s deal %s: auto-link to plan %s failed: %s", inst.member_id, deal_id,
                            links[deal_id], error)
                continue
            out.linked[deal_id] = links[deal_id]
            row = rows.get(deal_id, {})
            written.append({"id": deal_id, parent: links[deal_id], "stageSemanticId": facts[deal_id].semantics,
                            WON_AT_FIELD: row.get(WON_AT_FIELD)})
            audit(db, inst.member_id, "deal.auto_linked", actor=actor, deal_id=deal_id, plan_id=links[deal_id])
        planstore.update_index(db, inst.member_id, written, parent, plan_ids=())
        linkstore.drop_pending(db, inst.member_id, [int(w["id"]) for w in written])
    if out.linked:
        log.info("portal %s: %s deal(s) linked to their plan by the auto-link rule", inst.member_id, len(out.linked))
