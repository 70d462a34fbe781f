"""Provisioning of the plans smart process: the type, its user fields and its stages, found or created.

Docs: api-reference/crm/universal/user-defined-object-types/crm-type-add.md, .../crm-type-list.md,
api-reference/crm/universal/userfieldconfig/userfieldconfig-add.md, api-reference/crm/status/crm-status-add.md,
api-reference/crm/status/crm-status-delete.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from b24app.installations import Installation
from b24app.manifest import SmartProcess
from b24app.provisioning.report import CREATED, FAILED, FOUND, REMOVED, UPDATED, ProvisionError, ProvisionReport
from b24app.rest.clients import RestClient
from b24app.rest.errors import B24Error
from b24app.schema import DEAL

log = logging.getLogger(__name__)


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


def _type_params(sp: SmartProcess) -> dict[str, Any]:
    return {"title": sp.title, **sp.flags, "relations": sp.relations}


def _yes(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("y", "true", "1")


def _has_deal_child(type_: Mapping[str, Any]) -> bool | None:
    relations = type_.get("relations")
    if not isinstance(relations, Mapping):
        return None  # crm.type.list rows carry no relations: unknown
    return any(_int(r.get("entityTypeId")) == DEAL for r in relations.get("child") or [] if isinstance(r, Mapping))


def _get_type(client: RestClient, type_id: int | None) -> dict[str, Any] | None:
    if not type_id:
        return None
    try:
        found = client.call("crm.type.get", {"id": type_id})
    except B24Error as exc:
        log.info("crm.type.get %s: %s", type_id, exc)
        return None
    type_ = found.get("type") if isinstance(found, Mapping) else None
    return dict(type_) if isinstance(type_, Mapping) else None


def ensure_smart_process(client: RestClient, inst: Installation, sp: SmartProcess, options: Mapping[str, Any],
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

def ensure_fields(client: RestClient, sp: SmartProcess, type_id: int, entity_type_id: int,
                  report: ProvisionReport, lang: str = "la") -> dict[str, str]:
    """Create missing UF_CRM_{typeId}_{SUFFIX} fields; return suffix -> REST name (from crm.item.fields).

    A list (enumeration) field is created with its items (``enum``: value in the portal's language, XML id);
    ``report.enum_map`` gets each list field's XML id -> item id, read back with ``userfieldconfig.get``.
    """
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
        labels = {code: text for code, text in uf.label.items()}
        spec: dict[str, Any] = {
            "entityId": entity_id, "fieldName": name, "userTypeId": uf.type, "multiple": "N",
            "mandatory": "N", "showFilter": "Y", "isSearchable": "N",
            "editInList": "N" if uf.computed else "Y", "settings": dict(uf.settings),
            "editFormLabel": labels, "listColumnLabel": labels, "listFilterLabel": labels,
        }
        if uf.items:
            spec["enum"] = [{"value": item.label.get(lang) or item.label["la"], "xmlId": item.xml_id,
                             "sort": (n + 1) * 10, "def": "Y" if n == 0 else "N"}
                            for n, item in enumerate(uf.items)]
        commands[uf.suffix] = ("userfieldconfig.add", {"moduleId": "crm", "field": spec})
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
    if any(uf.items for uf in sp.fields):
        report.enum_map = read_enums(client, sp, type_id, report)
    return field_map


def read_enums(client: RestClient, sp: SmartProcess, type_id: int,
               report: ProvisionReport) -> dict[str, dict[str, int]]:
    """Suffix -> XML id -> item id of every list field (``userfieldconfig.get`` returns ``enum``); an XML id
    the manifest declares but the portal's field lacks (a person deleted the value) is reported."""
    entity_id = f"CRM_{type_id}"
    listed = _items(client.call("userfieldconfig.list", {"moduleId": "crm", "filter": {"entityId": entity_id},
                                                         "select": {"0": "*"}}), "fields")
    ids = {str(f.get("fieldName")): _int(f.get("id")) for f in listed}
    wanted = {uf.suffix: ids.get(uf.field_name(type_id)) for uf in sp.fields if uf.items}
    commands = {suffix: ("userfieldconfig.get", {"moduleId": "crm", "id": uid})
                for suffix, uid in wanted.items() if uid}
    result = client.batch_all(commands) if commands else None
    out: dict[str, dict[str, int]] = {}
    for uf in sp.fields:
        if not uf.items:
            continue
        answer = result.result.get(uf.suffix) if result is not None else None
        field_ = answer.get("field", answer) if isinstance(answer, Mapping) else {}
        enum = field_.get("enum") if isinstance(field_, Mapping) else None
        by_xml = {str(e.get("xmlId")): _int(e.get("id")) for e in enum or [] if isinstance(e, Mapping)}
        out[uf.suffix] = {x: i for x, i in by_xml.items() if i is not None}
        lacking = [item.xml_id for item in uf.items if item.xml_id not in out[uf.suffix]]
        if lacking:
            report.add("field", uf.field_name(type_id), FAILED, f"list values missing: {', '.join(lacking)}")
    return out


# ------------------------------------------------------------------------------------------- stages

def default_category(client: RestClient, entity_type_id: int) -> int:
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


def ensure_stages(client: RestClient, sp: SmartProcess, entity_type_id: int, category_id: int, lang: str,
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


def remove_default_stages(client: RestClient, sp: SmartProcess, rows: list[dict[str, Any]],
                          stage_map: Mapping[str, str], report: ProvisionReport) -> None:
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
