"""CRM items behind ``crm.item.*`` and ``crm.deal/contact/company.*``: types, stages, rights, rendering.

Items are stored camelCase (``parentId{N}`` for parents, ``fm`` for multifields, user fields under their
original ``UF_CRM_*`` names). api-reference/crm/universal/object-fields.md; crm-item-add.md; crm-item-update.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from b24sandbox import errors
from b24sandbox.auth import AuthContext
from b24sandbox.crm_fields import COMPANY, CONTACT, DEAL, SYSTEM_TYPES, Field, base_fields, uf_camel
from b24sandbox.errors import RestError
from b24sandbox.wire import PORTAL_TZ, as_int, date_iso, parse_date, truthy

if TYPE_CHECKING:
    from b24sandbox.portal import Portal


@dataclass
class TypeInfo:
    entity_type_id: int
    type: dict[str, Any] | None                       # crm.type document for smart processes
    fields: list[Field]
    parents: list[int]                                # parentId{N} fields this type's items carry
    userfields: list[dict[str, Any]]
    uf_entity_id: str
    field_map: dict[str, Field] = field(default_factory=dict)

    @property
    def is_dynamic(self) -> bool:
        return self.type is not None

    def enabled(self, f: Field) -> bool:
        return f.flag is None or self.type is None or self.type.get(f.flag) == "Y"

    def uf_name(self, uf: dict[str, Any], original: bool) -> str:
        return uf["fieldName"] if original else uf_camel(uf["fieldName"], self.uf_entity_id)


def dynamic_type(portal: Portal, entity_type_id: int) -> dict[str, Any] | None:
    rows = portal.store.docs("types", "entity_type_id = ?", [int(entity_type_id)])
    return rows[0] if rows else None


def all_types(portal: Portal) -> list[dict[str, Any]]:
    return portal.store.docs("types")


def type_info(portal: Portal, entity_type_id: Any) -> TypeInfo:
    """Everything about an entity type, or NOT_FOUND / ENTITY_TYPE_NOT_SUPPORTED (400)."""
    eti = as_int(entity_type_id)
    if eti is None:
        raise errors.required_param("entityTypeId")
    spa = None
    if eti in SYSTEM_TYPES:
        uf_entity_id = f"CRM_{SYSTEM_TYPES[eti]}"
    else:
        spa = dynamic_type(portal, eti)
        if spa is None:
            if eti in (1, 5, 7, 31):
                raise RestError("ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {eti} is not supported", 400)
            raise errors.not_found("SPA not found")
        uf_entity_id = f"CRM_{spa['id']}"
    parents: list[int] = []
    for other in all_types(portal):
        for rel in (other.get("relations") or {}).get("child") or []:
            if as_int(rel.get("entityTypeId")) == eti:
                parents.append(int(other["entityTypeId"]))
    if spa:
        for rel in (spa.get("relations") or {}).get("parent") or []:
            parent = as_int(rel.get("entityTypeId"))
            if parent and parent not in (CONTACT, COMPANY) and parent not in parents:
                parents.append(parent)
    ufs = portal.store.docs("userfields", "entity_id = ?", [uf_entity_id])
    ufs.sort(key=lambda u: (int(u.get("sort") or 100), int(u["id"])))
    info = TypeInfo(eti, spa, base_fields(eti), sorted(parents), ufs, uf_entity_id)
    info.field_map = {f.name: f for f in info.fields}
    return info


# stages --------------------------------------------------------------------------------------------
def stage_entity_id(eti: int, category_id: int) -> str:
    if eti == DEAL:
        return "DEAL_STAGE" if int(category_id) == 0 else f"DEAL_STAGE_{category_id}"
    return f"DYNAMIC_{eti}_STAGE_{category_id}"


def stages(portal: Portal, eti: int, category_id: int) -> list[dict[str, Any]]:
    rows = portal.store.docs("statuses", "entity_id = ?", [stage_entity_id(eti, category_id)])
    return sorted(rows, key=lambda s: (int(s["SORT"]), int(s["ID"])))


def semantics_map(portal: Portal) -> dict[str, str]:
    """stage id -> P/S/F (cached until a status changes)."""
    cache = getattr(portal, "_semantics", None)
    if cache is None:
        cache = {}
        for status in portal.store.docs("statuses"):
            if "_STAGE" in status["ENTITY_ID"]:
                cache[status["STATUS_ID"]] = status.get("SEMANTICS") or "P"
        portal._semantics = cache  # type: ignore[attr-defined]
    return cache


def invalidate_semantics(portal: Portal) -> None:
    portal._semantics = None  # type: ignore[attr-defined]


def categories(portal: Portal, eti: int) -> list[dict[str, Any]]:
    rows = portal.store.docs("categories", "entity_type_id = ?", [int(eti)])
    return sorted(rows, key=lambda c: (int(c["sort"]), int(c["id"])))


def default_category(portal: Portal, eti: int) -> int:
    cats = categories(portal, eti)
    for cat in cats:
        if cat.get("isDefault") == "Y":
            return int(cat["id"])
    return int(cats[0]["id"]) if cats else 0


# rights ------------------------------------------------------------------------------------------
def check_read_type(portal: Portal, ctx: AuthContext) -> str:
    access = portal.crm_access(ctx.user_id)
    if access == "none":
        raise errors.access_denied()
    return access


def can_see(portal: Portal, ctx: AuthContext, item: dict[str, Any], access: str | None = None) -> bool:
    access = access or portal.crm_access(ctx.user_id)
    if access in ("admin", "all"):
        return True
    return access == "own" and int(item.get("assignedById") or 0) == ctx.user_id


def require_crm_admin(portal: Portal, ctx: AuthContext) -> None:
    if portal.crm_access(ctx.user_id) != "admin":
        raise errors.access_denied()


# rendering ---------------------------------------------------------------------------------------
def render_value(f: Field, value: Any) -> Any:
    if f.multiple:
        return list(value or [])
    if value is None:
        if f.name in ("companyId", "contactId") or f.type == "double" and f.name == "opportunity":
            return 0 if f.type != "double" else 0.0
        return None
    if f.type in ("integer", "user", "crm_company", "crm_contact", "crm_lead", "crm_quote", "crm_category"):
        return as_int(value)
    if f.type == "double":
        return float(value)
    if f.type == "boolean":
        return "Y" if truthy(value) else "N"
    if f.type == "date":
        day = parse_date(value)
        return date_iso(day) if day else None
    return value


def uf_render(uf: dict[str, Any], value: Any) -> Any:
    if uf.get("multiple") == "Y":
        return [uf_scalar_render(uf, v) for v in (value or [])]
    return uf_scalar_render(uf, value)


def uf_scalar_render(uf: dict[str, Any], value: Any) -> Any:
    if value is None:
        return None
    kind = uf["userTypeId"]
    if kind == "double":
        return float(value)
    if kind in ("integer", "employee", "enumeration"):
        return as_int(value)
    if kind == "boolean":
        return "Y" if truthy(value) else "N"
    if kind == "date":
        day = parse_date(value)
        return date_iso(day) if day else None
    return value


def render(portal: Portal, info: TypeInfo, item: dict[str, Any], select: list[str] | None = None,
           original: bool = False, with_fm: bool = True) -> dict[str, Any]:
    """An item as ``crm.item.get/list`` return it."""
    wanted = _select_set(select)
    everything = wanted is None or "*" in wanted
    out: dict[str, Any] = {}
    sem = semantics_map(portal)
    for f in info.fields:
        if not everything and f.name not in wanted and f.name != "id":
            continue
        if f.name == "stageSemanticId":
            out[f.name] = sem.get(item.get("stageId") or "", "P")
            continue
        if not info.enabled(f):
            out[f.name] = None
            continue
        if f.name == "contactIds" and info.entity_type_id == COMPANY:
            out[f.name] = company_contact_ids(portal, int(item["id"]))
            continue
        out[f.name] = render_value(f, item.get(f.name))
    for parent in info.parents:
        name = f"parentId{parent}"
        if everything or name in wanted:
            out[name] = as_int(item.get(name)) or None
    for uf in info.userfields:
        name = info.uf_name(uf, original)
        if everything or name in wanted or uf["fieldName"] in wanted or (wanted and "UF_*" in wanted):
            out[name] = uf_render(uf, item.get(uf["fieldName"]))
    if info.entity_type_id in (CONTACT, COMPANY) and with_fm and (everything or "fm" in wanted):
        out["fm"] = [dict(m) for m in item.get("fm") or []]
    if everything or "entityTypeId" in (wanted or ()):
        out["entityTypeId"] = info.entity_type_id
    return out


def _select_set(select: Any) -> set[str] | None:
    if not select:
        return None
    if isinstance(select, dict):
        select = list(select.values())
    if isinstance(select, str):
        select = [select]
    return {str(s) for s in select}


def reader(portal: Portal, info: TypeInfo) -> Any:
    """``read(item, name)`` for filters and ordering (camelCase, UF names in both spellings, parents)."""
    uf_names = {}
    for uf in info.userfields:
        uf_names[uf["fieldName"].upper()] = uf
        uf_names[info.uf_name(uf, False).upper()] = uf
    sem = semantics_map(portal)

    def read(item: dict[str, Any], name: str) -> Any:
        if name == "stageSemanticId":
            return sem.get(item.get("stageId") or "", "P")
        if name == "entityTypeId":
            return info.entity_type_id
        if name == "contactIds" and info.entity_type_id == COMPANY:
            return company_contact_ids(portal, int(item["id"]))
        uf = uf_names.get(name.upper())
        if uf is not None:
            value = item.get(uf["fieldName"])
            if uf["userTypeId"] == "boolean" and value is not None:
                return 1 if truthy(value) else 0
            return value
        f = info.field_map.get(name)
        if f is not None and f.type == "date":
            day = parse_date(item.get(name)) if item.get(name) else None
            return day.isoformat() if day else None
        return item.get(name)

    return read


def company_contact_ids(portal: Portal, company_id: int) -> list[int]:
    return sorted(int(c["id"]) for c in portal.store.items(CONTACT).values()
                  if company_id in (c.get("companyIds") or []))


def today() -> date:
    """Today in the portal's time zone."""
    return datetime.now(PORTAL_TZ).date()


def default_dates() -> tuple[str, str]:
    start = today()
    return start.isoformat(), (start + timedelta(days=7)).isoformat()


def allowed_fields(info: TypeInfo) -> set[str]:
    """Field names crm.item.list accepts in ``filter`` and ``order`` (what crm.item.fields lists)."""
    names = {f.name for f in info.fields if info.enabled(f)}
    names |= {f"parentId{p}" for p in info.parents}
    for uf in info.userfields:
        names |= {uf["fieldName"], info.uf_name(uf, False)}
    return names


def _invalid_arg(text: str) -> RestError:
    return RestError("INVALID_ARG_VALUE", text, 400)


def check_filter(info: TypeInfo, flt: Any) -> None:
    """crm-item-list.md: an unknown field is ``Invalid filter: field 'X' is not allowed in filter``; a
    non-numeric value for a numeric field is ``... has invalid value``."""
    from b24sandbox.crm_fields import upper_of
    from b24sandbox.filters import split_key

    allowed = allowed_fields(info)
    entries = flt.items() if isinstance(flt, dict) else enumerate(flt) if isinstance(flt, list) else []
    for key, value in entries:
        key = str(key)
        if key.lower() == "logic":
            continue
        if key.isdigit() and isinstance(value, dict | list):
            check_filter(info, value)
            continue
        name = split_key(key)[1]
        if name not in allowed:
            raise _invalid_arg(f"Invalid filter: field '{upper_of(name)}' is not allowed in filter")
        f = info.field_map.get(name)
        if f is not None and f.type in ("integer", "double", "user", "crm_company", "crm_contact",
                                        "crm_category"):
            for v in value if isinstance(value, list) else [value]:
                if v not in (None, "", False) and as_int(v) is None:
                    raise _invalid_arg(f"Invalid filter: field '{f.upper}' has invalid value")


def check_order(info: TypeInfo, order: Any) -> None:
    from b24sandbox.crm_fields import upper_of

    if not isinstance(order, dict):
        return
    allowed = allowed_fields(info)
    for name, direction in order.items():
        if name not in allowed:
            raise _invalid_arg(f"Invalid order: field '{upper_of(str(name))}' is not allowed in order")
        if str(direction).upper() not in ("ASC", "DESC"):
            raise _invalid_arg(f"Invalid order: allowed sort directions are ASC, DESC. "
                               f"But got '{direction}' for field '{upper_of(str(name))}'")
