import copy

import pytest
import yaml

from b24app.manifest import DEFAULT_PATH, ManifestError, load_manifest, parse_manifest


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_the_shipped_manifest_describes_the_plans_smart_process():
    m = load_manifest()
    assert m.smart_process.title == "Planes de ventas"
    assert {f.suffix for f in m.smart_process.fields} == {
        "PROBABILITY", "EXECUTED", "REMAINDER", "EXECUTION", "PROBABLE",
        "RECURRENCE", "GROWTH", "CARRYOVER", "CARRYCAP", "CARRIED", "PREDECESSOR", "SUCCESSOR",
        "FORECAST", "RISK"}
    assert [i.xml_id for i in m.smart_process.field("RECURRENCE").items] == ["NONE", "MONTHLY", "QUARTERLY",
                                                                             "YEARLY"]
    assert [i.xml_id for i in m.smart_process.field("CARRYOVER").items] == ["NONE", "SHORTFALL", "SURPLUS",
                                                                            "BOTH"]
    assert [(s.code, s.semantics) for s in m.smart_process.stages] == [
        ("NEW", "P"), ("SUCCESS", "S"), ("FAIL", "F")]
    assert m.smart_process.stages[0].name["la"] == "Activo"
    assert {p.code for p in m.placements} == {
        "CRM_DEAL_DETAIL_TAB", "CRM_COMPANY_DETAIL_TAB", "CRM_CONTACT_DETAIL_TAB"}
    assert {"ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY", "ONAPPUNINSTALL"} <= set(m.events)
    assert m.smart_process.relations["child"][0]["entityTypeId"] == 2
    assert m.handlers == {"index": "/", "install": "/install", "events": "/events"}


def test_user_field_names_follow_bitrix24_naming():
    uf = load_manifest().smart_process.field("PROBABILITY")
    assert uf.field_name(13) == "UF_CRM_13_PROBABILITY"
    assert uf.camel_name(13) == "ufCrm13Probability"


def _break(data, path, value):
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("name",), KeyError, "name"),
        (("smart_process", "stages", 1, "semantics"), "X", "smart_process.stages[1].semantics"),
        (("smart_process", "fields", 0, "label", "ru"), KeyError, "smart_process.fields[0].label.ru"),
        (("smart_process", "fields", 2, "type"), "float", "smart_process.fields[2].type"),
        (("smart_process", "fields", 0, "suffix"), "PROB_1", "smart_process.fields[0].suffix"),
        (("smart_process", "flags", "isClientEnabled"), True, "smart_process.flags.isClientEnabled"),
        (("smart_process", "relations", "child", 0, "isChildrenListEnabled"), "Y",
         "smart_process.relations.child[0].isChildrenListEnabled"),
        (("placements", 0, "code"), "DEFAULT", "placements[0].code"),
        (("placements", 1, "handler"), "placements/client", "placements[1].handler"),
        (("placements", 2, "title", "la"), "", "placements[2].title.la"),
        (("events", 3), "onCrmDealUpdate", "events[3]"),
        (("handlers", "events"), KeyError, "handlers.events"),
    ],
)
def test_a_broken_manifest_names_the_key(raw, path, value, key):
    data = _break(copy.deepcopy(raw), path, value)
    with pytest.raises(ManifestError) as err:
        parse_manifest(data)
    assert err.value.key == key
    assert key in str(err.value)


def test_manifest_syntax_errors_and_missing_files_are_reported(tmp_path):
    bad = tmp_path / "app.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="syntax"):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "missing.yaml")


def test_stage_semantics_must_cover_p_s_f(raw):
    data = copy.deepcopy(raw)
    data["smart_process"]["stages"][2]["semantics"] = "S"
    with pytest.raises(ManifestError, match="exactly one stage each"):
        parse_manifest(data)


def test_the_app_refuses_to_start_with_a_broken_manifest(tmp_path, raw):
    from b24app import create_app

    data = copy.deepcopy(raw)
    data["smart_process"]["stages"][0]["semantics"] = "Q"
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"smart_process\.stages\[0\]\.semantics"):
        create_app({"ENV": "test", "MANIFEST": str(path), "DATABASE": str(tmp_path / "a.db"), "SCHEDULER": False})


def test_nothing_in_app_yaml_goes_unread():
    """Each key app.yaml declares is used by production code (one source of truth: nothing decorative)."""
    import dataclasses
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = "\n".join(p.read_text(encoding="utf-8") for package in ("b24app", "handlers", "sync", "placements",
                                                                     "b24sandbox")
                       for p in (root / package).rglob("*.py") if p.name != "manifest.py")
    manifest = load_manifest()
    unread = [f.name for f in dataclasses.fields(manifest) if not re.search(rf"manifest\.{f.name}\b", source)]
    unread += [f"smart_process.{f.name}" for f in dataclasses.fields(manifest.smart_process)
               if not re.search(rf"\bsp\.{f.name}\b|smart_process\.{f.name}\b", source)]
    raw = yaml.safe_load((root / "app.yaml").read_text(encoding="utf-8"))
    assert set(raw) == {f.name for f in dataclasses.fields(manifest)}  # every top-level key is parsed
    assert unread == []


def test_a_list_field_needs_its_items(raw):
    broken = copy.deepcopy(raw)
    for item in broken["smart_process"]["fields"]:
        if item["suffix"] == "RECURRENCE":
            del item["items"]
    with pytest.raises(ManifestError, match="items"):
        parse_manifest(broken)
