"""Provision a portal from the manifest, idempotently: smart process, user fields, stages, placements, events.

Every step first looks for what exists and creates only what is missing, so "Reinstall", an app update
and ``b24plans provision`` re-run it safely. The ids found are kept locally (Installation.type_id,
entity_type_id, category_id, field_map, stage_map) and in ``app.option``.

Docs: api-reference/crm/universal/user-defined-object-types/crm-type-add.md, .../crm-type-list.md,
api-reference/crm/universal/userfieldconfig/userfieldconfig-add.md, api-reference/crm/status/crm-status-add.md,
api-reference/widgets/placement-bind.md, api-reference/events/event-bind.md,
api-reference/common/settings/app-option-set.md, api-reference/common/system/method-get.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from b24app.db import file_lock, lock_dir
from b24app.installations import Installation, InstallationStore, audit, now_iso
from b24app.manifest import Manifest, SmartProcess, load_manifest
from b24app.rest.errors import B24Error
from b24app.schema import DEAL
from sync.bindings import ensure_events, ensure_placements

log = logging.getLogger(__name__)

CREATED, FOUND, UPDATED, FAILED = "created", "found", "updated", "failed"
REMOVED = "removed"  # a default stage of a smart process this run created, not in the manifest

#: Every method the app calls (lower case, as method.get wants it).
REQUIRED_METHODS = (
    "batch", "user.admin", "app.option.get", "app.option.set",
    "crm.type.list", "crm.type.get", "crm.type.add", "crm.type.update",
    "userfieldconfig.list", "userfieldconfig.add", "crm.category.list",
    "crm.status.list", "crm.status.add", "crm.status.update",
    "crm.item.fields", "crm.item.list", "crm.item.get", "crm.item.add", "crm.item.update",
    "crm.currency.list", "crm.currency.base.get",
    "placement.get", "placement.bind", "placement.unbind", "event.get", "event.bind", "event.unbind",
)
OPTION_KEYS = ("plans_type_id", "plans_entity_type_id", "plans_category_id", "plans_field_map", "plans_stage_map")


class ProvisionError(RuntimeError):
    """A step that later steps depend on failed; ``step`` names it (e.g. ``smart_process``)."""

    def __init__(self, step: str, message: str):
        super().__init__(f"{step}: {message}")
        self.step = step


@dataclass
class Step:
    kind: str  # smart_process, field, stage, placement, event, option
    name: str
    outcome: str  # created, found, updated, failed
    detail: str = ""


@dataclass
class ProvisionReport:
    steps: list[Step] = field(default_factory=list)
    type_id: int | None = None
    entity_type_id: int | None = None
    category_id: int | None = None
    field_map: dict[str, str] = field(default_factory=dict)
    stage_map: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not any(s.outcome == FAILED for s in self.steps)

    def add(self, kind: str, name: str, outcome: str, detail: str = "") -> None:
        self.steps.append(Step(kind, name, outcome, detail))

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.steps if s.outcome == outcome)

    def summary(self) -> dict[str, Any]:
        return {"created": [f"{s.kind}:{s.name}" for s in self.steps if s.outcome == CREATED],
                "updated": [f"{s.kind}:{s.name}" for s in self.steps if s.outcome == UPDATED],
                "removed": [f"{s.kind}:{s.name}" for s in self.steps if s.outcome == REMOVED],
                "failed": [f"{s.kind}:{s.name}: {s.detail}" for s in self.steps if s.outcome == FAILED],
                "found": self.count(FOUND), "error": self.error}


def missing_methods(client: Any, methods: tuple[str, ...] = REQUIRED_METHODS,
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


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _items(value: Any, key: str) -> list[dict[str, Any]]:
    """``{"types": [...]}`` or a bare list -> list of dicts."""
    if isinstance(value, Mapping):
        value = value.get(key, [])
    return [v for v in (value or []) if isinstance(v, Mapping)]  # type: ignore[misc]


# ------------------------------------------------------------------------------------------- smart process

def _type_params(sp: SmartProcess) -> dict[str, Any]:
    return {"title": sp.title, **sp.flags, "relations": sp.relations}


def _yes(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("y", "true", "1")


def _has_deal_child(type_: Mapping[str, Any]) -> bool | None:
    relations = type_.get("relations")
    if not isinstance(relations, Mapping):
        return None  # crm.type.list rows carry no relations: unknown
    return any(_int(r.get("entityTypeId")) == DEAL for r in relations.get("child") or [] if isinstance(r, Mapping))


def _get_type(client: Any, type_id: int | None) -> dict[str, Any] | None:
    if not type_id:
        return None
    try:
        found = client.call("crm.type.get", {"id": type_id})
    except B24Error as exc:
        log.info("crm.type.get %s: %s", type_id, exc)
        return None
    type_ = found.get("type") if isinstance(found, Mapping) else None
    return dict(type_) if isinstance(type_, Mapping) else None


def ensure_smart_process(client: Any, inst: Installation, sp: SmartProcess, options: Mapping[str, Any],
                         report: ProvisionReport) -> dict[str, Any]:
    """Find the plans type (local ids, then app.option, then crm.type.list by title) or create it."""
    type_ = None
    how = ""
    for source, type_id in (("local", inst.type_id), ("app.option", _int(options.get("plans_type_id")))):
        type_ = _get_type(client, type_id)
        if type_:
            how = f"by {source} id"
            break
    if not type_:
        listed = _items(client.call("crm.type.list", {"filter": {"title": sp.title}, "order": {"id": "ASC"}}),
                        "types")
        listed = [t for t in listed if t.get("title") == sp.title]
        if listed:
            type_ = _get_type(client, _int(listed[0].get("id"))) or listed[0]
            how = "by title"
    if not type_:
        created = client.call("crm.type.add", {"fields": _type_params(sp)})
        type_ = dict(created.get("type") or {}) if isinstance(created, Mapping) else {}
        if not _int(type_.get("id")) or not _int(type_.get("entityTypeId")):
            raise ProvisionError("smart_process", "crm.type.add returned no id/entityTypeId")
        report.add("smart_process", sp.title, CREATED, f"id {type_['id']}, entityTypeId {type_['entityTypeId']}")
        return type_
    # Found: make sure the flags and the deal relation the app relies on are still on.
    changes: dict[str, Any] = {k: v for k, v in sp.flags.items()
                               if v == "Y" and k in type_ and not _yes(type_.get(k))}
    if _has_deal_child(type_) is False:
        changes["relations"] = sp.relations  # relations are overwritten, so send them in full
    if changes:
        client.call("crm.type.update", {"id": _int(type_["id"]), "fields": changes})
        report.add("smart_process", sp.title, UPDATED, ", ".join(sorted(changes)))
    else:
        report.add("smart_process", sp.title, FOUND, f"{how}: id {type_['id']}, entityTypeId {type_['entityTypeId']}")
    return type_


# ------------------------------------------------------------------------------------------- user fields

def ensure_fields(client: Any, sp: SmartProcess, type_id: int, entity_type_id: int,
                  report: ProvisionReport) -> dict[str, str]:
    """Create missing UF_CRM_{typeId}_{SUFFIX} fields; return suffix -> REST name (from crm.item.fields)."""
    entity_id = f"CRM_{type_id}"
    existing = client.call("userfieldconfig.list", {"moduleId": "crm", "filter": {"entityId": entity_id},
                                                    "select": {"0": "*"}})
    names = {str(f.get("fieldName")) for f in _items(existing, "fields") if f.get("entityId", entity_id) == entity_id}
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for uf in sp.fields:
        name = uf.field_name(type_id)
        if name in names:
            report.add("field", name, FOUND)
            continue
        labels = {lang: text for lang, text in uf.label.items()}
        commands[uf.suffix] = ("userfieldconfig.add", {"moduleId": "crm", "field": {
            "entityId": entity_id, "fieldName": name, "userTypeId": uf.type, "multiple": "N",
            "mandatory": "N", "showFilter": "Y", "isSearchable": "N",
            "editInList": "N" if uf.computed else "Y", "settings": dict(uf.settings),
            "editFormLabel": labels, "listColumnLabel": labels, "listFilterLabel": labels,
        }})
    if commands:
        result = client.batch_all(commands)
        for suffix in commands:
            name = sp.field(suffix).field_name(type_id)
            error = result.errors.get(suffix)
            if error and "already exists" not in error.description.lower():
                report.add("field", name, FAILED, str(error))
            else:
                report.add("field", name, FOUND if error else CREATED)
    described = client.call("crm.item.fields", {"entityTypeId": entity_type_id})
    fields = described.get("fields", described) if isinstance(described, Mapping) else {}
    by_upper = {str(meta.get("upperName")): camel for camel, meta in (fields or {}).items()
                if isinstance(meta, Mapping)}
    field_map = {}
    for uf in sp.fields:
        rest_name = by_upper.get(uf.field_name(type_id)) or (uf.camel_name(type_id) if uf.camel_name(type_id)
                                                              in (fields or {}) else None)
        if rest_name:
            field_map[uf.suffix] = rest_name
        else:
            report.add("field", uf.field_name(type_id), FAILED, "not listed by crm.item.fields")
    return field_map


# ------------------------------------------------------------------------------------------- stages

def default_category(client: Any, entity_type_id: int) -> int:
    categories = _items(client.call("crm.category.list", {"entityTypeId": entity_type_id}), "categories")
    if not categories:
        raise ProvisionError("stages", "crm.category.list returned no pipeline for the smart process")
    default = [c for c in categories if str(c.get("isDefault", "N")).upper() in ("Y", "TRUE", "1")]
    chosen = _int((default or categories)[0].get("id"))
    if chosen is None:
        raise ProvisionError("stages", "crm.category.list returned a pipeline without id")
    return chosen


def _semantics(row: Mapping[str, Any]) -> str:
    value = str(row.get("SEMANTICS") or "").upper()
    return value if value in ("S", "F") else "P"


def ensure_stages(client: Any, sp: SmartProcess, entity_type_id: int, category_id: int, lang: str,
                  report: ProvisionReport, rename: bool = True) -> dict[str, str]:
    """Rename the default NEW / SUCCESS / FAIL stages (add them only when missing); semantics -> stage id.

    ``rename`` is true when the smart process was created in this run: on a type that already existed,
    a stage name a person chose is kept.
    """
    directory = f"DYNAMIC_{entity_type_id}_STAGE_{category_id}"
    rows = _items(client.call("crm.status.list", {"filter": {"ENTITY_ID": directory}, "order": {"SORT": "ASC"}}),
                  "")
    stage_map: dict[str, str] = {}
    added = False
    for stage in sp.stages:
        name = stage.name.get(lang) or stage.name["la"]
        by_code = [r for r in rows if str(r.get("STATUS_ID", "")).rsplit(":", 1)[-1] == stage.code]
        by_semantics = [r for r in rows if _semantics(r) == stage.semantics]
        candidates = by_code or by_semantics
        match = candidates[0] if candidates else None
        if match is None:
            client.call("crm.status.add", {"fields": {
                "ENTITY_ID": directory, "STATUS_ID": stage.code, "NAME": name, "SORT": stage.sort,
                "COLOR": stage.color, "SEMANTICS": "" if stage.semantics == "P" else stage.semantics}})
            report.add("stage", name, CREATED, stage.semantics)
            added = True
            continue
        stage_map[stage.semantics] = str(match["STATUS_ID"])
        if rename and str(match.get("NAME")) != name and str(match.get("NAME")) not in stage.name.values():
            client.call("crm.status.update", {"id": _int(match.get("ID")), "fields": {"NAME": name}})
            report.add("stage", name, UPDATED, f"renamed from {match.get('NAME')!r}")
        else:
            report.add("stage", name, FOUND, stage.semantics)
    if added:
        rows = _items(client.call("crm.status.list", {"filter": {"ENTITY_ID": directory}}), "")
        for stage in sp.stages:
            if stage.semantics not in stage_map:
                for r in rows:
                    if str(r.get("STATUS_ID", "")).rsplit(":", 1)[-1] == stage.code:
                        stage_map[stage.semantics] = str(r["STATUS_ID"])
    missing = [s for s in ("P", "S", "F") if s not in stage_map]
    if missing:
        raise ProvisionError("stages", f"no stage with semantics {', '.join(missing)} in {directory}")
    if rename:
        remove_default_stages(client, sp, rows, stage_map, report)
    return stage_map


def remove_default_stages(client: Any, sp: SmartProcess, rows: list[dict[str, Any]], stage_map: Mapping[str, str],
                          report: ProvisionReport) -> None:
    """Delete the in-progress stages Bitrix24 adds to a new smart process (``PREPARATION``, ``CLIENT``) that
    the manifest does not declare, so the plan card and kanban show only Activo / Cumplido / No cumplido.

    Called only for a smart process created in this run: on one the app found, a person may use them.
    A stage that cannot be deleted stays (logged); it costs nothing but a column.
    Docs: api-reference/crm/status/crm-status-delete.md.
    """
    declared = {stage.code for stage in sp.stages}
    extra = [r for r in rows if _semantics(r) == "P" and str(r.get("STATUS_ID")) not in stage_map.values()
             and str(r.get("STATUS_ID", "")).rsplit(":", 1)[-1] not in declared and _int(r.get("ID"))]
    if not extra:
        return
    result = client.batch_all({f"s{r['ID']}": ("crm.status.delete", {"id": _int(r["ID"])}) for r in extra})
    for row in extra:
        error = result.errors.get(f"s{row['ID']}")
        if error is not None:
            log.warning("stage %s not removed: %s", row.get("STATUS_ID"), error)
            report.add("stage", str(row.get("NAME") or row.get("STATUS_ID")), FOUND, f"not removed: {error}")
        else:
            report.add("stage", str(row.get("NAME") or row.get("STATUS_ID")), REMOVED, str(row.get("STATUS_ID")))


# ------------------------------------------------------------------------------------------- the whole run

def read_options(client: Any) -> dict[str, Any]:
    try:
        options = client.call("app.option.get", {})
    except B24Error as exc:
        log.info("app.option.get: %s", exc)
        return {}
    return dict(options) if isinstance(options, Mapping) else {}


def save_ids(db: sqlite_utils.Database, inst: Installation, report: ProvisionReport) -> None:
    """Keep the smart-process ids locally, touching nothing else of the row.

    Only these columns: the REST client may have rotated the tokens meanwhile (a whole-row save of
    the Installation we started with would put the old, now invalid, refresh token back).
    """
    member_id = inst.member_id
    with db.conn:
        changed = db.execute(
            "UPDATE installations SET type_id = ?, entity_type_id = ?, category_id = ?, field_map = ?, "
            "stage_map = ?, updated_at = ? WHERE member_id = ?",
            [report.type_id, report.entity_type_id, report.category_id,
             json.dumps(report.field_map, sort_keys=True), json.dumps(report.stage_map, sort_keys=True),
             now_iso(), member_id],
        ).rowcount
    if not changed:  # not stored yet: nothing to clobber
        InstallationStore(db).save(inst.with_(
            type_id=report.type_id, entity_type_id=report.entity_type_id, category_id=report.category_id,
            field_map=report.field_map, stage_map=report.stage_map))


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def _lock_for(db: sqlite_utils.Database, member_id: str) -> Iterator[None]:
    """One provisioning run per portal on this host: a file lock beside the database (app processes, the
    worker and the CLI alike), or a thread lock for an in-memory database."""
    path = db.conn.execute("PRAGMA database_list").fetchone()[2]
    if path:
        key = hashlib.sha1(member_id.encode("utf-8")).hexdigest()[:20]
        with file_lock(lock_dir(path) / f"provision-{key}.lock"):
            yield
        return
    with _locks_guard:
        lock = _locks.setdefault(member_id, threading.Lock())
    with lock:
        yield


def provision(client: Any, db: sqlite_utils.Database, inst: Installation, config: Mapping[str, Any],
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


def _provision(client: Any, db: sqlite_utils.Database, inst: Installation, config: Mapping[str, Any],
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
        report.field_map = ensure_fields(client, sp, type_id, eti, report)
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


def reprovision(client: Any, db: sqlite_utils.Database, inst: Installation,
                config: Mapping[str, Any]) -> ProvisionReport:
    """The worker's entry point after ONAPPUPDATE (same as ``provision``)."""
    return provision(client, db, inst, config)


def provision_all(config: Mapping[str, Any], member_id: str | None = None,
                  client_for: Any = None) -> dict[str, ProvisionReport]:
    """Re-run provisioning with the stored admin tokens for one or every active installation (the CLI)."""
    from b24app.db import connect

    db = connect(str(config["DATABASE"]))
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
            if client_for is None:
                from b24app.rest import B24Client

                client = B24Client.for_installation(inst.member_id, config)
            else:
                client = client_for(inst, config)
            try:
                reports[inst.member_id] = provision(client, db, inst, config)
            finally:
                close = getattr(client, "close", None)
                if callable(close):
                    close()
        return reports
    finally:
        db.conn.close()
