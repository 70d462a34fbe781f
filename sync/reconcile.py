"""Reconcile: recompute every open (Activo) and fulfilled (Cumplido) plan of a portal from the portal's
current state.

Events are lossy by contract (api-reference/events/index.md: no retries), so this sweep makes a lost
event temporary: a lost "deal won" leaves an Activo plan short, a lost "deal un-won" (or deleted, or
unlinked) leaves a Cumplido plan fulfilled — both are swept (``SWEPT``).

No cumplido (F) plans are left alone: a plan in F before its period ended was closed by a person
(``planmath.closed_by_hand``; the app never sets F before the end), and the portal does not say who set
the stage of one whose period ended. A person reopens a plan (back to Activo) to have it followed again.

Cost (ARCHITECTURE.md F8): ⌈plans/2500⌉ + ⌈linked deals/2500⌉ + 1 (rates) +
⌈changed plans/50⌉ HTTP calls — plans and deals are read in fast mode (``>id`` cursor chained inside a
batch) and grouped in memory; only changed plans are written. It also rebuilds the ``deal_plan`` index and,
with auto-linking on (``B24_AUTO_LINK``), applies the auto-link rule to every unlinked deal of a client with
an active plan and rebuilds the "to decide" list (``sync/autolinker.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from b24app import autolink, forecast, jobruns, linkstore, planstore
from b24app.installations import Installation, InstallationStore, audit, now_iso
from b24app.rest import errors as rest_errors
from b24app.rest.clients import RestClient, clients_for
from b24app.schema import DEAL, deal_select, figures_select, parent_field
from b24app.storage import Store, portal_key
from sync import autolinker, recompute

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (step label, done, total)
SWEPT = ("P", "S")  # Activo and Cumplido: a lost event may have left either wrong


def read_open_plans(client: RestClient, inst: Installation, semantics: Iterable[str] = SWEPT,
                    estimate: int | None = None, stage_semantics: Mapping[str, str] | None = None) -> dict[int, dict]:
    """Every plan in a stage of the given semantics (Activo and Cumplido by default) — the app's stages and
    any an admin added (``stage_semantics``: stage id -> P/S/F) — in fast mode."""
    wanted = set(semantics)
    stages = sorted({inst.stage_map[s] for s in wanted if s in inst.stage_map}
                    | {sid for sid, sem in (stage_semantics or {}).items() if sem in wanted})
    if not stages:
        return {}
    rows = client.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id, "filter": {"@stageId": stages},
                                             "select": [*figures_select(inst), "companyId", "contactId"]},
                           items_key="items",
                           estimate=estimate)
    return {recompute.as_int(row.get("id")): dict(row) for row in rows}


def read_linked_deals(client: RestClient, inst: Installation, estimate: int | None = None) -> list[dict[str, Any]]:
    """Every deal linked to some plan (``>parentId{plansETI}``: 0), in fast mode."""
    parent = parent_field(inst.entity_type_id)
    rows = client.list_all("crm.item.list", {"entityTypeId": DEAL, "filter": {f">{parent}": 0},
                                             "select": deal_select(inst)}, items_key="items",
                           estimate=estimate)
    return [dict(row) for row in rows]


def reconcile_installation(client: RestClient, db: Store, inst: Installation,
                           today: date | None = None, semantics: Iterable[str] = SWEPT,
                           actor: str = "reconcile", progress: Progress | None = None,
                           grace_days: int = 0, now: datetime | None = None,
                           settings: forecast.ForecastSettings | None = None,
                           auto_link: bool = False) -> recompute.Outcome:
    """Recompute one portal's Activo and Cumplido plans; rebuild its deal→plan index. Returns what changed.

    With ``auto_link`` the auto-link rule runs over every unlinked deal of a client with an active plan
    first (lost events), and the "to decide" list is rebuilt from that scan."""
    if not inst.is_provisioned:
        log.info("portal %s: not provisioned; nothing to reconcile", inst.member_id)
        return recompute.Outcome()

    def step(label: str, done: int, total: int) -> None:
        if progress is not None:
            progress(label, done, total)

    scanned_at = now_iso()  # index rows written after this come from a newer read: the merge keeps them
    link_scan = linkstore.stamp()  # the same for the "to decide" list, to the microsecond
    step("rates", 0, 1)
    rates, stages, offset = recompute.read_rates_and_stages(client, inst)
    if offset and offset != inst.time_zone:  # the portal's time zone decides its dates (ARCHITECTURE.md F13)
        InstallationStore(db).set_time_zone(inst.member_id, offset)
        inst = inst.with_(time_zone=offset)
    today = today or recompute.portal_today(inst, now)
    known_plans, known_deals = planstore.index_sizes(db, inst.member_id)
    step("plans", 0, 1)
    plans = read_open_plans(client, inst, semantics, estimate=known_plans, stage_semantics=stages)
    step("deals", 0, 1)
    deals = read_linked_deals(client, inst, estimate=known_deals)
    parent = parent_field(inst.entity_type_id)
    if auto_link:
        deals += _auto_link(client, db, inst, plans, stages, scanned_at, link_scan, actor)
    planstore.update_index(db, inst.member_id, deals, parent, plan_ids=None, scanned_at=scanned_at)
    grouped = recompute.group_deals(recompute.with_won_moments(db, inst, deals), parent)

    def writes(done: int, total: int) -> None:
        step("writes", done, total)

    outcome = recompute.apply(client, db, inst, plans, grouped, rates, today=today, actor=actor,
                              progress=writes, grace_days=grace_days, stages=stages, settings=settings)
    log.info("portal %s reconciled: %s plan(s), %s linked deal(s), %s updated, %s failed", inst.member_id,
             len(plans), len(deals), len(outcome.updated), len(outcome.failed))
    if outcome.updated or outcome.failed:
        audit(db, inst.member_id, f"{actor}.done", actor=actor, plans=len(plans), deals=len(deals),
              updated=len(outcome.updated), failed=len(outcome.failed))
    return outcome


def _auto_link(client: RestClient, db: Store, inst: Installation, plans: Mapping[int, dict],
               stages: Mapping[str, str], scanned_at: str, link_scan: str, actor: str) -> list[dict[str, Any]]:
    """The auto-link rule over every unlinked deal of a client with an active plan (their events may have
    been lost); a deal the index had in a plan still open before this scan began, now without one, was
    unlinked by a person. Returns the deals it linked, as rows for the index and the recompute."""
    periods = [autolink.plan_period(row, autolinker.active_stages(inst, stages)) for row in plans.values()]
    unlinked = autolinker.read_unlinked_deals(client, inst, periods)
    ids = [recompute.as_int(d.get("id")) for d in unlinked]
    known = {deal: plan for deal, (plan, at) in planstore.index_rows(db, inst.member_id, ids).items()
             if at < scanned_at}
    out = autolinker.apply_rule(client, db, inst, unlinked, stages, known=known, plans_found=plans,
                                plans=periods, actor=actor)
    linkstore.drop_stale_pending(db, inst.member_id, out.waiting, link_scan)
    parent = parent_field(inst.entity_type_id)
    rows = {recompute.as_int(d.get("id")): d for d in unlinked}
    return [{**rows[deal], parent: plan} for deal, plan in out.linked.items()]


def reconcile_all(config: Mapping[str, Any], db: Store, member_id: str | None = None,
                  today: date | None = None, progress: Progress | None = None, actor: str = "reconcile",
                  now: datetime | None = None, due: Callable[[Installation], bool] | None = None,
                  ) -> dict[str, recompute.Outcome]:
    """Reconcile every active installation (or one); a portal that fails is logged, its Outcome has ``error``.

    Two runs for one portal at once are serialised by the store's lock per portal (a file lock beside a SQLite
    database, an advisory lock on PostgreSQL).

    Without ``today`` each portal's own date at ``now`` is used (its time zone); ``due`` picks portals."""
    clients = clients_for(config)
    store = InstallationStore(db)
    if member_id:
        found = store.find(member_id)
        installations = [found] if found else []
        if found is None:
            log.warning("no installation with member_id %s", member_id)
    else:
        installations = store.all()
    results: dict[str, recompute.Outcome] = {}
    for inst in installations:
        if not inst.is_active:
            log.warning("portal %s is %s: not reconciled", inst.member_id, inst.status)
            continue
        if due is not None and not due(inst):
            continue
        try:
            # One reconcile of a portal at a time across processes (the scheduler, a CLI run, another process):
            # a second one waits, then reads what the first wrote and finds nothing left to write.
            with db.lock(f"reconcile-{portal_key(inst.member_id)}"):
                inst = store.find(inst.member_id) or inst
                if not inst.is_active:
                    continue
                with clients.admin(inst) as client:
                    results[inst.member_id] = reconcile_installation(
                        client, db, inst, today=today, actor=actor, progress=progress,
                        grace_days=recompute.grace_days(config), now=now,
                        settings=recompute.forecast_settings(config), auto_link=autolinker.enabled(config))
        except rest_errors.ReauthRequired:
            log.warning("portal %s needs an admin to open the app again (tokens refused): not reconciled",
                        inst.member_id)
            results[inst.member_id] = recompute.Outcome(error="tokens refused: an admin must open the app")
        except Exception as exc:  # noqa: BLE001 - one portal's failure must not stop the others
            log.warning("portal %s: reconcile failed (%s: %s)", inst.member_id, type(exc).__name__, exc)
            results[inst.member_id] = recompute.Outcome(error=f"{type(exc).__name__}: {exc}")
    for member, outcome in results.items():
        jobruns.record(db, member, actor, ok=outcome.error is None and not outcome.failed, plans=outcome.plans,
                       deals=outcome.deals, updated=len(outcome.updated), failed=len(outcome.failed),
                       error=outcome.error)
    return results
