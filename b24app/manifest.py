"""The app manifest (``app.yaml``): loaded and validated at start-up.

A broken manifest raises ManifestError naming the key, e.g. ``smart_process.stages[1].semantics``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LANGS = ("la", "en", "ru")
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "app.yaml"
_PLACEMENT_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SUFFIX_RE = re.compile(r"^[A-Z]+$")  # letters only: UF_CRM_13_PROBABILITY -> ufCrm13Probability
_FIELD_TYPES = {"double", "integer", "string", "boolean", "date", "datetime", "money", "enumeration"}


class ManifestError(ValueError):
    """The manifest is malformed; ``key`` names the offending entry."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"app.yaml: {key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class Placement:
    code: str
    handler: str
    title: dict[str, str]


@dataclass(frozen=True)
class EnumItem:
    """One value of a list (enumeration) user field: its XML id and its label per language."""

    xml_id: str
    label: dict[str, str]


@dataclass(frozen=True)
class UserField:
    suffix: str
    type: str
    computed: bool
    label: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)
    items: tuple[EnumItem, ...] = ()

    def field_name(self, type_id: int) -> str:
        """``UF_CRM_{typeId}_{SUFFIX}`` (api-reference/crm/universal/index.md)."""
        return f"UF_CRM_{type_id}_{self.suffix}"

    def camel_name(self, type_id: int) -> str:
        """REST camelCase name of a letters-only suffix: ``ufCrm13Probability``."""
        return f"ufCrm{type_id}{self.suffix.capitalize()}"


@dataclass(frozen=True)
class Stage:
    code: str
    semantics: str  # P, S or F
    sort: int
    color: str
    name: dict[str, str]


@dataclass(frozen=True)
class SmartProcess:
    title: str
    flags: dict[str, str]
    relations: dict[str, list[dict[str, Any]]]
    fields: tuple[UserField, ...]
    stages: tuple[Stage, ...]

    def field(self, suffix: str) -> UserField:
        for uf in self.fields:
            if uf.suffix == suffix:
                return uf
        raise KeyError(suffix)


@dataclass(frozen=True)
class Manifest:
    name: str
    scopes: tuple[str, ...]
    handlers: dict[str, str]
    placements: tuple[Placement, ...]
    events: tuple[str, ...]
    smart_process: SmartProcess


def _require(data: Any, key: str, kind: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(data, dict) or key not in data or data[key] is None:
        raise ManifestError(f"{path}{key}", "is missing")
    value = data[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ManifestError(f"{path}{key}", f"must be a {names}, got {type(value).__name__}")
    return value


def _lang_map(data: Any, key: str, path: str) -> dict[str, str]:
    value = _require(data, key, dict, path)
    for lang in LANGS:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise ManifestError(f"{path}{key}.{lang}", "needs a text in this language")
    return {str(k): str(v) for k, v in value.items()}


def _path(value: str, key: str) -> str:
    if not value.startswith("/"):
        raise ManifestError(key, "must be a path starting with /")
    return value


def parse_manifest(data: Any) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError("(top)", "must be a mapping")
    handlers = _require(data, "handlers", dict, "")
    for name in ("index", "install", "events"):
        _path(_require(handlers, name, str, "handlers."), f"handlers.{name}")

    placements = []
    for i, item in enumerate(_require(data, "placements", list, "")):
        where = f"placements[{i}]."
        code = _require(item, "code", str, where)
        if not _PLACEMENT_RE.match(code) or code == "DEFAULT":
            raise ManifestError(f"{where}code", f"{code!r} is not a bindable placement code")
        handler = _path(_require(item, "handler", str, where), f"{where}handler")
        placements.append(Placement(code, handler, _lang_map(item, "title", where)))

    events = tuple(_require(data, "events", list, ""))
    for i, name in enumerate(events):
        if not isinstance(name, str) or not name.isupper() or not name.startswith("ON"):
            raise ManifestError(f"events[{i}]", f"{name!r} is not an event name like ONCRMDEALUPDATE")

    sp = _require(data, "smart_process", dict, "")
    flags = _require(sp, "flags", dict, "smart_process.")
    for flag, value in flags.items():
        if value not in ("Y", "N"):
            raise ManifestError(f"smart_process.flags.{flag}", "must be \"Y\" or \"N\"")
    relations = _require(sp, "relations", dict, "smart_process.")
    for side, items in relations.items():
        if side not in ("parent", "child") or not isinstance(items, list):
            raise ManifestError(f"smart_process.relations.{side}", "must be a list under parent or child")
        for j, rel in enumerate(items):
            where = f"smart_process.relations.{side}[{j}]."
            _require(rel, "entityTypeId", int, where)
            if rel.get("isChildrenListEnabled", "true") not in ("true", "false"):
                raise ManifestError(f"{where}isChildrenListEnabled", 'accepts only "true" or "false"')

    fields = []
    for i, item in enumerate(_require(sp, "fields", list, "smart_process.")):
        where = f"smart_process.fields[{i}]."
        suffix = _require(item, "suffix", str, where)
        if not _SUFFIX_RE.match(suffix):
            raise ManifestError(f"{where}suffix", "must be upper-case letters only")
        ftype = _require(item, "type", str, where)
        if ftype not in _FIELD_TYPES:
            raise ManifestError(f"{where}type", f"unknown user field type {ftype!r}")
        settings = item.get("settings") or {}
        if not isinstance(settings, dict):
            raise ManifestError(f"{where}settings", "must be a mapping")
        items = []
        for j, entry in enumerate(item.get("items") or []):
            xml_id = _require(entry, "xml_id", str, f"{where}items[{j}].")
            if not _SUFFIX_RE.match(xml_id):
                raise ManifestError(f"{where}items[{j}].xml_id", "must be upper-case letters only")
            items.append(EnumItem(xml_id, _lang_map(entry, "label", f"{where}items[{j}].")))
        if (ftype == "enumeration") != bool(items):
            raise ManifestError(f"{where}items", "a list field needs items, and only a list field has them")
        fields.append(UserField(suffix, ftype, bool(item.get("computed", False)),
                                _lang_map(item, "label", where), settings, tuple(items)))
    if len({f.suffix for f in fields}) != len(fields):
        raise ManifestError("smart_process.fields", "suffixes must be unique")

    stages = []
    for i, item in enumerate(_require(sp, "stages", list, "smart_process.")):
        where = f"smart_process.stages[{i}]."
        semantics = _require(item, "semantics", str, where)
        if semantics not in ("P", "S", "F"):
            raise ManifestError(f"{where}semantics", "must be P, S or F")
        stages.append(Stage(_require(item, "code", str, where), semantics, _require(item, "sort", int, where),
                            str(item.get("color", "")), _lang_map(item, "name", where)))
    if sorted(s.semantics for s in stages) != ["F", "P", "S"]:
        raise ManifestError("smart_process.stages", "needs exactly one stage each with semantics P, S and F")

    return Manifest(
        name=_require(data, "name", str, ""),
        scopes=tuple(_require(data, "scopes", list, "")),
        handlers=dict(handlers),
        placements=tuple(placements),
        events=events,
        smart_process=SmartProcess(
            title=_require(sp, "title", str, "smart_process."),
            flags=dict(flags),
            relations={k: list(v) for k, v in relations.items()},
            fields=tuple(fields),
            stages=tuple(stages),
        ),
    )


def load_manifest(path: str | Path | None = None) -> Manifest:
    path = Path(path) if path else DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError("(file)", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError("(syntax)", str(exc)) from None
    return parse_manifest(data)
