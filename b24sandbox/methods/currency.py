"""crm.currency.list/get/base.get/add/update/delete (api-reference/crm/currency/*.md).

Numbers are strings; AMOUNT is the rate to the base currency per AMOUNT_CNT units. The list carries the formats
of the portal's language (``LID``, FORMAT_STRING, DEC_POINT, THOUSANDS_SEP, DECIMALS); get adds ``LANG``, every
language's (also THOUSANDS_VARIANT and HIDE_ZERO). Changes fire ONCRMCURRENCYADD/UPDATE/DELETE with
``data[FIELDS][ID]`` = the code.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from b24sandbox import errors
from b24sandbox.auth import AuthContext
from b24sandbox.crm_model import require_crm_admin
from b24sandbox.errors import RestError
from b24sandbox.methods import method, param
from b24sandbox.seed import LANG_FIELDS, currency_doc, currency_langs, flat_from_lang
from b24sandbox.wire import as_map, now_iso

if TYPE_CHECKING:
    from b24sandbox.portal import Portal


def _read_check(portal: Portal, ctx: AuthContext) -> None:
    if portal.crm_access(ctx.user_id) == "none":
        raise errors.access_denied("Access denied.")


def _rate(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):.4f}"
    except InvalidOperation as exc:
        raise RestError("", "Invalid AMOUNT", 400) from exc


def _langs(langs: dict[str, dict[str, Any]], fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``langs`` with the ``fields[LANG]`` entries given (per language, only the keys sent) written over."""
    given = fields.get("LANG")
    out = {lang: dict(entry) for lang, entry in langs.items()}
    for lang, entry in (given.items() if isinstance(given, dict) else []):
        if isinstance(entry, dict):
            target = out.setdefault(str(lang).lower(), {key: "" for key in LANG_FIELDS})
            target.update({str(k).upper(): (None if v is None else str(v)) for k, v in entry.items()
                           if str(k).upper() in LANG_FIELDS})
    return out


@method("crm.currency.list", scope="crm")
def currency_list(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    _read_check(portal, ctx)
    rows = [{k: v for k, v in doc.items() if k != "LANG"} for doc in portal.store.docs("currencies")]
    order = as_map(param(params, "order", "ORDER")) or {"SORT": "asc"}
    for key, direction in reversed(list(order.items())):
        key = str(key).upper()
        numeric = key in ("SORT", "AMOUNT", "AMOUNT_CNT", "DECIMALS")
        rows.sort(key=lambda c, k=key, n=numeric: float(c.get(k) or 0) if n else str(c.get(k) or ""),
                  reverse=str(direction).lower() == "desc")
    return rows


@method("crm.currency.get", scope="crm")
def currency_get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    _read_check(portal, ctx)
    code = str(param(params, "id", "ID", default="") or "").upper()
    doc = portal.store.doc("currencies", code)
    if doc is None:
        raise RestError("", "Currency is not found.", 400)
    return {**doc, "LANG": doc.get("LANG") or currency_langs(code, str(doc.get("FULL_NAME") or code))}


@method("crm.currency.base.get", scope="crm")
def base_get(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    return portal.store.meta("base_currency") or "USD"


@method("crm.currency.add", scope="crm")
def currency_add(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    fields = {str(k).upper(): v for k, v in as_map(param(params, "fields", "FIELDS")).items()}
    code = str(fields.get("CURRENCY") or "").upper()
    if len(code) != 3 or portal.store.doc("currencies", code) is not None:
        raise RestError("", "Currency is invalid or already exists.", 400)
    name = str(fields.get("FULL_NAME") or code)
    doc = currency_doc(code, _rate(fields.get("AMOUNT", 1)), str(fields.get("AMOUNT_CNT", 1)),
                       int(fields.get("SORT", 500)), name, False, _langs(currency_langs(code, name), fields))
    portal.store.put("currencies", {"code": code}, doc)
    portal.fire(ctx, "ONCRMCURRENCYADD", {"ID": code})
    return code


@method("crm.currency.update", scope="crm")
def currency_update(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    code = str(param(params, "id", "ID", default="") or "").upper()
    doc = portal.store.doc("currencies", code)
    if doc is None:
        raise RestError("", "Currency is not found.", 400)
    fields = {str(k).upper(): v for k, v in as_map(param(params, "fields", "FIELDS")).items()}
    before = dict(doc)
    if "AMOUNT" in fields:
        doc["AMOUNT"] = _rate(fields["AMOUNT"])
    for key in ("AMOUNT_CNT", "SORT"):
        if key in fields:
            doc[key] = str(fields[key])
    if "LANG" in fields and isinstance(fields["LANG"], dict):
        doc["LANG"] = _langs(doc.get("LANG") or currency_langs(code, str(doc.get("FULL_NAME") or code)), fields)
        flat_from_lang(doc)
    if doc != before:
        doc["DATE_UPDATE"] = now_iso()
        portal.store.put("currencies", {"code": code}, doc)
        portal.fire(ctx, "ONCRMCURRENCYUPDATE", {"ID": code})
    return True


@method("crm.currency.delete", scope="crm")
def currency_delete(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    require_crm_admin(portal, ctx)
    code = str(param(params, "id", "ID", default="") or "").upper()
    doc = portal.store.doc("currencies", code)
    if doc is None or doc.get("BASE") == "Y":
        raise RestError("", "Currency is not found or is the base currency.", 400)
    portal.store.delete("currencies", code)
    portal.fire(ctx, "ONCRMCURRENCYDELETE", {"ID": code})
    return True
