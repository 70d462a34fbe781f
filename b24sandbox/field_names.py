"""Field names in ``crm.item.*`` requests: UPPER_CASE or camelCase in, camelCase out.

api-reference/crm/universal/index.md: the portal keeps field names in UPPER_CASE and shows them through REST in
camelCase; a request may name a field either way (in ``select``, ``filter`` with its operator prefixes, ``order``
and ``fields``), and answers always use camelCase. A field's UPPER_CASE name is the ``upperName`` that
``crm.item.fields`` lists: ``ASSIGNED_BY_ID``, ``BEGINDATE``, ``STAGE_SEMANTIC_ID``, ``PARENT_ID_1030``. User fields
need nothing here: they are read in both spellings (``UF_CRM_12_PROBABILITY`` / ``ufCrm12Probability``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from b24sandbox.crm_fields import COMPANY, CONTACT
from b24sandbox.crm_model import TypeInfo
from b24sandbox.filters import split_key

Names = Mapping[str, str]


def system_names(info: TypeInfo) -> dict[str, str]:
    """UPPER_CASE -> camelCase for the type's system fields (``STAGE_ID`` -> ``stageId``)."""
    return {f.upper: f.name for f in info.fields}


def item_names(info: TypeInfo) -> dict[str, str]:
    """Every UPPER_CASE name ``crm.item.*`` accepts: system fields, parent fields, ``FM`` of contacts/companies."""
    names = system_names(info)
    names.update({f"PARENT_ID_{parent}": f"parentId{parent}" for parent in info.parents})
    if info.entity_type_id in (CONTACT, COMPANY):
        names["FM"] = "fm"
    return names


def in_select(names: Names, select: list[Any]) -> list[Any]:
    return [names.get(s, s) if isinstance(s, str) else s for s in select]


def in_filter(names: Names, flt: Any) -> Any:
    """The filter with every field renamed, keeping its operator prefix (``>=BEGINDATE`` -> ``>=begindate``)
    and its nested groups (``{"0": {"logic": "OR", ...}}``)."""
    if isinstance(flt, list):
        return [in_filter(names, v) if isinstance(v, Mapping | list) else v for v in flt]
    if not isinstance(flt, Mapping):
        return flt
    out: dict[str, Any] = {}
    for key, value in flt.items():
        key = str(key)
        if key.lower() == "logic":
            out[key] = value
        elif key.isdigit() and isinstance(value, Mapping | list):
            out[key] = in_filter(names, value)
        else:
            name = split_key(key)[1]
            out[key[: len(key) - len(name)] + names.get(name, name)] = value
    return out


def in_keys(names: Names, mapping: Any) -> Any:
    """``order`` or ``fields`` with their keys renamed (anything that is not an object stays as it is)."""
    if not isinstance(mapping, Mapping):
        return mapping
    return {names.get(str(k), str(k)): v for k, v in mapping.items()}
