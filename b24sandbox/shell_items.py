"""The sandbox shell's smart-process pages: ``/crm/type/{entityTypeId}/list/`` and
``/crm/type/{entityTypeId}/details/{id}/`` (Bitrix24's own item list and card, where people edit plans).

Reads and writes use ``crm.item.*`` as the acting person (api-reference/crm/universal/crm-item-update.md),
so an edit here fires ONCRMDYNAMICITEMUPDATE exactly as an edit in Bitrix24's card does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, request

from b24sandbox.shell import placement_tabs, render, rest
from b24sandbox.shell_crm import PAGE, _names, _pager, _start, money
from b24sandbox.shell_i18n import label

bp = Blueprint("sandbox_items", __name__)

EDITABLE_TYPES = {"string", "double", "integer", "boolean", "date", "text", "money"}
STANDARD_EDITABLE = ("title", "opportunity", "currencyId", "stageId", "begindate", "closedate")


def _type(entity_type_id: int) -> dict[str, Any]:
    return rest("crm.type.getByEntityTypeId", {"entityTypeId": entity_type_id}, user_id=1)["result"]["type"]


def item_stages(entity_type_id: int, category_id: Any) -> list[dict[str, Any]]:
    """A smart process pipeline's stages: ``crm.status.list`` with ENTITY_ID DYNAMIC_{type}_STAGE_{category}."""
    entity = f"DYNAMIC_{entity_type_id}_STAGE_{category_id}"
    return rest("crm.status.list", {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": entity}}).get("result") or []


def _fields(entity_type_id: int) -> dict[str, dict[str, Any]]:
    return rest("crm.item.fields", {"entityTypeId": entity_type_id}).get("result", {}).get("fields", {})


def user_fields(fields: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The type's user fields (``ufCrm...``) in the order the portal lists them."""
    return [(name, meta) for name, meta in fields.items() if name.startswith("ufCrm")]


def changed_values(item: dict[str, Any], form: dict[str, str], editable: list[str],
                   fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Only the fields the person changed (Bitrix24's card saves what was edited)."""
    out: dict[str, Any] = {}
    for name in editable:
        if name not in form:
            continue
        new = form[name].strip()
        old = item.get(name)
        kind = (fields.get(name) or {}).get("type")
        if kind in ("double", "money", "integer") and new != "":
            try:
                if old is not None and old != "" and float(new.replace(",", ".")) == float(old):
                    continue
            except ValueError:
                pass
            new = new.replace(",", ".")
        elif kind == "boolean":
            new = "Y" if new in ("Y", "1", "true", "on") else "N"
            if old in (True, "Y", "1", 1) and new == "Y" or old in (False, "N", "0", 0, None) and new == "N":
                continue
        elif str(old if old is not None else "") == new:
            continue
        out[name] = new
    return out


@bp.route("/crm/type/<int:entity_type_id>/list/")
def item_list(entity_type_id: int) -> str:
    spa = _type(entity_type_id)
    fields = _fields(entity_type_id)
    ufs = [(n, m) for n, m in user_fields(fields) if m.get("type") in ("double", "integer", "string")][:4]
    body = rest("crm.item.list", {"entityTypeId": entity_type_id, "order": {"id": "DESC"}, "start": _start()})
    items = body.get("result", {}).get("items", [])
    stage_names: dict[str, str] = {}
    for category in {str(i.get("categoryId")) for i in items}:
        for stage in item_stages(entity_type_id, category):
            stage_names[stage["STATUS_ID"]] = stage["NAME"]
    return render("shell/item_list.html", section=f"type{entity_type_id}", spa=spa, items=items, ufs=ufs,
                  stage_names=stage_names, money=money, pager=_pager(body), page_size=PAGE)


@bp.route("/crm/type/<int:entity_type_id>/details/<int:item_id>/", methods=["GET", "POST"])
def item_card(entity_type_id: int, item_id: int) -> Any:
    fields = _fields(entity_type_id)
    item = rest("crm.item.get", {"entityTypeId": entity_type_id, "id": item_id})["result"]["item"]
    editable = [n for n in STANDARD_EDITABLE if n in fields and not fields[n].get("isReadOnly")]
    editable += [n for n, m in user_fields(fields) if not m.get("isReadOnly") and not m.get("isMultiple")
                 and m.get("type") in EDITABLE_TYPES]
    if request.method == "POST":
        changes = changed_values(item, request.form.to_dict(), editable, fields)
        if changes:
            rest("crm.item.update", {"entityTypeId": entity_type_id, "id": item_id, "fields": changes})
        flash(label("saved", g.shell_lang))
        return redirect(f"/crm/type/{entity_type_id}/details/{item_id}/" + ("?IFRAME=Y" if g.shell_iframe else ""))
    spa = _type(entity_type_id)
    currencies = rest("crm.currency.list", {}).get("result") or []
    code = f"CRM_DYNAMIC_{entity_type_id}_DETAIL_TAB"
    tabs = placement_tabs(code, item_id, f"/crm/type/{entity_type_id}/details/{item_id}/")
    company = _names("crm.company.list", {item.get("companyId")}, ("TITLE",))
    contact = _names("crm.contact.list", {item.get("contactId")}, ("NAME", "LAST_NAME"))
    return render("shell/item_card.html", section=f"type{entity_type_id}", spa=spa, item=item, fields=fields,
                  company=company, contact=contact,
                  ufs=user_fields(fields), editable=set(editable), currencies=currencies, tabs=tabs,
                  stages=item_stages(entity_type_id, item.get("categoryId")), money=money)
