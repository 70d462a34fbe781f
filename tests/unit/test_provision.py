"""Provisioning against an in-memory portal: creates once, finds on every re-run, names what a portal lacks.

The fake below answers the documented shapes of each method (api-reference/crm/universal/..., api-reference/widgets/
placement-bind.md, api-reference/events/event-bind.md); the integration tests (tests/integration/test_install.py)
repeat the important cases against the sandbox over HTTP.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from b24app.db import connect
from b24app.installations import Installation, InstallationStore
from b24app.manifest import load_manifest
from b24app.provisioning import provision as prov
from b24app.provisioning import report as steps
from b24app.rest.clients import ClientsFrom
from b24app.rest.codec import BatchResult
from b24app.rest.errors import B24Error, BadRequest, MethodNotFound

PUBLIC = "https://plans.example.com"
CONFIG = {"PUBLIC_URL": PUBLIC}


class FakePortal:
    """Just enough of a portal for provisioning; ``calls`` counts every method called."""

    def __init__(self, missing: tuple[str, ...] = (), admin: bool = True):
        self.missing = set(missing)
        self.admin = admin
        self.calls: Counter[str] = Counter()
        self.types: list[dict[str, Any]] = []
        self.fields: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.placements: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.options: dict[str, Any] = {}

    # -- the client interface the provisioning code uses
    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.calls[method] += 1
        if method in self.missing:
            raise MethodNotFound(404, "ERROR_METHOD_NOT_FOUND", "Method not found!", method)
        return getattr(self, "m_" + method.replace(".", "_"))(params or {})

    def batch_all(self, commands: dict[str, tuple[str, dict[str, Any]]]) -> BatchResult:
        self.calls["batch"] += 1
        result = BatchResult()
        for key, (method, params) in commands.items():
            try:
                result.result[key] = self.call(method, params)
            except B24Error as exc:
                result.errors[key] = exc
        return result

    # -- a client is a context manager that closes it
    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakePortal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- methods
    def m_method_get(self, p):
        return {"isExisting": p["name"] not in self.missing, "isAvailable": p["name"] not in self.missing}

    def m_events(self, p):
        return [e for e in MANIFEST.events if e not in self.missing]

    def m_app_info(self, p):
        return {"ID": 5, "CODE": "local.test", "VERSION": 1, "STATUS": "L", "INSTALLED": False}

    def m_user_admin(self, p):
        return self.admin

    def m_app_option_get(self, p):
        return dict(self.options)

    def m_app_option_set(self, p):
        self.options.update(p["options"])
        return True

    def m_crm_type_get(self, p):
        for t in self.types:
            if t["id"] == int(p["id"]):
                return {"type": t}
        raise BadRequest(400, "NOT_FOUND", "Smart process not found", "crm.type.get")

    def m_crm_type_list(self, p):
        title = p.get("filter", {}).get("title")
        return {"types": [{k: v for k, v in t.items() if k != "relations"} for t in self.types
                          if title is None or t["title"] == title]}

    def m_crm_type_add(self, p):
        type_id, eti = len(self.types) + 7, 1030 + 2 * len(self.types)
        relations = {side: [{**r, "isChildrenListEnabled": "Y"} for r in items]
                     for side, items in p["fields"].get("relations", {}).items()}
        t = {**p["fields"], "id": type_id, "entityTypeId": eti, "relations": relations}
        self.types.append(t)
        category = 10 + len(self.types)
        for code, sem, name in (("NEW", "", "Nuevo"), ("PREPARATION", "", "Preparación"),
                                ("SUCCESS", "S", "Éxito"), ("FAIL", "F", "Fallido")):
            self.statuses.append({"ID": str(len(self.statuses) + 1), "ENTITY_ID": f"DYNAMIC_{eti}_STAGE_{category}",
                                  "STATUS_ID": f"DT{eti}_{category}:{code}", "NAME": name, "SEMANTICS": sem or None})
        t["_category"] = category
        return {"type": t}

    def m_crm_type_update(self, p):
        t = self.m_crm_type_get(p)["type"]
        t.update(p["fields"])
        return {"type": t}

    def m_server_time(self, p):
        return "2026-11-27T10:00:00-06:00"

    def m_crm_currency_list(self, p):
        return [{"CURRENCY": "USD", "AMOUNT": "1.0000", "AMOUNT_CNT": "1", "DECIMALS": "2", "BASE": "Y"}]

    def m_crm_category_list(self, p):
        t = next(t for t in self.types if t["entityTypeId"] == p["entityTypeId"])
        return {"categories": [{"id": t["_category"], "name": "General", "isDefault": "Y"}]}

    def m_userfieldconfig_list(self, p):
        entity = p["filter"]["entityId"]
        return {"fields": [f for f in self.fields if f["entityId"] == entity]}

    def m_userfieldconfig_add(self, p):
        field = p["field"]
        if any(f["fieldName"] == field["fieldName"] for f in self.fields):
            raise BadRequest(400, "", f"Field {field['fieldName']} already exists", "userfieldconfig.add")
        stored = {**field, "id": str(100 + len(self.fields)),
                  "enum": [{**e, "id": str(500 + 10 * len(self.fields) + n)}
                           for n, e in enumerate(field.get("enum", []))]}
        self.fields.append(stored)
        return {"field": stored}

    def m_userfieldconfig_get(self, p):
        return {"field": next(f for f in self.fields if f["id"] == str(p["id"]))}

    def m_crm_item_fields(self, p):
        t = next(t for t in self.types if t["entityTypeId"] == p["entityTypeId"])
        out = {"id": {"upperName": "ID"}, "opportunity": {"upperName": "OPPORTUNITY"}}
        for f in self.fields:
            if f["entityId"] == f"CRM_{t['id']}":
                suffix = f["fieldName"].split("_", 3)[3]
                out[f"ufCrm{t['id']}{suffix.capitalize()}"] = {"upperName": f["fieldName"]}
        return {"fields": out}

    def m_crm_status_list(self, p):
        return [s for s in self.statuses if s["ENTITY_ID"] == p["filter"]["ENTITY_ID"]]

    def m_crm_status_add(self, p):
        f = p["fields"]
        eti_cat = f["ENTITY_ID"].removeprefix("DYNAMIC_").split("_STAGE_")
        self.statuses.append({"ID": str(len(self.statuses) + 1), "ENTITY_ID": f["ENTITY_ID"],
                              "STATUS_ID": f"DT{eti_cat[0]}_{eti_cat[1]}:{f['STATUS_ID']}", "NAME": f["NAME"],
                              "SEMANTICS": f["SEMANTICS"] or None})
        return int(self.statuses[-1]["ID"])

    def m_crm_status_delete(self, p):
        self.statuses = [s for s in self.statuses if s["ID"] != str(p["id"])]
        return True

    def m_crm_status_update(self, p):
        row = next(s for s in self.statuses if s["ID"] == str(p["id"]))
        row.update(p["fields"])
        return True

    def m_placement_get(self, p):
        return [dict(b) for b in self.placements]

    def m_placement_bind(self, p):
        self.placements.append({"placement": p["PLACEMENT"], "handler": p["HANDLER"], "title": p["TITLE"],
                                "langAll": p["LANG_ALL"]})
        return True

    def m_placement_unbind(self, p):
        before = len(self.placements)
        self.placements = [b for b in self.placements
                           if not (b["placement"] == p["PLACEMENT"] and b["handler"] == p["HANDLER"])]
        return {"count": before - len(self.placements)}

    def m_event_get(self, p):
        return [dict(e) for e in self.events]

    def m_event_bind(self, p):
        if any(e["event"] == p["event"] and e["handler"] == p["handler"] for e in self.events):
            raise BadRequest(400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!", "event.bind")
        self.events.append({"event": p["event"], "handler": p["handler"], "auth_type": "0", "offline": 0})
        return True

    def m_event_unbind(self, p):
        self.events = [e for e in self.events if not (e["event"] == p["event"] and e["handler"] == p["handler"])]
        return {"count": 1}


@pytest.fixture
def db(tmp_path):
    database = connect(tmp_path / "app.db")
    yield database
    database.close()


@pytest.fixture
def inst(db):
    return InstallationStore(db).save(Installation(member_id="m1", domain="portal.test",
                                                   client_endpoint="https://portal.test/rest/", lang="la"))


MANIFEST = load_manifest()
CREATES = ("crm.type.add", "userfieldconfig.add", "crm.status.add", "placement.bind", "event.bind")


def test_first_run_creates_everything_and_keeps_the_ids(db, inst):
    portal = FakePortal()
    report = prov.provision(portal, db, inst, CONFIG, MANIFEST)
    assert report.ok, report.summary()
    saved = InstallationStore(db).find("m1")
    assert (saved.type_id, saved.entity_type_id, saved.category_id) == (7, 1030, 11)
    assert saved.field_map == {"PROBABILITY": "ufCrm7Probability", "EXECUTED": "ufCrm7Executed",
                               "REMAINDER": "ufCrm7Remainder", "EXECUTION": "ufCrm7Execution",
                               "PROBABLE": "ufCrm7Probable", "RECURRENCE": "ufCrm7Recurrence",
                               "GROWTH": "ufCrm7Growth", "CARRYOVER": "ufCrm7Carryover",
                               "CARRYCAP": "ufCrm7Carrycap", "CARRIED": "ufCrm7Carried",
                               "PREDECESSOR": "ufCrm7Predecessor", "SUCCESSOR": "ufCrm7Successor",
                               "FORECAST": "ufCrm7Forecast", "RISK": "ufCrm7Risk"}
    # a list field's values are item ids of this portal, kept by XML id
    recurrence = next(f for f in portal.fields if f["fieldName"] == "UF_CRM_7_RECURRENCE")
    assert [(e["xmlId"], e["value"]) for e in recurrence["enum"]] == [
        ("NONE", "No se repite"), ("MONTHLY", "Mensual"), ("QUARTERLY", "Trimestral"), ("YEARLY", "Anual")]
    assert saved.enum_map["RECURRENCE"] == {e["xmlId"]: int(e["id"]) for e in recurrence["enum"]}
    assert set(saved.enum_map["CARRYOVER"]) == {"NONE", "SHORTFALL", "SURPLUS", "BOTH"}
    assert saved.stage_map == {"P": "DT1030_11:NEW", "S": "DT1030_11:SUCCESS", "F": "DT1030_11:FAIL"}
    assert saved.is_provisioned
    (type_,) = portal.types
    assert type_["title"] == "Planes de ventas" and type_["isClientEnabled"] == "Y"
    assert type_["isLinkWithProductsEnabled"] == "Y" and type_["relations"]["child"][0]["entityTypeId"] == 2
    assert {f["fieldName"] for f in portal.fields} == {f"UF_CRM_7_{s}" for s in
                                                        ("PROBABILITY", "EXECUTED", "REMAINDER", "EXECUTION",
                                                         "PROBABLE", "RECURRENCE", "GROWTH", "CARRYOVER",
                                                         "CARRYCAP", "CARRIED", "PREDECESSOR", "SUCCESSOR",
                                                         "FORECAST", "RISK")}
    risk = next(f for f in portal.fields if f["fieldName"] == "UF_CRM_7_RISK")
    assert risk["userTypeId"] == "boolean" and risk["editInList"] == "N"
    probability = next(f for f in portal.fields if f["fieldName"] == "UF_CRM_7_PROBABILITY")
    assert probability["editFormLabel"] == {"la": "Probabilidad (%)", "en": "Probability (%)",
                                            "ru": "Вероятность (%)"}
    assert probability["userTypeId"] == "double" and probability["entityId"] == "CRM_7"
    # the default stages are renamed, not duplicated; the undeclared in-progress one is removed
    names = {s["STATUS_ID"].split(":")[1]: s["NAME"] for s in portal.statuses}
    assert names == {"NEW": "Activo", "SUCCESS": "Cumplido", "FAIL": "No cumplido"}
    assert portal.calls["crm.status.add"] == 0
    assert sorted((b["placement"], b["handler"]) for b in portal.placements) == [
        ("CRM_COMPANY_DETAIL_TAB", PUBLIC + "/placements/client"),
        ("CRM_CONTACT_DETAIL_TAB", PUBLIC + "/placements/client"),
        ("CRM_DEAL_DETAIL_TAB", PUBLIC + "/placements/deal")]
    deal_tab = next(b for b in portal.placements if b["placement"] == "CRM_DEAL_DETAIL_TAB")
    assert deal_tab["langAll"]["ru"] == {"TITLE": "План продаж"} and deal_tab["langAll"]["la"]["TITLE"]
    assert sorted(e["event"] for e in portal.events) == sorted(MANIFEST.events)
    assert {e["handler"] for e in portal.events} == {PUBLIC + "/events"}
    assert portal.options["plans_entity_type_id"] == 1030
    assert json.loads(portal.options["plans_stage_map"])["S"] == "DT1030_11:SUCCESS"
    assert report.count(steps.CREATED) >= 1 + 5 + 3 + len(MANIFEST.events)
    audit = [r["action"] for r in db.query("SELECT action FROM audit_log")]
    assert audit == ["provision"]


def test_a_second_run_creates_nothing_twice(db, inst):
    portal = FakePortal()
    prov.provision(portal, db, inst, CONFIG, MANIFEST)
    created_once = {m: portal.calls[m] for m in CREATES}
    report = prov.provision(portal, db, InstallationStore(db).find("m1"), CONFIG, MANIFEST)
    assert report.ok and report.count(steps.CREATED) == 0 and report.count(steps.UPDATED) == 0
    assert {m: portal.calls[m] for m in CREATES} == created_once
    assert len(portal.types) == 1 and len(portal.fields) == len(MANIFEST.smart_process.fields)
    assert len(portal.statuses) == 3
    assert len(portal.placements) == 3 and len(portal.events) == len(MANIFEST.events)


def test_lost_local_ids_are_found_through_app_option_then_by_title(db, inst):
    portal = FakePortal()
    prov.provision(portal, db, inst, CONFIG, MANIFEST)
    fresh = inst.with_(member_id="m2")  # a new local database: no ids kept here
    InstallationStore(db).save(fresh)
    report = prov.provision(portal, db, fresh, CONFIG, MANIFEST)
    assert report.steps[0].outcome == steps.FOUND and "app.option" in report.steps[0].detail
    portal.options.clear()  # uninstall removes app.option
    report = prov.provision(portal, db, fresh.with_(member_id="m3"), CONFIG, MANIFEST)
    assert report.steps[0].outcome == steps.FOUND and "by title" in report.steps[0].detail
    assert len(portal.types) == 1
    assert InstallationStore(db).find("m3").entity_type_id == 1030


def test_a_missing_field_or_stage_is_added_back(db, inst):
    portal = FakePortal()
    prov.provision(portal, db, inst, CONFIG, MANIFEST)
    portal.fields = [f for f in portal.fields if not f["fieldName"].endswith("_PROBABLE")]
    portal.statuses = [s for s in portal.statuses if not s["STATUS_ID"].endswith(":FAIL")]
    report = prov.provision(portal, db, InstallationStore(db).find("m1"), CONFIG, MANIFEST)
    assert report.ok
    assert sorted((s.kind, s.outcome) for s in report.steps if s.outcome == steps.CREATED) == [
        ("field", "created"), ("stage", "created")]
    assert InstallationStore(db).find("m1").stage_map["F"] == "DT1030_11:FAIL"


def test_a_moved_app_rebinds_its_tabs_and_events_to_the_new_address(db, inst):
    portal = FakePortal()
    prov.provision(portal, db, inst, {"PUBLIC_URL": "https://old.example.com"}, MANIFEST)
    prov.provision(portal, db, InstallationStore(db).find("m1"), CONFIG, MANIFEST)
    assert {b["handler"].split("/placements")[0] for b in portal.placements} == {PUBLIC}
    assert len(portal.placements) == 3
    assert {e["handler"] for e in portal.events} == {PUBLIC + "/events"}


def test_a_duplicate_event_bind_counts_as_success(db, inst):
    portal = FakePortal()
    portal.events.append({"event": "ONCRMDEALADD", "handler": PUBLIC + "/events"})
    report = prov.provision(portal, db, inst, CONFIG, MANIFEST)
    assert report.ok
    assert [s.outcome for s in report.steps if s.name == "ONCRMDEALADD"] == [steps.FOUND]


def test_a_failed_step_is_reported_not_hidden(db, inst):
    portal = FakePortal(missing=("crm.type.add",))
    report = prov.provision(portal, db, inst, CONFIG, MANIFEST)
    assert not report.ok and "crm.type.add" in report.error
    assert not InstallationStore(db).find("m1").is_provisioned
    assert json.loads(next(db.query("SELECT detail FROM audit_log"))["detail"])["ok"] is False


def test_missing_methods_names_what_a_self_hosted_portal_lacks():
    portal = FakePortal(missing=("userfieldconfig.add", "crm.type.add"))
    assert prov.missing_methods(portal) == ["crm.type.add", "userfieldconfig.add"]
    assert prov.missing_methods(FakePortal()) == []
    assert portal.calls["batch"] == 1  # one batch, not one call per method


def test_missing_events_are_named_too():
    portal = FakePortal(missing=("ONCRMDEALMOVETOCATEGORY",))
    assert prov.missing_methods(portal, events=MANIFEST.events) == ["ONCRMDEALMOVETOCATEGORY"]
    assert prov.missing_methods(FakePortal(missing=("events",)), events=MANIFEST.events) == []


def test_provision_all_reruns_for_stored_installations(db, inst, tmp_path):
    portal = FakePortal()
    config = {**CONFIG, "DATABASE": str(tmp_path / "app.db"), "CLIENTS": ClientsFrom(lambda inst: portal)}
    reports = prov.provision_all(config)
    assert list(reports) == ["m1"] and reports["m1"].ok and len(portal.types) == 1
    again = prov.provision_all(config, member_id="m1")
    assert again["m1"].count(steps.CREATED) == 0
    with pytest.raises(steps.ProvisionError, match="no active installation with member_id nobody"):
        prov.provision_all(config, member_id="nobody")


def test_the_provision_command(db, inst, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from b24app.cli import cli
    from b24app.rest import B24Client

    portal = FakePortal()
    monkeypatch.setattr(B24Client, "for_installation", classmethod(lambda cls, member_id, config: portal))
    env = {"B24_DATABASE": str(tmp_path / "app.db"), "B24_ENV": "test", "B24_PUBLIC_URL": PUBLIC,
           "B24_SCHEDULER": "off"}
    first = CliRunner().invoke(cli, ["provision", "--member-id", "m1"], env=env)
    assert first.exit_code == 0, first.output
    assert "m1: ok (created" in first.output and "created  smart_process Planes de ventas" in first.output
    second = CliRunner().invoke(cli, ["provision"], env=env)
    assert second.exit_code == 0 and "m1: ok (created 0, updated 0, failed 0)" in second.output
    missing = CliRunner().invoke(cli, ["provision", "--member-id", "nobody"], env=env)
    assert missing.exit_code != 0 and "no active installation" in missing.output


def test_a_found_type_gets_a_switched_off_flag_and_a_lost_deal_relation_back(db, inst):
    portal = FakePortal()
    prov.provision(portal, db, inst, CONFIG, MANIFEST)
    type_ = portal.types[0]
    type_["isClientEnabled"] = True   # a portal answering booleans is not "changed"
    type_["isStagesEnabled"] = "N"    # someone switched stages off
    type_["relations"] = {"parent": [], "child": []}
    report = prov.provision(portal, db, InstallationStore(db).find("m1"), CONFIG, MANIFEST)
    (step,) = [s for s in report.steps if s.kind == "smart_process"]
    assert step.outcome == steps.UPDATED and step.detail == "isStagesEnabled, relations"
    assert type_["isStagesEnabled"] == "Y" and type_["relations"]["child"][0]["entityTypeId"] == 2


def test_two_installs_at_once_create_one_smart_process(tmp_path, inst):
    import threading
    import time

    class SlowPortal(FakePortal):
        def m_crm_type_list(self, p):
            answer = super().m_crm_type_list(p)
            time.sleep(0.2)  # both runs look before either creates
            return answer

    portal = SlowPortal()
    reports = []

    def run():
        database = connect(tmp_path / "app.db")
        try:
            reports.append(prov.provision(portal, database, inst, CONFIG, MANIFEST))
        finally:
            database.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(portal.types) == 1 and all(r.ok for r in reports)
    assert sorted(r.steps[0].outcome for r in reports) == [steps.CREATED, steps.FOUND]


def test_tokens_rotated_during_provisioning_are_not_overwritten(db, inst):
    class RotatingPortal(FakePortal):
        def m_crm_type_list(self, p):  # the REST client refreshes the token in the middle of the run
            InstallationStore(db).save_tokens("m1", "rotated-access", "rotated-refresh", 2_000_000_000)
            return super().m_crm_type_list(p)

    report = prov.provision(RotatingPortal(), db, inst, CONFIG, MANIFEST)
    assert report.ok
    saved = InstallationStore(db).find("m1")
    assert (saved.access_token, saved.refresh_token) == ("rotated-access", "rotated-refresh")
    assert saved.is_provisioned


def test_a_stage_a_person_renamed_keeps_its_name_on_reinstall(db, inst):
    portal = FakePortal()
    prov.provision(portal, db, inst, CONFIG, MANIFEST)
    success = next(s for s in portal.statuses if s["STATUS_ID"].endswith(":SUCCESS"))
    success["NAME"] = "Logrado"
    report = prov.provision(portal, db, InstallationStore(db).find("m1"), CONFIG, MANIFEST)
    assert report.ok and success["NAME"] == "Logrado" and portal.calls["crm.status.update"] == 3
    assert InstallationStore(db).find("m1").stage_map["S"] == success["STATUS_ID"]


def stage_names(portal: FakePortal) -> list[str]:
    return [s["NAME"] for s in portal.statuses]


def test_a_created_smart_process_keeps_only_the_manifest_stages(db, inst):
    portal = FakePortal()
    report = prov.provision(portal, db, inst, CONFIG, MANIFEST)
    assert report.ok
    assert stage_names(portal) == ["Activo", "Cumplido", "No cumplido"]  # "Preparación" is gone
    removed = [s for s in report.steps if s.outcome == steps.REMOVED]
    assert [(s.kind, s.name) for s in removed] == [("stage", "Preparación")]
    assert report.summary()["removed"] == ["stage:Preparación"]
    again = prov.provision(portal, db, InstallationStore(db).find("m1"), CONFIG, MANIFEST)
    assert again.ok and portal.calls["crm.status.delete"] == 1  # nothing more to remove


def test_stages_of_a_smart_process_the_app_found_are_never_deleted(db, inst):
    portal = FakePortal()
    portal.m_crm_type_add({"fields": {"title": MANIFEST.smart_process.title, **MANIFEST.smart_process.flags,
                                      "relations": MANIFEST.smart_process.relations}})  # made by a person
    report = prov.provision(portal, db, inst, CONFIG, MANIFEST)
    assert report.ok and "Preparación" in stage_names(portal)
    assert portal.calls["crm.status.delete"] == 0 and not report.summary()["removed"]


def test_re_provisioning_a_portal_of_an_older_version_adds_the_series_and_forecast_fields(db, inst):
    portal = FakePortal()
    prov.provision(portal, db, inst, CONFIG, MANIFEST)
    old = ("PROBABILITY", "EXECUTED", "REMAINDER", "EXECUTION", "PROBABLE")
    portal.fields = [f for f in portal.fields if f["fieldName"].rsplit("_", 1)[-1] in old]
    InstallationStore(db).save_provisioned(inst, type_id=7, entity_type_id=1030, category_id=11,
                                           field_map={s: f"ufCrm7{s.capitalize()}" for s in old},
                                           stage_map={"P": "DT1030_11:NEW", "S": "DT1030_11:SUCCESS",
                                                      "F": "DT1030_11:FAIL"})
    report = prov.provision(portal, db, InstallationStore(db).find("m1"), CONFIG, MANIFEST)
    assert report.ok, report.summary()
    created = {s.name for s in report.steps if s.kind == "field" and s.outcome == "created"}
    assert created == {f"UF_CRM_7_{s}" for s in ("RECURRENCE", "GROWTH", "CARRYOVER", "CARRYCAP", "CARRIED",
                                                  "PREDECESSOR", "SUCCESSOR", "FORECAST", "RISK")}
    saved = InstallationStore(db).find("m1")
    assert "SUCCESSOR" in saved.field_map and set(saved.enum_map["RECURRENCE"]) == {"NONE", "MONTHLY",
                                                                                    "QUARTERLY", "YEARLY"}
