"""The inbox worker: claim pending events, coalesce them by plan, recompute each affected plan once.

Deal events name only the deal (api-reference/crm/deals/events/index.md): the worker reads the deal's
current plan and adds the plan the local ``deal_plan`` index had for it, so a deleted deal, or a deal
moved to another plan or pipeline, recomputes the plan it left. Smart-process events count only for the
plans' own ``ENTITY_TYPE_ID`` (they fire for every smart process). Currency events recompute every open
plan. All REST calls use the installation's STORED admin tokens — events raised by automation carry
none (api-reference/events/index.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from b24app import linkstore, planstore
from b24app.installations import Installation, InstallationStore, audit
from b24app.provisioning import provision
from b24app.rest import errors as rest_errors
from b24app.rest.clients import RestClient, clients_for
from b24app.schema import DEAL
from b24app.storage import Store
from sync import alerts, autolinker, inbox, recompute, reconcile

log = logging.getLogger(__name__)

DEAL_EVENTS = {"ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE", "ONCRMDEALMOVETOCATEGORY"}
ITEM_EVENTS = {"ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE"}
CURRENCY_EVENTS = {"ONCRMCURRENCYADD", "ONCRMCURRENCYUPDATE", "ONCRMCURRENCYDELETE"}
PROVISION_EVENTS = {"ONAPPUPDATE", inbox.PROVISION}
UNINSTALL = "ONAPPUNINSTALL"
MAX_ATTEMPTS = 5


@dataclass
class Work:
    """What one portal's claimed events ask for."""

    deals: set[int] = field(default_factory=set)  # deals to read (add/update/move)
    deleted_deals: set[int] = field(default_factory=set)
    plans: set[int] = field(default_factory=set)
    deleted_plans: set[int] = field(default_factory=set)
    new_plans: set[int] = field(default_factory=set)  # created: deals waiting "to decide" may now have one plan
    all_plans: bool = False
    provision: bool = False
    uninstall: bool = False  # an ONAPPUNINSTALL to confirm with the portal before acting on it
    ignored: int = 0


@dataclass
class DrainStats:
    claimed: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    plans_updated: int = 0


def _object_id(item: inbox.InboxItem) -> int:
    if item.object_id:
        return item.object_id
    fields = item.data.get("FIELDS") if isinstance(item.data, Mapping) else None
    try:
        return int((fields or {}).get("ID") or 0)
    except (TypeError, ValueError):
        return 0


def _entity_type(item: inbox.InboxItem) -> int:
    if item.entity_type_id:
        return item.entity_type_id
    fields = item.data.get("FIELDS") if isinstance(item.data, Mapping) else None
    try:
        return int((fields or {}).get("ENTITY_TYPE_ID") or 0)
    except (TypeError, ValueError):
        return 0


def plan_work(inst: Installation, items: Iterable[inbox.InboxItem]) -> Work:
    """Sort one portal's events into the work they ask for (pure)."""
    work = Work()
    for item in items:
        event = item.event.upper()
        object_id = _object_id(item)
        if event in DEAL_EVENTS and object_id:
            (work.deleted_deals if event == "ONCRMDEALDELETE" else work.deals).add(object_id)
        elif event in ITEM_EVENTS and object_id and _entity_type(item) == inst.entity_type_id:
            (work.deleted_plans if event == "ONCRMDYNAMICITEMDELETE" else work.plans).add(object_id)
            if event == "ONCRMDYNAMICITEMADD":
                work.new_plans.add(object_id)
        elif event in CURRENCY_EVENTS:
            work.all_plans = True
        elif event in PROVISION_EVENTS:
            work.provision = True
        elif event == UNINSTALL:
            work.uninstall = True
        else:
            work.ignored += 1
    return work


def process(client: RestClient, db: Store, inst: Installation, work: Work,
            config: Mapping[str, Any]) -> recompute.Outcome:
    """Do one portal's work: provisioning, then one recompute of every affected plan."""
    if work.provision:
        _app_updated(client, db, inst, config)
        inst = InstallationStore(db).find(inst.member_id) or inst
    if not inst.is_provisioned:
        log.info("portal %s: not provisioned yet; %s event(s) wait for reconcile", inst.member_id,
                 len(work.deals) + len(work.plans))
        return recompute.Outcome()
    swept = recompute.Outcome()
    if work.all_plans:  # rates changed: every open or fulfilled plan may move
        swept = reconcile.reconcile_installation(client, db, inst, semantics=("P", "S"), actor="worker",
                                                 grace_days=recompute.grace_days(config),
                                                 settings=recompute.forecast_settings(config))
    plan_ids = set(work.plans)
    known = planstore.plans_of_deals(db, inst.member_id, work.deals | work.deleted_deals)
    plan_ids.update(known.values())  # the plan each deal was in before (left, deleted, moved)
    if work.deleted_deals:
        planstore.drop_deals(db, inst.member_id, work.deleted_deals)
        linkstore.drop_pending(db, inst.member_id, work.deleted_deals)
    # A delete event is not believed as such (anyone who can open the app can send one): the plan is read
    # like any other, and only a plan the portal no longer has loses its links in the index (recompute).
    plan_ids |= work.deleted_plans
    # the deals named by events are read in the same batch; their current plans join the recompute
    auto = autolinker.enabled(config)
    outcome = recompute.recompute_plans(client, db, inst, plan_ids, actor="worker", deal_ids=work.deals,
                                        grace_days=recompute.grace_days(config),
                                        settings=recompute.forecast_settings(config),
                                        named_fields=autolinker.deal_fields(inst) if auto else ())
    named = outcome.named_deals
    if auto and (work.new_plans or work.deleted_plans):  # a plan came or went: the waiting deals are decided again
        waiting = [p.deal_id for p in linkstore.pending(db, inst.member_id, limit=2500)]
        seen = {recompute.as_int(d.get("id")) for d in named}
        named = [*named, *client.get_many(DEAL, [d for d in waiting if d not in seen],
                                          select=autolinker.deal_fields(inst))]
    if auto and named:  # the rule over the deals just read; the plans it linked are recomputed
        linked = autolinker.apply_rule(client, db, inst, named, outcome.stages or recompute.parse_stages(inst, []),
                                       known=known, plans_found=outcome.plans_found)
        if linked.linked:
            again = recompute.recompute_plans(client, db, inst, set(linked.linked.values()), actor="worker",
                                              grace_days=recompute.grace_days(config),
                                              settings=recompute.forecast_settings(config))
            outcome.updated = sorted(set(outcome.updated) | set(again.updated))
            outcome.failed = {**outcome.failed, **again.failed}
            outcome.moved = {**outcome.moved, **again.moved}
    outcome.updated = sorted(set(swept.updated) | set(outcome.updated))
    outcome.failed = {**swept.failed, **outcome.failed}
    outcome.moved = {**swept.moved, **outcome.moved}
    return outcome


def _app_updated(client: RestClient, db: Store, inst: Installation,
                 config: Mapping[str, Any]) -> None:
    """An ONAPPUPDATE, confirmed with the portal: its ``app.info`` VERSION is the version (the event's is not
    believed: anyone who can open the app can send one); provisioning re-runs only when that version changed."""
    info = client.call("app.info", {})
    version = str(info.get("VERSION") or "") if isinstance(info, Mapping) else ""
    if not version or version == inst.app_version:
        log.info("portal %s: an app update without a new version (forged or repeated): nothing to do", inst.member_id)
        return
    InstallationStore(db).set_app_version(inst.member_id, version)
    audit(db, inst.member_id, "app_update", version=version, previous=inst.app_version)
    provision.reprovision(client, db, inst.with_(app_version=version), config)


def uninstall_confirmed(client: RestClient) -> bool:
    """Whether the portal confirms the app is gone: its stored admin token is refused (``app.info``).

    Anyone who can open the app knows its application_token, so an ONAPPUNINSTALL alone proves nothing; a
    real uninstall revokes the app's tokens at once (api-reference/common/events/on-app-uninstall.md). An
    answer other than "refused" (the portal down, 5xx, a rate limit) raises, and the event is retried.
    """
    try:
        client.call("app.info", {})
    except rest_errors.AuthError:  # refused, or the refresh was refused (invalid_grant)
        return True
    return False


def _uninstall(db: Store, store: InstallationStore, inst: Installation,
               items: list[inbox.InboxItem], stats: DrainStats) -> None:
    """A confirmed uninstall: drop the tokens (they no longer work), keep the ids; the other events are moot."""
    store.mark_uninstalled(inst.member_id)
    events = [i for i in items if i.event.upper() == UNINSTALL]
    audit(db, inst.member_id, "uninstall", clean=events[-1].data.get("CLEAN") if events else None)
    log.info("portal %s: the app was uninstalled (confirmed by the portal)", inst.member_id)
    inbox.mark_done(db, [i.id for i in events])
    rest = [i.id for i in items if i.event.upper() != UNINSTALL]
    inbox.mark_failed(db, rest, "skipped: portal uninstalled")
    stats.done += len(events)
    stats.skipped += len(rest)


def _error_kind(exc: BaseException) -> str:
    return type(exc).__name__


def drain_once(config: Mapping[str, Any], db: Store, limit: int = 500) -> DrainStats:
    """Claim up to ``limit`` pending events, process them per portal, mark them done or failed; then send the
    alerts recompute or reconcile queued (``sync/alerts.py``; no call when none waits).

    REST calls use ``clients_for(config).admin``: the installation's stored admin tokens."""
    stats = _drain(config, db, limit)
    alerts.send_all(config, db)
    return stats


def _drain(config: Mapping[str, Any], db: Store, limit: int) -> DrainStats:
    clients = clients_for(config)
    released = inbox.release_stale(db)
    if released:
        log.warning("%s inbox row(s) left half-done by a stopped worker are pending again", released)
    items = inbox.claim_pending(db, limit)
    stats = DrainStats(claimed=len(items))
    if not items:
        return stats
    by_portal: dict[str, list[inbox.InboxItem]] = {}
    for item in items:
        by_portal.setdefault(item.member_id, []).append(item)
    store = InstallationStore(db)
    for member_id, portal_items in by_portal.items():
        ids = [item.id for item in portal_items]
        inst = store.find(member_id)
        if inst is None or not inst.is_active:
            status = inst.status if inst else "unknown"
            log.warning("portal %s is %s: skipping %s event(s)", member_id, status, len(ids))
            inbox.mark_failed(db, ids, f"skipped: portal {status}")
            stats.skipped += len(ids)
            continue
        try:
            work = plan_work(inst, portal_items)
            with clients.admin(inst) as client:
                if work.uninstall and uninstall_confirmed(client):
                    _uninstall(db, store, inst, portal_items, stats)
                    continue
                if work.uninstall:
                    log.warning("portal %s: ONAPPUNINSTALL ignored: the portal still accepts the app's token "
                                "(forged or replayed)", member_id)
                    audit(db, member_id, "uninstall_refused", reason="the portal still accepts the app's token")
                outcome = process(client, db, inst, work, config)
        except rest_errors.ReauthRequired:
            log.warning("portal %s needs an admin to open the app again (tokens refused): skipping %s event(s)",
                        member_id, len(ids))
            inbox.mark_failed(db, ids, "skipped: the portal's tokens were refused; an admin must open the app")
            audit(db, member_id, "worker.reauth_required", events=len(ids))
            stats.skipped += len(ids)
            continue
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the rows and retried
            log.warning("portal %s: %s event(s) failed (%s: %s); will retry", member_id, len(ids),
                        _error_kind(exc), exc)
            inbox.mark_failed(db, ids, f"{_error_kind(exc)}: {exc}", retry=True, max_attempts=MAX_ATTEMPTS)
            stats.failed += len(ids)
            continue
        if outcome.failed:
            log.warning("portal %s: plan(s) %s failed; will retry", member_id, sorted(outcome.failed))
            detail = "; ".join(f"plan {k}: {v}" for k, v in sorted(outcome.failed.items()))
            inbox.mark_failed(db, ids, detail, retry=True, max_attempts=MAX_ATTEMPTS)
            stats.failed += len(ids)
        else:
            inbox.mark_done(db, ids)
            stats.done += len(ids)
        stats.plans_updated += len(outcome.updated)
    return stats


def run(config: Mapping[str, Any], db: Store, interval: float,
        stop: threading.Event | None = None) -> None:
    """Drain the inbox every ``interval`` seconds until ``stop`` is set (or Ctrl-C)."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            stats = drain_once(config, db)
            if stats.claimed:
                log.info("drained %s event(s): %s done, %s failed, %s skipped, %s plan(s) updated",
                         stats.claimed, stats.done, stats.failed, stats.skipped, stats.plans_updated)
        except Exception:  # noqa: BLE001 - keep the loop alive; the rows stay claimable
            log.exception("inbox drain failed")
        stop.wait(interval)
