"""The sandbox shell's CRM pages at Bitrix24's paths: lists and cards of deals, companies, contacts and
smart-process items, with the installed apps' tabs.

Every read and write goes through the portal's own REST (`shell.rest`, as the acting person), so an edit
here fires the same events as an edit in Bitrix24 (api-reference/crm/deals/events/on-crm-deal-update.md).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, request

from b24sandbox.shell import placement_tabs, render, rest
from b24sandbox.shell_i18n import label

bp = Blueprint("sandbox_crm", __name__)

PAGE = 50
DEAL_SELECT = ["ID", "TITLE", "STAGE_ID", "CATEGORY_ID", "OPPORTUNITY", "CURRENCY_ID", "COMPANY_ID",
               "CONTACT_ID", "ASSIGNED_BY_ID"]


def money(value: Any) -> str:
    try:
        return f"{Decimal(str(value or 0)):,.2f}"
    except InvalidOperation:
        return str(value)


def _start() -> int:
    page = request.args.get("page", "1")
    return (int(page) - 1) * PAGE if page.isdigit() and int(page) > 0 else 0


def _names(method: str, ids: set[Any], fields: tuple[str, ...]) -> dict[str, str]:
    """``{id: display name}`` for companies or contacts, in one list call."""
    ids = {str(i) for i in ids if i and str(i) != "0"}
    if not ids:
        return {}
    rows = rest(method, {"filter": {"@ID": sorted(ids)}, "select": ["ID", *fields]}).get("result") or []
    return {str(r["ID"]): " ".join(str(r.get(f) or "") for f in fields).strip() for r in rows}


def _user_names() -> dict[str, str]:
    users = rest("user.get", {}, user_id=1).get("result") or []
    return {str(u["ID"]): f"{u.get('NAME', '')} {u.get('LAST_NAME', '')}".strip() for u in users}


def deal_stages(category_id: Any) -> list[dict[str, Any]]:
    """A deal pipeline's stages (api-reference/crm/status/crm-status-list.md: DEAL_STAGE, DEAL_STAGE_{id})."""
    entity = "DEAL_STAGE" if str(category_id or "0") == "0" else f"DEAL_STAGE_{category_id}"
    return rest("crm.status.list", {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": entity}}).get("result") or []


def _categories(entity_type_id: int) -> dict[str, str]:
    rows = rest("crm.category.list", {"entityTypeId": entity_type_id}).get("result", {}).get("categories", [])
    return {str(c["id"]): c.get("name", "") for c in rows}


def _pager(body: dict[str, Any]) -> dict[str, Any]:
    start = _start()
    page = start // PAGE + 1
    return {"page": page, "total": body.get("total"), "has_next": "next" in body, "has_prev": page > 1}


# --------------------------------------------------------------------------- deals

@bp.route("/crm/deal/list/", methods=["GET", "POST"])
@bp.route("/crm/deal/category/<int:category_id>/", methods=["GET", "POST"])
def deal_list(category_id: int | None = None) -> Any:
    """All deals, or one pipeline's (Bitrix24's ``/crm/deal/category/{id}/``), newest first."""
    if request.method == "POST":
        return _change_stage()
    query: dict[str, Any] = {"order": {"ID": "DESC"}, "select": DEAL_SELECT, "start": _start()}
    if category_id is not None:
        query["filter"] = {"CATEGORY_ID": category_id}
    body = rest("crm.deal.list", query)
    deals = body.get("result") or []
    stages = {cat: deal_stages(cat) for cat in {str(d.get("CATEGORY_ID") or "0") for d in deals}}
    companies = _names("crm.company.list", {d.get("COMPANY_ID") for d in deals}, ("TITLE",))
    return render("shell/deal_list.html", section="deal", deals=deals, stages=stages, companies=companies,
                  user_names=_user_names(), money=money, pager=_pager(body), categories=_categories(2),
                  category_id=category_id)


def _change_stage() -> Response:
    """The list's inline stage select: ``crm.deal.update`` as the acting person."""
    deal_id = request.form.get("id", "")
    stage = request.form.get("STAGE_ID", "")
    rest("crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": stage}})
    flash(f"{label('saved', g.shell_lang)}: #{deal_id}")
    back = request.form.get("back") or "/crm/deal/list/"
    return redirect(back if back.startswith("/crm/deal/") else "/crm/deal/list/")


@bp.route("/crm/deal/details/<int:deal_id>/", methods=["GET", "POST"])
def deal_card(deal_id: int) -> Any:
    if request.method == "POST":
        fields = {k: request.form[k] for k in ("TITLE", "STAGE_ID", "OPPORTUNITY", "CURRENCY_ID")
                  if k in request.form}
        rest("crm.deal.update", {"id": deal_id, "fields": fields})
        flash(label("saved", g.shell_lang))
        return redirect(f"/crm/deal/details/{deal_id}/" + ("?IFRAME=Y" if g.shell_iframe else ""))
    deal = rest("crm.deal.get", {"id": deal_id})["result"]
    company = _names("crm.company.list", {deal.get("COMPANY_ID")}, ("TITLE",))
    contact = _names("crm.contact.list", {deal.get("CONTACT_ID")}, ("NAME", "LAST_NAME"))
    currencies = rest("crm.currency.list", {}).get("result") or []
    tabs = placement_tabs("CRM_DEAL_DETAIL_TAB", deal_id, f"/crm/deal/details/{deal_id}/")
    return render("shell/deal_card.html", section="deal", deal=deal, stages=deal_stages(deal.get("CATEGORY_ID")),
                  company=company, contact=contact, currencies=currencies, tabs=tabs, money=money,
                  pipeline=_categories(2).get(str(deal.get("CATEGORY_ID") or "0"), ""),
                  user_names=_user_names())


# --------------------------------------------------------------------------- companies and contacts

@bp.route("/crm/company/list/")
def company_list() -> str:
    body = rest("crm.company.list", {"order": {"ID": "DESC"}, "select": ["ID", "TITLE", "PHONE", "EMAIL",
                                                                         "ASSIGNED_BY_ID"], "start": _start()})
    return render("shell/client_list.html", section="company", kind="company", rows=body.get("result") or [],
                  pager=_pager(body), user_names=_user_names())


@bp.route("/crm/contact/list/")
def contact_list() -> str:
    body = rest("crm.contact.list", {"order": {"ID": "DESC"}, "select": ["ID", "NAME", "LAST_NAME", "PHONE",
                                                                         "EMAIL", "ASSIGNED_BY_ID"],
                                     "start": _start()})
    return render("shell/client_list.html", section="contact", kind="contact", rows=body.get("result") or [],
                  pager=_pager(body), user_names=_user_names())


@bp.route("/company/personal/user/<int:user_id>/")
def user_profile(user_id: int) -> str | tuple[str, int]:
    """An employee's profile page, where Bitrix24 links a responsible's name (``/company/personal/user/ID/``)."""
    found = rest("user.get", {"ID": user_id}).get("result") or []
    if not found:
        return render("shell/message.html", heading=f"#{user_id}", message="404"), 404
    return render("shell/user_profile.html", person=found[0])


@bp.route("/crm/company/details/<int:company_id>/")
def company_card(company_id: int) -> str:
    company = rest("crm.company.get", {"id": company_id})["result"]
    contacts = rest("crm.contact.list", {"filter": {"COMPANY_ID": company_id},
                                         "select": ["ID", "NAME", "LAST_NAME"]}).get("result") or []
    tabs = placement_tabs("CRM_COMPANY_DETAIL_TAB", company_id, f"/crm/company/details/{company_id}/")
    return render("shell/client_card.html", section="company", kind="company", entity=company, tabs=tabs,
                  contacts=contacts, company={}, user_names=_user_names(), money=money,
                  deals=_client_deals("COMPANY_ID", company_id))


@bp.route("/crm/contact/details/<int:contact_id>/")
def contact_card(contact_id: int) -> str:
    contact = rest("crm.contact.get", {"id": contact_id})["result"]
    company = _names("crm.company.list", {contact.get("COMPANY_ID")}, ("TITLE",))
    tabs = placement_tabs("CRM_CONTACT_DETAIL_TAB", contact_id, f"/crm/contact/details/{contact_id}/")
    return render("shell/client_card.html", section="contact", kind="contact", entity=contact, tabs=tabs,
                  contacts=[], company=company, user_names=_user_names(), money=money,
                  deals=_client_deals("CONTACT_ID", contact_id))


def _client_deals(key: str, client_id: int) -> list[dict[str, Any]]:
    """The client's deals the person may see (the card's deal list), newest first."""
    return rest("crm.deal.list", {"order": {"ID": "DESC"}, "filter": {key: client_id},
                                  "select": ["ID", "TITLE", "STAGE_ID", "OPPORTUNITY", "CURRENCY_ID"]}
                ).get("result") or []
