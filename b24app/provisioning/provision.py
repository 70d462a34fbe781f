"""Provision a portal from the manifest, idempotently: smart process, user fields, stages, placements, events.

Every step first looks for what exists and creates only what is missing, so "Reinstall", an app update
and ``b24plans provision`` re-run it safely. The ids found are kept locally (Installation.type_id,
entity_type_id, category_id, field_map, stage_map) and in ``app.option``.

The smart process, its fields and stages are in ``smart_process``; placements and events in ``bindings``.
Docs: api-reference/widgets/placement-bind.md, api-reference/events/event-bind.md,
api-reference/common/settings/app-option-set.md, api-reference/common/system/method-get.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from b24app import planmath, ratestore
from b24app.db import connect
from b24app.installations import Installation, InstallationStore, audit
from b24app.manifest import Manifest, load_manifest
from b24app.provisioning.bindings import ensure_events, ensure_placements
from b24app.provisioning.report import CREATED, FAILED, FOUND, UPDATED, ProvisionError, ProvisionReport
from b24app.provisioning.smart_process import default_category, ensure_fields, ensure_smart_process, ensure_stages
from b24app.rest.clients import RestClient, clients_for
from b24app.rest.errors import B24Error
from b24app.storage import Store, portal_key

log = logging.getLogger(__name__)

#: Every method the app calls (lower case, as method.get wants it).
REQUIRED_METHODS = (
    "batch", "user.admin", "app.option.get", "app.option.set",
    "crm.type.list", "crm.type.get", "crm.type.add", "crm.type.update",
    "userfieldconfig.list", "userfieldconfig.add", "userfieldconfig.get", "crm.category.list",
    "crm.status.list", "crm.status.add", "crm.status.update",
    "crm.item.fields", "crm.item.list", "crm.item.get", "crm.item.add", "crm.item.update",
    "crm.currency.list", "crm.currency.base.get",
    "placement.get", "placement.bind", "placement.unbind", "event.get", "event.bind", "event.unbind",
)
OPTION_KEYS = ("plans_type_id", "plans_entity_type_id", "plans_category_id", "plans_field_map", "plans_stage_map")


def missing_methods(client: RestClient, methods: tuple[str, ...] = REQUIRED_METHODS,
                    events: tuple[str, ...] = ()) -> list[str]:
    """Methods (and ``events``) the portal lacks or the app's scopes do not allow, in one batch.

    method.get per method (api-reference/common/system/method-get.md) and ``events`` with FULL for the
    event names (api-reference/events/events.md); a portal that cannot list events is not blocked on it.
    """
    commands: dict[str, tuple[str, dict[str, Any]]] = {m: ("method.get", {"name": m}) for m in methods}
    if events:
        commands["__events__"] = ("events", {"FULL": True})
    result = client.batch_all(commands)
    missing = []
    for name in methods:
        answer = result.result.get(name)
        if name in result.errors or not isinstance(answer, Mapping) or not answer.get("isAvailable"):
            missing.append(name)
    known = result.result.get("__events__")
    if events and "__events__" not in result.errors and isinstance(known, list | Mapping):
        names = {str(n).upper() for n in (known.values() if isinstance(known, Mapping) else known)}
        missing += [e for e in events if e.upper() not in names]
    return missing


# ------------------------------------------------------------------------------------------- the whole run

def read_options(client: RestClient) -> dict[str, Any]:
    try:
        options = client.call("app.option.get", {})
    except B24Error as exc:
        log.info("app.option.get: %s", exc)
        return {}
    return dict(options) if isinstance(options, Mapping) else {}


def save_ids(db: Store, inst: Installation, report: ProvisionReport) -> None:
    """Keep the smart-process ids locally (only those columns: the tokens may have rotated meanwhile)."""
    InstallationStore(db).save_provisioned(inst, type_id=report.type_id, entity_type_id=report.entity_type_id,
                                           category_id=report.category_id, field_map=report.field_map,
                                           stage_map=report.stage_map, enum_map=report.enum_map)


@contextmanager
def _lock_for(db: Store, member_id: str) -> Iterator[None]:
    """One provisioning run per portal across processes (app processes, the worker and the CLI alike): the
    store's lock (a file lock beside a SQLite database, an advisory lock on PostgreSQL; a thread lock for an
    in-memory database)."""
    with db.lock(f"provision-{portal_key(member_id)}"):
        yield


def provision(client: RestClient, db: Store, inst: Installation, config: Mapping[str, Any],
              manifest: Manifest | None = None) -> ProvisionReport:
    """Run every step for one installation with ``client`` (an admin's tokens); save the ids; audit.

    Returns the report; a failure of a step later steps depend on ends the run with ``report.error``.
    Runs for one portal are serialised on this host (a double-clicked install must not create the
    smart process twice); the second run finds what the first created.
    """
    with _lock_for(db, inst.member_id):
        current = InstallationStore(db).find(inst.member_id)
        if current is not None and current.type_id and not inst.type_id:
            inst = inst.with_(type_id=current.type_id, entity_type_id=current.entity_type_id)
        return _provision(client, db, inst, config, manifest)


def _provision(client: RestClient, db: Store, inst: Installation, config: Mapping[str, Any],
               manifest: Manifest | None) -> ProvisionReport:
    manifest = manifest or load_manifest(config.get("MANIFEST"))
    public_url = str(config.get("PUBLIC_URL") or "")
    sp = manifest.smart_process
    report = ProvisionReport()
    try:
        options = read_options(client)
        type_ = ensure_smart_process(client, inst, sp, options, report)
        type_id, eti = int(type_["id"]), int(type_["entityTypeId"])
        report.type_id, report.entity_type_id = type_id, eti
        report.field_map = ensure_fields(client, sp, type_id, eti, report, inst.lang or "la")
        report.category_id = default_category(client, eti)
        created = any(s.kind == "smart_process" and s.outcome == CREATED for s in report.steps)
        report.stage_map = ensure_stages(client, sp, eti, report.category_id, inst.lang or "la", report,
                                         rename=created)
        save_ids(db, inst, report)  # ids first: placements and events may fail without losing them
        wanted = {"plans_type_id": type_id, "plans_entity_type_id": eti, "plans_category_id": report.category_id,
                  "plans_field_map": json.dumps(report.field_map, sort_keys=True),
                  "plans_stage_map": json.dumps(report.stage_map, sort_keys=True)}
        if any(str(options.get(k)) != str(v) for k, v in wanted.items()):
            client.call("app.option.set", {"options": wanted})
            report.add("option", "app.option", UPDATED if options.get("plans_type_id") else CREATED)
        else:
            report.add("option", "app.option", FOUND)
        # the first set of rates the plans' history starts from (b24app/ratestore.py)
        ratestore.record(db, inst.member_id, client.call("crm.currency.list", {}) or [], "install")
        # the portal's time zone decides its dates (api-reference/common/system/server-time.md)
        offset = planmath.offset_of(str(client.call("server.time", {}) or ""))
        if offset:
            InstallationStore(db).set_time_zone(inst.member_id, offset)
        if public_url:
            ensure_placements(client, manifest, public_url, report)
            ensure_events(client, manifest, public_url, report)
        else:
            report.add("placement", "*", FAILED, "PUBLIC_URL is not set: placements and events not bound")
    except (B24Error, ProvisionError) as exc:
        report.error = str(exc)
        log.warning("portal %s: provisioning failed: %s", inst.member_id, exc)
    audit(db, inst.member_id, "provision", ok=report.ok, **report.summary())
    log.info("portal %s: provisioned (ok=%s, created=%s, failed=%s)", inst.member_id, report.ok,
             report.count(CREATED), report.count(FAILED))
    return report


def reprovision(client: RestClient, db: Store, inst: Installation,
                config: Mapping[str, Any]) -> ProvisionReport:
    """The worker's entry point after ONAPPUPDATE (same as ``provision``)."""
    return provision(client, db, inst, config)


def provision_all(config: Mapping[str, Any], member_id: str | None = None) -> dict[str, ProvisionReport]:
    """Re-run provisioning with the stored admin tokens for one or every active installation (the CLI)."""
    db = connect(str(config["DATABASE"]))
    clients = clients_for(config)
    try:
        store = InstallationStore(db)
        if member_id:
            found = store.find(member_id)
            if found is None or not found.is_active:
                raise ProvisionError("installation", f"no active installation with member_id {member_id}")
            targets = [found]
        else:
            targets = store.all()
        reports: dict[str, ProvisionReport] = {}
        for inst in targets:
            with clients.admin(inst) as client:
                reports[inst.member_id] = provision(client, db, inst, config)
        return reports
    finally:
        db.close()
