"""The plan's schema in one place: CRM entity type ids, the plan's fields and the deal's link to its plan.

A plan is an item of the app's smart process; its computed figures and the probability are user fields
``UF_CRM_{typeId}_{SUFFIX}`` (``app.yaml`` ``smart_process.fields``), whose REST (camelCase) names the
installer reads from ``crm.item.fields`` into ``Installation.field_map`` (suffix -> name). A deal points at
its plan through ``parentId{plansEntityTypeId}`` (api-reference/crm/universal/crm-item-list.md).

Pure: recompute, reconcile, the plan math and the frames all take their field names from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

DEAL = 2  # CRM entity type ids (api-reference/crm/data-types.md#object_type)
CONTACT = 3
COMPANY = 4

PROBABILITY_SUFFIX = "PROBABILITY"
#: manifest suffix of each computed figure (app.yaml smart_process.fields), by the figure's name
FIGURE_SUFFIXES = {"won": "EXECUTED", "remainder": "REMAINDER", "execution": "EXECUTION", "probable": "PROBABLE"}
#: the plan series' fields (b24app/series.py), by our key; RECURRENCE and CARRYOVER are list fields
SERIES_SUFFIXES = {"recurrence": "RECURRENCE", "growth": "GROWTH", "carryover": "CARRYOVER", "cap": "CARRYCAP",
                   "carried": "CARRIED", "predecessor": "PREDECESSOR", "successor": "SUCCESSOR"}
FORECAST_SUFFIX = "FORECAST"  # the expected finish (b24app/forecast.py), a double in the plan currency
RISK_SUFFIX = "RISK"  # at risk, a boolean (Y/N)
#: the forecast's user fields, by our key
FORECAST_SUFFIXES = {"forecast": FORECAST_SUFFIX, "at_risk": RISK_SUFFIX}
#: every user field the app reads, by our key
UF_SUFFIXES = {"probability": PROBABILITY_SUFFIX, **FIGURE_SUFFIXES, **SERIES_SUFFIXES,
               **FORECAST_SUFFIXES}

#: native plan fields a plan row needs (crm.item camelCase names)
PLAN_FIELDS = ("id", "title", "companyId", "contactId", "begindate", "closedate", "assignedById",
               "opportunity", "currencyId", "stageId")
#: native plan fields the plan math needs
FIGURE_PLAN_FIELDS = ("id", "title", "opportunity", "currencyId", "begindate", "closedate", "stageId",
                      "assignedById")  # the responsible: whom the alerts go to
#: the deal fields the frames show
DEAL_CARD_FIELDS = ("id", "title", "opportunity", "currencyId", "stageId", "stageSemanticId", "companyId",
                    "contactId", "assignedById", "closedate", "movedTime")
#: when a deal was won: the moment of its last stage move, for a deal in a success stage (ARCHITECTURE.md F12)
WON_AT_FIELD = "movedTime"


def stage_directory(entity_type_id: int | None, category_id: int | None) -> str:
    """The ``ENTITY_ID`` of a smart-process pipeline's stages in crm.status.list: ``DYNAMIC_1030_STAGE_5``
    (api-reference/crm/status/crm-status-list.md)."""
    return f"DYNAMIC_{int(entity_type_id or 0)}_STAGE_{int(category_id or 0)}"


def parent_field(plans_entity_type_id: int | None) -> str:
    """The deal's link to its plan in crm.item notation: ``parentId1030``."""
    return f"parentId{int(plans_entity_type_id or 0)}"


class Provisioned(Protocol):
    """What an installation knows of the portal's smart process (``b24app.installations.Installation``)."""

    @property
    def entity_type_id(self) -> int | None: ...
    @property
    def field_map(self) -> dict[str, str]: ...
    @property
    def stage_map(self) -> dict[str, str]: ...
    @property
    def is_provisioned(self) -> bool: ...


@dataclass(frozen=True)
class PlanSchema:
    """Where one portal keeps plans: the smart process' entityTypeId, user-field names and stage ids."""

    entity_type_id: int
    fields: Mapping[str, str]  # our key (probability, won, ...) -> REST camelCase name
    stages: Mapping[str, str]  # semantics P/S/F -> stage id
    #: list-field suffix -> XML id -> the portal's item id (``Installation.enum_map``)
    enums: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, inst: Provisioned) -> PlanSchema:
        if not inst.is_provisioned:
            raise ValueError("the installation has no smart process yet")
        names = {key: inst.field_map[suffix] for key, suffix in UF_SUFFIXES.items() if suffix in inst.field_map}
        enums: Mapping[str, Mapping[str, int]] = getattr(inst, "enum_map", None) or {}
        return cls(int(inst.entity_type_id or 0), names, dict(inst.stage_map), dict(enums))

    @property
    def has_series(self) -> bool:
        """Whether the portal has the series fields (provisioned by this version of the app)."""
        return all(key in self.fields for key in SERIES_SUFFIXES) and "RECURRENCE" in self.enums

    def enum_id(self, key: str, xml_id: str) -> int | None:
        """The portal's item id of a list field's value (``recurrence``/``carryover``, ``MONTHLY``)."""
        return (self.enums.get(SERIES_SUFFIXES[key]) or {}).get(xml_id)

    @property
    def parent_field(self) -> str:
        """The deal field that points at a plan of this portal."""
        return parent_field(self.entity_type_id)

    def semantics(self, stage_id: str | None) -> str:
        for sem, sid in self.stages.items():
            if sid == stage_id:
                return sem
        return "P"

    def select(self) -> list[str]:
        """A plan row as the frames show it."""
        return [*PLAN_FIELDS, *self.fields.values()]

    def totals_select(self) -> list[str]:
        """The few fields the totals, the roll-up and the sorts by name need."""
        return ["id", "title", "companyId", "contactId", "assignedById", "opportunity", "currencyId",
                *(self.fields[k] for k in ("probability", "won", "remainder", "probable", "forecast", "at_risk")
                  if k in self.fields)]


def figures_select(inst: Provisioned) -> list[str]:
    """The plan fields recompute and reconcile read: the native ones the math needs, probability, figures."""
    names = [inst.field_map[s] for s in (PROBABILITY_SUFFIX, *FIGURE_SUFFIXES.values(), *FORECAST_SUFFIXES.values())
             if s in inst.field_map]
    return [*FIGURE_PLAN_FIELDS, *names]


def deal_select(inst: Provisioned) -> list[str]:
    """The deal fields recompute and reconcile read."""
    return ["id", "opportunity", "currencyId", "stageSemanticId", WON_AT_FIELD, parent_field(inst.entity_type_id),
            "categoryId", "probability"]
