"""What the frames read from and write to the portal, always with the CURRENT USER's token.

Bitrix24 applies the calling user's CRM permissions to every call made with their ``AUTH_ID``, so a manager
sees and edits exactly the plans, deals and clients the portal lets them. The plans and their deals are
here; currencies, employees and client names in placements/reference_data.py.
Docs: api-reference/crm/universal/crm-item-{list,get,add,update}.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from b24app.installations import Installation
from b24app.rest import listing
from b24app.rest.clients import RestClient
from b24app.rest.codec import MAX_BATCH, Command
from b24app.schema import DEAL, DEAL_CARD_FIELDS, PlanSchema
from b24app.series import SeriesOptions
from b24app.storage import Store
from placements.plan_form import Client, PlanInput
from placements.plans_query import (
    NAME_SORTS,
    PAGE_SIZE,
    ListQuery,
    PlanRow,
    Totals,
    build_filter,
    build_order,
    row_from_item,
    sort_rows,
    sorted_here,
    totals,
)
from placements.reference_data import ReferenceData, User, cache, items_of, name_commands
from sync.explain import Explanation, explain

log = logging.getLogger(__name__)
DEAL_SELECT = list(DEAL_CARD_FIELDS)
GUESS_PLANS = 450  # a scan whose count is not known reads this many in its first batch (10 pages)


def missing_fields(items: list[dict[str, Any]], schema: PlanSchema) -> list[str]:
    """The app's fields that plans read with them selected came back without: the portal no longer has them (an
    admin deleted them); a field that exists comes back, empty or not."""
    if not items:
        return []
    return sorted(name for name in schema.fields.values() if all(name not in item for item in items))


@dataclass
class _Index:
    """The light rows of every plan matching a filter; ``named`` once client and user names are filled in."""

    rows: list[PlanRow]
    named: bool = False


class PortalData(ReferenceData):
    """Reads and writes for one frame user of one installation (the reference data it inherits)."""

    def __init__(self, client: RestClient, inst: Installation, user_id: int,
                 admin_client: Callable[[], RestClient] | None = None, data_version: int = 0,
                 reference_version: str = ""):
        super().__init__(client, inst, user_id, admin_client, reference_version)
        self.schema = PlanSchema.of(inst)
        self.eti = self.schema.entity_type_id
        self.data_version = data_version  # the newest plan snapshot: cached scans are of this state only
        self.missing_fields: list[str] = []  # the app's fields the last page of plans came back without

    # ---- plans ---------------------------------------------------------------------------------
    def _filter(self, query: ListQuery, today: date) -> dict[str, Any] | None:
        clients = self.match_clients(query.q) if query.q else None
        return build_filter(query, self.schema, today, clients)

    def page(self, query: ListQuery, today: date,
             estimate: int | None = None) -> tuple[list[PlanRow], int, dict[str, Any] | None]:
        """One page of 50 plans, filtered and sorted by the portal (by the app when ``sorted_here``);
        also returns the filter used. The page, its clients' and responsibles' names and the reference data
        not cached yet come in one ``batch`` (``$result`` references, reference_data.name_commands).
        ``estimate``: how many plans match, as the page that linked here saw (sizes the app's scan)."""
        flt = self._filter(query, today)
        if flt is None:
            return [], 0, None
        if sorted_here(query):
            rows, total = self._page_sorted_here(query, flt, estimate)
            return rows, total, flt
        commands: dict[str, Command] = {"page": ("crm.item.list", {
            "entityTypeId": self.eti, "select": self.schema.select(), "filter": flt,
            "order": build_order(query, self.schema), "start": (query.page - 1) * PAGE_SIZE})}
        commands.update(name_commands("page"))
        commands.update(self.reference_commands())
        result = self._batch(commands)
        if "page" in result.errors:
            raise result.errors["page"]
        self.take_reference(result)
        items = items_of(result.result.get("page"))
        self.missing_fields = missing_fields(items, self.schema)
        rows = [row_from_item(i, self.schema) for i in items]
        return self.take_names(result, rows), int(result.total.get("page") or 0), flt

    def _page_sorted_here(self, query: ListQuery, flt: dict[str, Any],
                          estimate: int | None) -> tuple[list[PlanRow], int]:
        """Sort the rows of every matching plan here and show this page's 50: one fast-mode scan (with every
        column, so the page needs no second read) and one batch of names — of every plan for a sort by name
        (as the exports do), of the page's plans for a sort by money in the base currency."""
        index = self._light_rows(flt, estimate)
        by_name = query.sort in NAME_SORTS
        if by_name and not index.named:
            self.fill_names(index.rows)
            index.named = True
        ordered = sort_rows(index.rows, query, None if by_name else self.to_base())
        start = (query.page - 1) * PAGE_SIZE
        rows = [replace(row) for row in ordered[start:start + PAGE_SIZE]]
        return (rows if index.named else self.fill_names(rows)), len(index.rows)

    def _flt_key(self, kind: str, flt: dict[str, Any]) -> tuple:
        return (kind, self.inst.member_id, self.user_id, self.data_version,
                json.dumps(flt, sort_keys=True, default=str))

    def _totals_key(self, flt: dict[str, Any]) -> tuple:
        return self._flt_key("totals", flt)

    def _light_rows(self, flt: dict[str, Any], estimate: int | None = None) -> _Index:
        """Every matching plan (one fast-mode scan, sized by ``estimate``: the count the page saw), cached
        30 s per user and filter: the totals, the roll-up and the sorts by name all read it."""
        key = self._flt_key("rows", flt)
        found = cache.get(key)
        if found is None:
            items = self._scan(flt, estimate)
            self.missing_fields = missing_fields(items, self.schema)
            found = _Index([row_from_item(i, self.schema) for i in items])
            cache.put(key, found, 30)
        return found

    def _scan(self, flt: dict[str, Any], estimate: int | None) -> list[dict[str, Any]]:
        """Every plan matching ``flt`` in fast mode; with an estimate, the reference data not cached yet rides
        in the scan's first batch (the rest of a list longer than estimated is read after it)."""
        params = {"entityTypeId": self.eti, "filter": flt, "select": self.schema.select()}
        extra = self.reference_commands()
        if estimate is not None and not extra and not self._riders:
            return self.client.list_all("crm.item.list", params, estimate=estimate)
        guess = estimate if estimate is not None else GUESS_PLANS  # no count known: a few pages, no probe
        length = max(1, min(MAX_BATCH - len(extra) - len(self._riders), -(-guess // PAGE_SIZE) + 1))
        commands = {**listing.chain("crm.item.list", params, "items", "id", None, length), **extra}
        result = self._batch(commands)
        self.take_reference(result)
        rows: list[dict[str, Any]] = []
        for key in list(commands)[:length]:
            if key in result.errors:
                raise result.errors[key]
            page = listing.rows_of(result.result.get(key), "items")
            rows += page
            if len(page) < PAGE_SIZE:
                return rows
        rest = self.client.list_all("crm.item.list", {**params, "filter": {**flt, ">id": rows[-1]["id"]}})
        return rows + rest

    def cached_totals(self, flt: dict[str, Any] | None) -> Totals | None:
        """The totals if they were computed in the last 30 s for this user and filter, else None."""
        if flt is None:
            return totals([])
        found = cache.get(self._totals_key(flt))
        if found is None and cache.get(self._flt_key("rows", flt)) is not None:
            found = self.totals(flt)  # the rows were just read for a sort by name: no second scan
        return found

    def filter_for(self, query: ListQuery, today: date) -> dict[str, Any] | None:
        return self._filter(query, today)

    def totals(self, flt: dict[str, Any] | None, estimate: int | None = None) -> Totals:
        """Totals of every matching plan (one fast-mode scan), cached per user and filter."""
        if flt is None:
            return totals([])
        key = self._totals_key(flt)
        found = cache.get(key)
        if found is None:
            rows = self._light_rows(flt, estimate).rows  # first: the currencies not cached ride in its scan
            base, rates = self.base_rates()
            found = totals(rows, rates, base)
            cache.put(key, found, 30)
        return found

    def all_rows(self, query: ListQuery, today: date) -> list[PlanRow]:
        """Every matching plan with every column (exports)."""
        flt = self._filter(query, today)
        if flt is None:
            return []
        items = self.client.list_all("crm.item.list", {"entityTypeId": self.eti, "filter": flt,
                                                       "select": self.schema.select()})
        return self.fill_names([row_from_item(i, self.schema) for i in items])

    def plan(self, plan_id: int) -> PlanRow:
        item = self.client.call("crm.item.get", {"entityTypeId": self.eti, "id": plan_id})["item"]
        return self.fill_names([row_from_item(item, self.schema)])[0]

    def client_plans(self, client: Client, status: str | None = None) -> list[PlanRow]:
        flt: dict[str, Any] = {f"{client.kind}Id": client.id}
        if status:
            flt["stageId"] = self.schema.stages[status]
        items = self.client.list_all("crm.item.list", {"entityTypeId": self.eti, "filter": flt,
                                                       "select": self.schema.select()})
        rows = [row_from_item(i, self.schema) for i in items]
        rows.sort(key=lambda r: (r.begindate or date.min, r.id), reverse=True)
        return self.fill_names(rows)

    def plan_owner(self, plan_id: int) -> User | None:
        """Whose a plan is, for a person the portal does not let read it: only ``assignedById`` is read, with
        the installation's token, and only the responsible's name is shown."""
        if self.admin_client is None:
            return None
        with self.admin_client() as admin:
            items = items_of(admin.call("crm.item.list", {"entityTypeId": self.eti, "filter": {"id": plan_id},
                                                          "select": ["id", "assignedById"]}))
        owner = int(items[0].get("assignedById") or 0) if items else 0
        return self.users_by_id([owner]).get(owner) if owner else None

    def overlapping_plans(self, client: Client, currency: str, begin: date, end: date,
                          other_than: int | None = None) -> list[PlanRow]:
        """The client's plans in ``currency`` whose period overlaps ``begin``..``end`` (a likely duplicate)."""
        flt: dict[str, Any] = {f"{client.kind}Id": client.id, "currencyId": currency,
                               "<=begindate": end.isoformat(), ">=closedate": begin.isoformat()}
        items = self.client.list_all("crm.item.list", {"entityTypeId": self.eti, "filter": flt,
                                                       "select": self.schema.select()})
        return [row for row in (row_from_item(i, self.schema) for i in items) if row.id != other_than]

    def delete_plan(self, plan_id: int) -> int:
        """Unlink the plan's deals (their own figures untouched), then delete the plan; returns how many deals
        were unlinked."""
        deals = [int(d["id"]) for d in self.plan_deals(plan_id)]
        if deals:
            result = self.client.batch_all({f"u{d}": self._parent_update(d, 0) for d in deals})
            result.raise_first()
        self.client.call("crm.item.delete", {"entityTypeId": self.eti, "id": plan_id})
        cache.drop(self.inst.member_id)
        return len(deals)

    def plan_deals(self, plan_id: int) -> list[dict[str, Any]]:
        return self.client.list_all("crm.item.list", {"entityTypeId": DEAL, "select": DEAL_SELECT,
                                                      "filter": {self.schema.parent_field: plan_id}})

    def explain(self, db: Store, plan: PlanRow, deals: list[dict[str, Any]],
                grace: int) -> Explanation:
        """Which of the plan's won deals were won outside its period; for those, the client's plan then."""
        found = explain(db, self.inst, plan.begindate, plan.closedate, deals, grace, currency=plan.currency)
        if found.outside and plan.client:
            periods = [(p.id, p.begindate, p.closedate) for p in self.client_plans(plan.client) if p.id != plan.id]
            found = explain(db, self.inst, plan.begindate, plan.closedate, deals, grace, periods, plan.currency)
        return found

    # ---- deals ---------------------------------------------------------------------------------
    def deal(self, deal_id: int) -> dict[str, Any]:
        return self.client.call("crm.item.get", {"entityTypeId": DEAL, "id": deal_id})["item"]

    def client_deals(self, client: Client) -> list[dict[str, Any]]:
        return self.client.list_all("crm.item.list", {
            "entityTypeId": DEAL, "filter": {f"{client.kind}Id": client.id},
            "select": [*DEAL_SELECT, self.schema.parent_field]})

    def deal_clients(self, deal_ids: Iterable[int]) -> dict[int, frozenset[Client]]:
        """deal id -> the clients it names (its company and its contact)."""
        from placements.plans_query import clients_of

        ids = sorted(set(deal_ids))
        if not ids:
            return {}
        return {int(d["id"]): clients_of(d)
                for d in self.client.get_many(DEAL, ids, select=["id", "companyId", "contactId"])}

    # ---- writes --------------------------------------------------------------------------------
    def save_plan(self, data: PlanInput, client_name: str, plan_id: int | None = None,
                  linked_before: Iterable[int] = ()) -> int:
        """Create or update the plan, then link the chosen deals and unlink the ones taken off it."""
        fields: dict[str, Any] = {
            "title": data.title or plan_title(client_name, data.begindate, data.closedate),
            "companyId": data.client.id if data.client.kind == "company" else 0,
            "contactId": data.client.id if data.client.kind == "contact" else 0,
            "begindate": data.begindate.isoformat(), "closedate": data.closedate.isoformat(),
            "opportunity": float(data.amount), "currencyId": data.currency, "isManualOpportunity": "Y",
            "assignedById": data.assigned_by_id,
        }
        if "probability" in self.schema.fields:
            fields[self.schema.fields["probability"]] = float(data.probability)
        if data.series is not None and self.schema.has_series:
            fields.update(self._series_fields(data.series))
        if self.inst.category_id:  # an update without categoryId may move the item (crm-item-update.md)
            fields["categoryId"] = self.inst.category_id
        if plan_id is None:
            fields["stageId"] = self.schema.stages.get("P")
            item = self.client.call("crm.item.add", {"entityTypeId": self.eti, "fields": fields})["item"]
            plan_id = int(item["id"])
            if data.series is not None and data.series.predecessor and self.schema.has_series:
                self._back_link(data.series.predecessor, plan_id)
        else:
            self.client.call("crm.item.update", {"entityTypeId": self.eti, "id": plan_id, "fields": fields})
        commands: dict[str, tuple[str, dict[str, Any]]] = {}
        for deal_id in data.deal_ids:
            if deal_id not in linked_before:
                commands[f"l{deal_id}"] = self._parent_update(deal_id, plan_id)
        for deal_id in set(linked_before) - set(data.deal_ids):
            commands[f"u{deal_id}"] = self._parent_update(deal_id, 0)
        if commands:
            result = self.client.batch_all(commands)
            if result.errors:
                raise next(iter(result.errors.values()))
        cache.drop(self.inst.member_id)
        return plan_id

    def _series_fields(self, options: SeriesOptions) -> dict[str, Any]:
        """The series user fields of a plan (list values as this portal's item ids)."""
        f = self.schema.fields
        out: dict[str, Any] = {
            f["recurrence"]: self.schema.enum_id("recurrence", options.recurrence),
            f["growth"]: float(options.growth),
            f["carryover"]: self.schema.enum_id("carryover", options.policy),
            f["cap"]: float(options.cap) if options.cap is not None else "",
            f["carried"]: float(options.carried),
        }
        if options.predecessor:
            out[f["predecessor"]] = options.predecessor
        return out

    def _back_link(self, predecessor: int, successor: int) -> None:
        """The plan continued points forward to its new successor."""
        fields: dict[str, Any] = {self.schema.fields["successor"]: successor}
        if self.inst.category_id:
            fields["categoryId"] = self.inst.category_id
        self.client.call("crm.item.update", {"entityTypeId": self.eti, "id": predecessor, "fields": fields})

    def _parent_update(self, deal_id: int, plan_id: int) -> tuple[str, dict[str, Any]]:
        return ("crm.item.update", {"entityTypeId": DEAL, "id": deal_id,
                                    "fields": {self.schema.parent_field: plan_id}})

    def link_deal(self, deal_id: int, plan_id: int) -> None:
        method, params = self._parent_update(deal_id, plan_id)
        self.client.call(method, params)
        cache.drop(self.inst.member_id)

    def add_gap_deal(self, plan: PlanRow, amount: Decimal, closedate: date, title: str) -> int:
        """A new deal for the plan's client, the uncovered ``amount`` in the plan currency, closing on
        ``closedate``, linked to the plan (crm.item.add, entityTypeId 2: api-reference/crm/universal/crm-item-add.md).
        Created with the person's own token: Bitrix24 applies their right to add deals."""
        fields: dict[str, Any] = {"title": title, "opportunity": str(amount), "currencyId": plan.currency,
                                  "isManualOpportunity": "Y", "closedate": closedate.isoformat(),
                                  self.schema.parent_field: plan.id}
        if plan.client is not None:
            fields["companyId" if plan.client.kind == "company" else "contactId"] = plan.client.id
        result = self.client.call("crm.item.add", {"entityTypeId": DEAL, "fields": fields})
        cache.drop(self.inst.member_id)
        item = result.get("item") if isinstance(result, dict) else None
        return int((item or {}).get("id") or 0)

    def set_status(self, plan_id: int, semantics: str, closedate: date | None = None) -> None:
        """Close (S), cancel (F) or reopen (P) a plan by moving it to that stage (reopened until ``closedate``)."""
        fields: dict[str, Any] = {"stageId": self.schema.stages[semantics]}
        if closedate is not None:
            fields["closedate"] = closedate.isoformat()
        if self.inst.category_id:
            fields["categoryId"] = self.inst.category_id
        self.client.call("crm.item.update", {"entityTypeId": self.eti, "id": plan_id, "fields": fields})
        cache.drop(self.inst.member_id)


def plan_title(client_name: str, begin: date, end: date) -> str:
    """The automatic title, in the user's language, named like the chart's periods (i18n.period_label):
    ``Acme · T4 2026`` / ``Acme · Q4 2026`` / ``Acme · 4 кв. 2026``, ``Acme · dic 2026``, ``Acme · 2026``;
    other spans as the compact interval with the year."""
    from placements.i18n import period_label, span
    from placements.plans_query import month_label

    whole = "…" not in month_label(begin, end)  # a calendar month, quarter or year
    name = period_label(begin, end) if whole else span(begin, end)
    return f"{client_name or '?'} · {name}"[:200]
