"""Recompute plans from their linked deals and write back only what changed.

One read batch (the plans by ``@id``, their deals by ``@parentId{plansETI}``, the currency rates), the
pure math (``b24app.planmath.compute``), then one ``crm.item.update`` per *changed* plan, 50 to a batch.
Writing only changed values ends the loop started by the app's own ``ONCRMDYNAMICITEMUPDATE``: the
next recompute of that plan finds nothing to change and writes nothing.

Docs: api-reference/crm/universal/crm-item-list.md, crm-item-update.md,
api-reference/crm/currency/crm-currency-list.md, settings/how-to-call-rest-api/batch.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from b24app import alertstore, forecast, money, planmath, planstore, ratestore
from b24app.installations import Installation, audit
from b24app.rest.clients import RestClient
from b24app.schema import DEAL, WON_AT_FIELD, deal_select, figures_select, parent_field, stage_directory
from b24app.storage import Store

log = logging.getLogger(__name__)

CHUNK = 50  # ids per crm.item.list filter: one page of results


class RecomputeError(RuntimeError):
    """Some plans could not be read or written; the message says which and why."""


@dataclass
class Outcome:
    """What one recompute or reconcile did, for logs, the CLI and tests."""

    plans: int = 0
    deals: int = 0
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    error: str | None = None  # the whole run failed (portal unreachable, tokens refused...)
    moved: dict[int, tuple[str, str]] = field(default_factory=dict)  # plan id -> (new status, title): stage written
    kept: list[int] = field(default_factory=list)  # closed periods left as they were at the close
    superseded: list[int] = field(default_factory=list)  # a person moved the stage after the read: not written
    series: Any = None  # close_periods: the successors made (sync.successors.SeriesOutcome)
    named_deals: list[dict[str, Any]] = field(default_factory=list)  # the deals an event named, as just read
    plans_found: set[int] = field(default_factory=set)  # the plans the read found (a deleted one is missing)
    stages: dict[str, str] = field(default_factory=dict)  # stage id -> semantics of the plans' pipeline


def chunks(values: Sequence[int], size: int = CHUNK) -> list[list[int]]:
    return [list(values[i:i + size]) for i in range(0, len(values), size)]


def as_int(value: Any) -> int:
    """A REST id (int, numeric string, None) as int; 0 when absent or malformed."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# --- reading -------------------------------------------------------------------------------------------

def read_rates(client: RestClient) -> planmath.Rates:
    """The portal's currencies (one call): rates against the base currency and decimals."""
    return planmath.Rates.from_rest(client.call("crm.currency.list", {}) or [])


def stages_command(inst: Installation) -> tuple[str, dict[str, Any]]:
    """Read the plans pipeline's stages with their semantics (api-reference/crm/status/crm-status-list.md)."""
    return "crm.status.list", {"filter": {"ENTITY_ID": stage_directory(inst.entity_type_id, inst.category_id)}}


def parse_stages(inst: Installation, rows: Any) -> dict[str, str]:
    """stage id -> P / S / F for every stage of the pipeline: the app's own ones and any an admin added
    (``SEMANTICS`` is empty for in-progress stages)."""
    found = {stage: sem for sem, stage in inst.stage_map.items()}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, Mapping) and row.get("STATUS_ID"):
            found[str(row["STATUS_ID"])] = str(row.get("SEMANTICS") or "P").upper()[:1] or "P"
    return found


def read_rates_and_stages(client: RestClient, inst: Installation) -> tuple[planmath.Rates, dict[str, str], str]:
    """The rates, the plans' stages and the portal's UTC offset (``server.time``), in one batch."""
    result = client.batch({"rates": ("crm.currency.list", {}), "stages": stages_command(inst),
                           "time": ("server.time", {})})
    errors = {k: v for k, v in result.errors.items() if k != "time"}  # an old portal without server.time
    if errors:
        key, error = next(iter(errors.items()))
        raise RecomputeError(f"reading {key} failed: {error}")
    return (planmath.Rates.from_rest(result.result.get("rates") or []),
            parse_stages(inst, result.result.get("stages")), planmath.offset_of(str(result.result.get("time") or "")))


def _list_params(entity_type_id: int, filter_: Mapping[str, Any], select: list[str]) -> dict[str, Any]:
    # Fast mode (no count): order by id, start=-1 (ARCHITECTURE.md F8).
    return {"entityTypeId": entity_type_id, "filter": dict(filter_), "select": select,
            "order": {"id": "ASC"}, "start": -1}


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, Mapping):
        value = value.get("items", [])
    return [dict(row) for row in value or [] if isinstance(row, Mapping)]


def read_plans_and_deals(client: RestClient, inst: Installation, plan_ids: Iterable[int],
                         rates: planmath.Rates | None = None, deal_ids: Iterable[int] = (),
                         named_fields: Sequence[str] = ()
                         ) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]], planmath.Rates,
                                    list[dict[str, Any]], dict[str, str]]:
    """Read the plans, every deal linked to them, (unless given) the rates and (``deal_ids``) the deals an
    event named (with ``named_fields`` too), in one batch where possible: ``(plans by id, linked deals, rates,
    named deals, stage semantics)``.

    Deal chunks that fill a whole page (50 rows) are read again, together, to the end with ``list_all``.
    Raises RecomputeError when a read failed (nothing is written from half a picture).
    """
    ids = sorted({int(i) for i in plan_ids if int(i) > 0})
    named = sorted({int(i) for i in deal_ids if int(i) > 0})
    parent = parent_field(inst.entity_type_id)
    commands: dict[str, tuple[str, dict[str, Any]]] = {"stages": stages_command(inst)}
    if rates is None:
        commands["rates"] = ("crm.currency.list", {})
    id_chunks = chunks(ids)
    for n, chunk in enumerate(id_chunks):
        commands[f"p{n}"] = ("crm.item.list", _list_params(inst.entity_type_id or 0, {"@id": chunk},
                                                            figures_select(inst)))
        commands[f"d{n}"] = ("crm.item.list", _list_params(DEAL, {f"@{parent}": chunk}, deal_select(inst)))
    named_chunks = chunks(named)
    for n, chunk in enumerate(named_chunks):
        commands[f"t{n}"] = ("crm.item.list", _list_params(DEAL, {"@id": chunk}, [
            *deal_select(inst), *(f for f in named_fields if f not in deal_select(inst))]))
    if not ids and not named:
        return {}, [], rates if rates is not None else read_rates(client), [], parse_stages(inst, [])
    result = client.batch_all(commands)
    if result.errors:
        key, error = next(iter(result.errors.items()))
        raise RecomputeError(f"reading plans failed at {key}: {error}")
    if rates is None:
        rates = planmath.Rates.from_rest(result.result.get("rates") or [])
    plans: dict[int, dict[str, Any]] = {}
    deals: dict[int, dict[str, Any]] = {}
    overflow: list[int] = []
    for n, chunk in enumerate(id_chunks):
        for row in _items(result.result.get(f"p{n}")):
            plans[as_int(row.get("id"))] = row
        rows = _items(result.result.get(f"d{n}"))
        if len(rows) >= CHUNK:  # a full page: there may be more; read those plans' deals to the end
            overflow += chunk
        for row in rows:
            deals[as_int(row.get("id"))] = dict(row)
    if overflow:
        for row in client.list_all("crm.item.list", {"entityTypeId": DEAL, "filter": {f"@{parent}": overflow},
                                                     "select": deal_select(inst)}, items_key="items"):
            deals[as_int(row.get("id"))] = dict(row)
    touched = [row for n in range(len(named_chunks)) for row in _items(result.result.get(f"t{n}"))]
    return plans, list(deals.values()), rates, touched, parse_stages(inst, result.result.get("stages"))


# --- the math and the diff (pure) ---------------------------------------------------------------------

def portal_today(inst: Installation, now: datetime | None = None) -> date:
    """"Today" for the portal: the date at ``now`` (default: this moment) in the portal's own UTC offset
    (``server.time``, kept per installation), not the server's (ARCHITECTURE.md F13)."""
    return (now or datetime.now(UTC)).astimezone(planmath.portal_zone(inst.time_zone)).date()


def grace_days(config: Mapping[str, Any]) -> int:
    """``B24_GRACE_DAYS``: days after a plan's period during which a won deal still counts."""
    return max(int(config.get("GRACE_DAYS") or 0), 0)


def figures_for(inst: Installation, row: Mapping[str, Any], deals: Iterable[Mapping[str, Any]],
                rates: planmath.Rates, today: date, grace_days: int = 0,
                history: planmath.RateHistory | None = None,
                stages: Mapping[str, str] | None = None) -> planmath.PlanFigures:
    """The plan math over REST rows (plan item and its deal items)."""
    plan = planmath.Plan.from_item(row, inst.field_map, inst.stage_map, today=today, semantics=stages)
    items = [planmath.Deal.from_item(d, inst.entity_type_id or 0) for d in deals]
    return planmath.compute(plan, items, rates, today, grace_days=grace_days, history=history)


def assess(inst: Installation, row: Mapping[str, Any], deals: Iterable[Mapping[str, Any]], rates: planmath.Rates,
           today: date, grace_days: int = 0, history: planmath.RateHistory | None = None,
           stages: Mapping[str, str] | None = None, settings: forecast.ForecastSettings | None = None,
           ) -> tuple[planmath.PlanFigures, forecast.Forecast]:
    """The plan math and the forecast over REST rows, from the same deals (won and open alike)."""
    plan = planmath.Plan.from_item(row, inst.field_map, inst.stage_map, today=today, semantics=stages)
    items = [planmath.Deal.from_item(d, inst.entity_type_id or 0) for d in deals]
    figures = planmath.compute(plan, items, rates, today, grace_days=grace_days, history=history)
    return figures, forecast.compute(plan, figures, items, rates, today, settings, grace_days=grace_days)


def forecast_settings(config: Mapping[str, Any]) -> forecast.ForecastSettings:
    """``B24_RISK_*`` and ``B24_FORECAST_DEFAULT_PROBABILITY``."""
    return forecast.ForecastSettings.from_config(config)


def is_closed(inst: Installation, row: Mapping[str, Any], today: date, grace_days: int = 0,
              stages: Mapping[str, str] | None = None) -> bool:
    """Whether the plan's period (plus grace) is over and its stage final: a closed period, history."""
    plan = planmath.Plan.from_item(row, inst.field_map, inst.stage_map, semantics=stages)
    return planmath.is_history(plan, today, grace_days)


def rate_history(db: Store, inst: Installation, rates: planmath.Rates,
                 source: str = "read") -> planmath.RateHistory:
    """Record the rates just read when they differ from the last set kept; the whole history for the math."""
    ratestore.record(db, inst.member_id, money.rows_of(rates), source)
    return stored_history(db, inst)


def stored_history(db: Store, inst: Installation) -> planmath.RateHistory:
    """The rate history as kept (a set that no longer parses is skipped: the others still apply)."""
    sets = []
    for since, rows in ratestore.history(db, inst.member_id):
        try:
            sets.append((since, planmath.Rates.from_rest(rows)))
        except planmath.RatesError as exc:
            log.warning("portal %s: a recorded set of rates (%s) is unusable: %s", inst.member_id, since, exc)
    return planmath.RateHistory.of(sets)


def with_won_moments(db: Store, inst: Installation,
                     deals: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The deals, each won one with the moment the deal -> plan index keeps for its win (the first one the
    app saw while it stays won: a later move between success stages does not re-date it)."""
    rows = [dict(d) for d in deals]
    moments = planstore.won_moments(db, inst.member_id, [as_int(d.get("id")) for d in rows
                                                         if d.get("stageSemanticId") == "S"])
    for row in rows:
        moment = moments.get(as_int(row.get("id")))
        if moment and row.get("stageSemanticId") == "S":
            row[WON_AT_FIELD] = moment
    return rows


def currency_decimals(rates: planmath.Rates, row: Mapping[str, Any]) -> int:
    return rates.decimals(str(row.get("currencyId") or "") or rates.base)


def changes(inst: Installation, row: Mapping[str, Any], figures: planmath.PlanFigures,
            rates: planmath.Rates, stages: Mapping[str, str] | None = None,
            outlook: forecast.Forecast | None = None) -> dict[str, Any]:
    """The ``fields`` of the ``crm.item.update`` this plan needs: only values that differ, maybe empty.

    Money is compared and written at the plan currency's decimals, percentages at two decimals. The
    stage moves (to the app's stage of the new status, ``stage_map``) only when the status differs from
    the semantics of the stage the plan is in: a plan in any in-progress stage, or in a failure stage a
    person chose, stays where it is until the figures or the calendar say otherwise.
    """
    wanted = planmath.to_fields(figures, inst.field_map, currency_decimals(rates, row), inst.stage_map)
    row = dict(row)
    if outlook is not None:
        wanted.update(forecast.to_fields(outlook, inst.field_map, currency_decimals(rates, row)))
        risk = inst.field_map.get(forecast.RISK_SUFFIX)
        if risk and row.get(risk) not in (None, ""):  # Y/N, 1/0 or true/false: the same flag
            row[risk] = forecast.YES if forecast.is_yes(row.get(risk)) else forecast.NO
    current = {**{sid: sem for sem, sid in inst.stage_map.items()}, **(stages or {})}.get(str(row.get("stageId") or ""))
    if current == figures.status:
        wanted.pop("stageId", None)
    return planmath.changed_fields(row, wanted)


# --- writing and local state --------------------------------------------------------------------------

def _snapshot_row(row: Mapping[str, Any], figures: planmath.PlanFigures, outlook: forecast.Forecast | None,
                  decimals: int, today: date, kind: str) -> dict[str, Any]:
    shown = planmath.rounded(figures, decimals)
    return {"plan_id": as_int(row.get("id")), "amount": str(planmath.to_decimal(row.get("opportunity"))),
            "currency": str(row.get("currencyId") or ""), "won": str(shown.won), "remainder": str(shown.remainder),
            "execution": str(shown.execution), "probable": str(shown.probable), "status": shown.status,
            "forecast": str(planmath.quantize(outlook.expected, decimals)) if outlook else "",
            "open_pipeline": str(planmath.quantize(outlook.open_pipeline, decimals)) if outlook else "",
            "at_risk": int(bool(outlook and outlook.at_risk)), "day": today.isoformat(), "kind": kind}


_SNAPSHOT_KEYS = ("day", "won", "forecast", "open_pipeline", "at_risk", "status")


def transitions(inst: Installation, row: Mapping[str, Any], fields: Mapping[str, Any],
                figures: planmath.PlanFigures, outlook: forecast.Forecast | None) -> list[str]:
    """The alerts a successful write means (``alertstore`` kinds): the plan became at risk (its flag goes from
    no to yes), was fulfilled or ended unfulfilled (the app moved its stage to S / F)."""
    found = []
    risk = inst.field_map.get(forecast.RISK_SUFFIX, "")
    if outlook is not None and outlook.at_risk and risk in fields and not forecast.is_yes(row.get(risk)):
        found.append(alertstore.AT_RISK)
    if "stageId" in fields:
        if figures.status == planmath.FULFILLED:
            found.append(alertstore.FULFILLED)
        elif figures.status == planmath.NOT_FULFILLED:
            found.append(alertstore.UNFULFILLED)
    return found


def apply(client: RestClient, db: Store, inst: Installation, plans: Mapping[int, Mapping[str, Any]],
          deals_by_plan: Mapping[int, Sequence[Mapping[str, Any]]], rates: planmath.Rates, today: date | None = None,
          actor: str = "worker", progress: Callable[[int, int], None] | None = None,
          grace_days: int = 0, stages: Mapping[str, str] | None = None,
          settings: forecast.ForecastSettings | None = None) -> Outcome:
    """Compute every plan and its forecast, write the changed ones (≤50 updates per batch), snapshot and audit
    them; the day's first compute of a plan also leaves a daily snapshot, and a write that is a transition
    (at risk, fulfilled, ended unfulfilled) queues its alert (``alertstore``; sent by ``sync/alerts.py``).

    ``stages``: the semantics of every stage of the plans' pipeline (``parse_stages``)."""
    today = today or portal_today(inst)
    outcome = Outcome(plans=len(plans), deals=sum(len(v) for v in deals_by_plan.values()))
    history = rate_history(db, inst, rates, source=actor)
    pending: dict[int, tuple[dict[str, Any], planmath.PlanFigures]] = {}
    computed: dict[int, tuple[planmath.PlanFigures, forecast.Forecast]] = {}
    for plan_id, row in plans.items():
        try:
            if is_closed(inst, row, today, grace_days, stages):  # history: kept as at the close (ARCHITECTURE.md §3)
                outcome.unchanged += 1
                outcome.kept.append(plan_id)
                continue
            figures, outlook = assess(inst, row, deals_by_plan.get(plan_id, ()), rates, today, grace_days, history,
                                      stages, settings)
            fields = changes(inst, row, figures, rates, stages, outlook)
            computed[plan_id] = (figures, outlook)
        except (ArithmeticError, KeyError, ValueError) as exc:
            outcome.failed[plan_id] = f"cannot compute: {exc}"
            log.warning("portal %s plan %s: cannot compute (%s)", inst.member_id, plan_id, exc)
            continue
        if fields:
            pending[plan_id] = (fields, figures)
        else:
            outcome.unchanged += 1
    for plan_id in superseded_stages(client, inst, plans, pending):
        del pending[plan_id]
        outcome.superseded.append(plan_id)
    if progress is not None:
        progress(0, len(pending))
    ids = sorted(pending)
    snapshots: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for chunk in chunks(ids):
        commands = {f"u{plan_id}": ("crm.item.update", _update_params(inst, plan_id, pending[plan_id][0]))
                    for plan_id in chunk}
        result = client.batch(commands)
        for plan_id in chunk:
            error = result.errors.get(f"u{plan_id}")
            if error is not None:
                outcome.failed[plan_id] = str(error)
                log.warning("portal %s plan %s: update failed: %s", inst.member_id, plan_id, error)
                continue
            fields, figures = pending[plan_id]
            outcome.updated.append(plan_id)
            if "stageId" in fields:
                outcome.moved[plan_id] = (figures.status, str(plans[plan_id].get("title") or ""))
            outlook = computed[plan_id][1]
            snapshots.append(_snapshot_row(plans[plan_id], figures, outlook, currency_decimals(rates, plans[plan_id]),
                                           today, planstore.WRITE))
            alerts += [alertstore.alert_row(plans[plan_id], kind)
                       for kind in transitions(inst, plans[plan_id], fields, figures, outlook)]
            audit(db, inst.member_id, "plan.recomputed", actor=actor, plan_id=plan_id,
                  fields=sorted(fields), status=figures.status)
        if progress is not None:
            progress(len(chunk), len(pending))
    planstore.add_snapshots(db, inst.member_id, snapshots)
    newest = planstore.newest_snapshots(db, inst.member_id, set(computed) - set(outcome.updated))
    daily = []
    for plan_id in sorted(set(computed) - set(outcome.updated)):
        row = _snapshot_row(plans[plan_id], *computed[plan_id], currency_decimals(rates, plans[plan_id]), today,
                            planstore.DAILY)
        last = newest.get(plan_id)
        if last is None or any(str(last.get(k) if last.get(k) is not None else "") != str(row[k])
                               for k in _SNAPSHOT_KEYS):
            daily.append(row)  # the day's first, or the open pipeline moved without a field to write
    planstore.add_snapshots(db, inst.member_id, daily)
    alertstore.queue(db, inst.member_id, alerts)
    if outcome.updated:
        log.info("portal %s: %s plan(s) updated, %s unchanged", inst.member_id, len(outcome.updated),
                 outcome.unchanged)
    return outcome


def superseded_stages(client: RestClient, inst: Installation, plans: Mapping[int, Mapping[str, Any]],
                      pending: Mapping[int, tuple[dict[str, Any], planmath.PlanFigures]]) -> list[int]:
    """Plans about to get a new stage whose stage changed since they were read: someone (a person, in the
    card or a frame) moved them meanwhile, so this write, computed before that, must not overwrite it; the
    change's own event recomputes them from the new state. One read of the stages, only when a stage is to
    be written (no conditional update exists: api-reference/crm/universal/crm-item-update.md)."""
    staged = sorted(plan_id for plan_id, (fields, _) in pending.items() if "stageId" in fields)
    if not staged:
        return []
    fresh = {as_int(r.get("id")): str(r.get("stageId") or "")
             for r in client.get_many(inst.entity_type_id or 0, staged, select=["id", "stageId"])}
    moved = [p for p in staged if p in fresh and fresh[p] != str(plans[p].get("stageId") or "")]
    if moved:
        log.info("portal %s: plan(s) %s changed stage since they were read; their stage is left as set",
                 inst.member_id, moved)
    return moved


def _update_params(inst: Installation, plan_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"entityTypeId": inst.entity_type_id, "id": plan_id, "fields": dict(fields)}


def group_deals(deals: Iterable[Mapping[str, Any]], parent: str) -> dict[int, list[Mapping[str, Any]]]:
    grouped: dict[int, list[Mapping[str, Any]]] = {}
    for deal in deals:
        plan_id = as_int(deal.get(parent))
        if plan_id > 0:
            grouped.setdefault(plan_id, []).append(deal)
    return grouped


def recompute_plans(client: RestClient, db: Store, inst: Installation, plan_ids: Iterable[int],
                    today: date | None = None, rates: planmath.Rates | None = None,
                    actor: str = "worker", deal_ids: Iterable[int] = (), grace_days: int = 0,
                    settings: forecast.ForecastSettings | None = None,
                    named_fields: Sequence[str] = ()) -> Outcome:
    """Recompute the given plans of one portal — plus the current plans of ``deal_ids`` — and write what
    changed; keeps the deal→plan index.

    Usually two HTTP calls: one read batch (plans, their deals, the named deals, rates) and one write batch.
    A named deal now linked to a plan not in ``plan_ids`` (a new link) costs one more read batch.
    """
    ids = {int(i) for i in plan_ids if int(i) > 0}
    named = {int(i) for i in deal_ids if int(i) > 0}
    if not ids and not named:
        return Outcome()
    plans, deals, rates, touched, stages = read_plans_and_deals(client, inst, ids, rates, named, named_fields)
    parent = parent_field(inst.entity_type_id)
    more = {as_int(d.get(parent)) for d in touched} - ids - {0}
    if more:
        extra_plans, extra_deals, rates, _, stages = read_plans_and_deals(client, inst, more, rates)
        plans.update(extra_plans)
        known = {as_int(d.get("id")) for d in deals}
        deals += [d for d in extra_deals if as_int(d.get("id")) not in known]
        ids |= more
    planstore.update_index(db, inst.member_id, deals, parent, plan_ids=ids)
    missing = ids - set(plans)
    if missing:  # deleted plans: nothing to write; their deals no longer point at them
        log.info("portal %s: plan(s) %s not found (deleted?)", inst.member_id, sorted(missing))
    deals = with_won_moments(db, inst, deals)
    outcome = apply(client, db, inst, plans, group_deals(deals, parent), rates, today=today, actor=actor,
                    grace_days=grace_days, stages=stages, settings=settings)
    outcome.named_deals, outcome.plans_found, outcome.stages = touched, set(plans), dict(stages)
    return outcome
