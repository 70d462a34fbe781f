"""Pipelines (categories) and stage directories (crm.status entries).

api-reference/crm/status/*.md: ``DEAL_STAGE`` / ``DEAL_STAGE_{cat}`` with ids ``C{cat}:CODE``;
smart processes ``DYNAMIC_{eti}_STAGE_{cat}`` with ids ``DT{eti}_{cat}:CODE``. A new smart-process pipeline
gets NEW, PREPARATION, CLIENT (in progress), SUCCESS (S) and FAIL (F) (crm-category-add.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24sandbox.crm_fields import DEAL
from b24sandbox.crm_model import invalidate_semantics, stage_entity_id

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

EXTRA_SEMANTICS = {None: "process", "S": "success", "F": "failure"}

DEAL_STAGES = [  # code, Spanish name, semantics, colour, system
    ("NEW", "Nueva", None, "#39A8EF", "Y"),
    ("PREPARATION", "Preparación de documentos", None, "#2FC6F6", "N"),
    ("PREPAYMENT_INVOICE", "Factura de prepago", None, "#55D0E0", "N"),
    ("EXECUTING", "En progreso", None, "#47E4C2", "N"),
    ("FINAL_INVOICE", "Factura final", None, "#FFA900", "N"),
    ("WON", "Negociación ganada", "S", "#7BD500", "Y"),
    ("LOSE", "Negociación perdida", "F", "#FF5752", "Y"),
    ("APOLOGY", "Análisis del fracaso", "F", "#FF5752", "N"),
]
DYNAMIC_STAGES = [
    ("NEW", "Inicio", None, "#22B9FF", "Y"),
    ("PREPARATION", "Preparación", None, "#FFA900", "N"),
    ("CLIENT", "Con el cliente", None, "#47E4C2", "N"),
    ("SUCCESS", "Éxito", "S", "#7BD500", "Y"),
    ("FAIL", "Fallido", "F", "#FF5752", "Y"),
]


def add_status(portal: Portal, entity_id: str, status_id: str, name: str, sort: int,
               semantics: str | None = None, color: str | None = None, system: str = "N",
               category_id: int | None = None, extra_semantics: str | None = None) -> dict[str, Any]:
    new_id = portal.store.next_id("status")
    status = {
        "ID": str(new_id), "ENTITY_ID": entity_id, "STATUS_ID": status_id, "NAME": name, "NAME_INIT": name,
        "SORT": str(sort), "SYSTEM": system,
        "CATEGORY_ID": None if category_id is None else str(category_id),
        "COLOR": color, "SEMANTICS": semantics or None,
        "EXTRA": {"SEMANTICS": extra_semantics or EXTRA_SEMANTICS.get(semantics or None, "process"),
                  "COLOR": color},
    }
    portal.store.put("statuses", {"id": new_id, "entity_id": entity_id, "status_id": status_id}, status)
    invalidate_semantics(portal)
    return status


def stage_id(eti: int, category_id: int, code: str) -> str:
    if eti == DEAL:
        return code if int(category_id) == 0 else f"C{category_id}:{code}"
    return f"DT{eti}_{category_id}:{code}"


def create_category(portal: Portal, eti: int, name: str, sort: int = 500, is_default: bool = False,
                    category_id: int | None = None, stages: list[tuple[Any, ...]] | None = None
                    ) -> dict[str, Any]:
    """A pipeline with its standard stage directory."""
    if category_id is None:
        category_id = portal.store.next_id("category")
    category = {"id": category_id, "name": name, "sort": sort, "entityTypeId": eti,
                "isDefault": "Y" if is_default else "N"}
    portal.store.put("categories", {"id": category_id, "entity_type_id": eti}, category)
    entity_id = stage_entity_id(eti, category_id)
    template = stages or (DEAL_STAGES if eti == DEAL else DYNAMIC_STAGES)
    for index, (code, title, semantics, color, system) in enumerate(template):
        extra = "apology" if code == "APOLOGY" else None
        add_status(portal, entity_id, stage_id(eti, category_id, code), title, (index + 1) * 10, semantics,
                   color, system, None if eti == DEAL and category_id == 0 else category_id, extra)
    return category


def delete_pipelines(portal: Portal, eti: int) -> None:
    for category in portal.store.docs("categories", "entity_type_id = ?", [eti]):
        portal.store.db["statuses"].delete_where("entity_id = ?", [stage_entity_id(eti, int(category["id"]))])
        portal.store.delete("categories", category["id"])
    invalidate_semantics(portal)
