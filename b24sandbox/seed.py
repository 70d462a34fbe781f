"""What a new portal holds, and the demo data of a Spanish-speaking sales company (``--seed demo``)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from b24sandbox import pipelines
from b24sandbox.auth import ALL_SCOPES, UserSession
from b24sandbox.crm_fields import COMPANY, CONTACT, DEAL
from b24sandbox.wire import now_iso

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

USERS = [  # id, name, last name, position, admin, CRM access, gender
    (1, "Ana", "García", "Directora general", True, "admin", "F"),
    (2, "Luis", "Fernández", "Gerente de ventas", False, "all", "M"),
    (3, "María", "López", "Ejecutiva de cuentas", False, "own", "F"),
    (4, "Jorge", "Ramírez", "Ejecutivo de cuentas", False, "own", "M"),
    (5, "Sofía", "Torres", "Contadora", False, "none", "F"),
]

CURRENCIES = [  # code, rate to base, nominal, sort, Spanish name
    ("USD", "1.0000", "1", 100, "Dólar estadounidense"),
    ("EUR", "1.0800", "1", 200, "Euro"),
    ("MXN", "0.0580", "1", 300, "Peso mexicano"),
    ("RUB", "0.0110", "1", 400, "Rublo ruso"),
]
NAMES = {"en": {"USD": "US Dollar", "EUR": "Euro", "MXN": "Mexican Peso", "RUB": "Russian Ruble"},
         "ru": {"USD": "Доллар США", "EUR": "Евро", "MXN": "Мексиканское песо", "RUB": "Российский рубль"}}
# FORMAT_STRING per language (HTML entities, as Bitrix24 stores them): Spanish and Russian write the amount
# first, English the symbol first; the thousands and decimal marks below (THOUSANDS_VARIANT D dot, C comma,
# B no-break space)
FORMATS = {
    "la": {"USD": "#&nbsp;US$", "EUR": "#&nbsp;€", "MXN": "#&nbsp;MXN", "RUB": "#&nbsp;RUB"},
    "en": {"USD": "$#", "EUR": "€#", "MXN": "MX$#", "RUB": "&#8381;#"},
    "ru": {"USD": "#&nbsp;$", "EUR": "#&nbsp;€", "MXN": "#&nbsp;MX$", "RUB": "#&nbsp;&#8381;"},
}
MARKS = {"la": (",", "D", "."), "en": (".", "C", ","), "ru": (",", "B", "&nbsp;")}  # DEC_POINT, variant, sep
PORTAL_LANG = "la"  # the portal's own language: crm.currency.list returns its formats (LID)
LANG_FIELDS = ("FORMAT_STRING", "FULL_NAME", "DEC_POINT", "THOUSANDS_SEP", "DECIMALS", "THOUSANDS_VARIANT",
               "HIDE_ZERO")


def currency_langs(code: str, name: str) -> dict[str, dict[str, Any]]:
    """A currency's localizations (crm.currency.get ``LANG``) for la, en and ru."""
    out = {}
    for lang, (point, variant, sep) in MARKS.items():
        fmt = FORMATS[lang].get(code) or (f"{code}#" if lang == "en" else f"#&nbsp;{code}")
        full = name if lang == PORTAL_LANG else NAMES[lang].get(code, name)
        out[lang] = {"FORMAT_STRING": fmt, "FULL_NAME": full, "DEC_POINT": point, "THOUSANDS_SEP": sep,
                     "DECIMALS": "2", "THOUSANDS_VARIANT": variant, "HIDE_ZERO": "N"}
    return out


def currency_doc(code: str, amount: str, amount_cnt: str, sort: int, name: str, base: bool,
                 langs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A currency as stored: crm.currency.list's fields (the portal language's format flat, ``LID``) and
    ``LANG``, which only crm.currency.get returns."""
    langs = langs or currency_langs(code, name)
    own = langs[PORTAL_LANG]
    return {"CURRENCY": code, "AMOUNT_CNT": str(amount_cnt), "AMOUNT": amount, "SORT": str(sort),
            "BASE": "Y" if base else "N", "FULL_NAME": own["FULL_NAME"], "LID": PORTAL_LANG,
            "FORMAT_STRING": own["FORMAT_STRING"], "DEC_POINT": own["DEC_POINT"],
            "THOUSANDS_SEP": own["THOUSANDS_SEP"], "DECIMALS": own["DECIMALS"], "DATE_UPDATE": now_iso(),
            "LANG": langs}


def flat_from_lang(doc: dict[str, Any]) -> None:
    """After ``LANG`` changed: the list's fields follow the portal language's entry."""
    own = (doc.get("LANG") or {}).get(PORTAL_LANG) or {}
    for key in ("FULL_NAME", "FORMAT_STRING", "DEC_POINT", "THOUSANDS_SEP", "DECIMALS"):
        if key in own:
            doc[key] = own[key]


def base(portal: Portal) -> None:
    """An empty portal: member_id, users, currencies, the standard deal pipeline, the open webhook."""
    store = portal.store
    store.new_member_id()
    store.set_meta("base_currency", "USD")
    for uid, name, last, post, admin, access, gender in USERS:
        store.put("users", {"id": uid}, {
            "ID": str(uid), "XML_ID": f"sandbox-{uid}", "ACTIVE": True, "NAME": name, "LAST_NAME": last,
            "SECOND_NAME": "", "EMAIL": f"{name.lower()}.{_ascii(last)}@ventas-sandbox.mx",
            "PERSONAL_GENDER": gender, "PERSONAL_PHOTO": "", "WORK_POSITION": post, "UF_DEPARTMENT": [1],
            "TIME_ZONE": "Europe/Madrid", "LANGUAGE_ID": "la", "IS_ONLINE": "N", "USER_TYPE": "employee",
            "DATE_REGISTER": now_iso(), "ADMIN": admin, "CRM_ACCESS": access,
        })
    for code, amount, cnt, sort, name in CURRENCIES:
        store.put("currencies", {"code": code}, currency_doc(code, amount, cnt, sort, name, code == "USD"))
    pipelines.create_category(portal, DEAL, "General", sort=300, is_default=True, category_id=0)
    store.db["webhooks"].upsert({"user_id": 1, "code": "sandbox", "scopes": ",".join(sorted(ALL_SCOPES))},
                                pk=("user_id", "code"))


def _ascii(text: str) -> str:
    return text.lower().translate(str.maketrans("áéíóúñü", "aeiounu"))


COMPANIES = [
    ("Investigaciones Andinas S.A.", "Investigación de mercados", "+52 55 5012 3401", "contacto@andinas.mx", 3),
    ("Datos y Opinión Consultores", "Consultoría", "+52 55 5012 3402", "hola@datosyopinion.mx", 3),
    ("TecnoSoluciones del Bajío", "Tecnologías de la información", "+52 477 210 8890", "ventas@tecnobajio.mx", 4),
    ("Grupo Mercadotecnia Pacífico", "Mercadotecnia", "+52 33 3615 2200", "info@gmpacifico.mx", 4),
    ("Software Azteca S. de R.L.", "Desarrollo de software", "+52 55 4433 1200", "contacto@swazteca.mx", 2),
    ("Estudios Sociales Ibéricos", "Investigación social", "+34 91 555 0142", "estudios@esib.es", 3),
    ("Nube Latina Servicios", "Servicios en la nube", "+57 1 745 2020", "comercial@nubelatina.co", 2),
    ("Analítica Rioplatense", "Análisis de datos", "+54 11 4312 7788", "info@analitica.com.ar", 4),
]
CONTACTS = [  # name, last name, post, company index
    ("Carmen", "Ruiz", "Directora de investigación", 0), ("Diego", "Morales", "Gerente de compras", 0),
    ("Lucía", "Herrera", "Socia directora", 1), ("Pablo", "Castillo", "Jefe de proyectos", 2),
    ("Valeria", "Gómez", "Directora de TI", 2), ("Andrés", "Vargas", "Director de marketing", 3),
    ("Isabel", "Navarro", "Coordinadora de estudios", 3), ("Fernando", "Ortiz", "CTO", 4),
    ("Elena", "Domínguez", "Investigadora principal", 5), ("Ricardo", "Silva", "Director comercial", 6),
    ("Paula", "Mendoza", "Gerente de datos", 7), ("Tomás", "Aguilar", "Consultor independiente", None),
]
DEAL_TITLES = ["Estudio de satisfacción", "Panel de consumidores", "Encuesta de marca", "Implementación CRM",
               "Soporte anual", "Grupo focal", "Estudio de precios", "Migración a la nube", "Tablero de BI",
               "Auditoría de datos", "Estudio de mercado regional", "Licencias de software"]


def demo(portal: Portal) -> None:
    """Companies, contacts with phones and e-mails, deals in two pipelines, several stages and currencies."""
    from b24sandbox.auth import resolve
    from b24sandbox.crm_model import today as portal_today
    from b24sandbox.crm_model import type_info
    from b24sandbox.crm_write import add_item

    rng = random.Random(2026)
    projects = pipelines.create_category(portal, DEAL, "Proyectos de investigación", sort=400)
    users = {uid: resolve(portal.store, UserSession(uid)) for uid in (1, 2, 3, 4)}
    company_info, contact_info, deal_info = (type_info(portal, COMPANY), type_info(portal, CONTACT),
                                             type_info(portal, DEAL))
    companies = []
    for title, industry, phone, email, owner in COMPANIES:
        companies.append(add_item(portal, users[owner], company_info, {
            "title": title, "comments": industry, "assignedById": owner,
            "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": phone},
                   {"typeId": "EMAIL", "valueType": "WORK", "value": email}],
        }))
    contacts = []
    for name, last, post, company_index in CONTACTS:
        owner = companies[company_index]["assignedById"] if company_index is not None else 2
        digits = "".join(str(rng.randint(0, 9)) for _ in range(4))
        contacts.append(add_item(portal, users[owner], contact_info, {
            "name": name, "lastName": last, "post": post, "assignedById": owner,
            "companyIds": [companies[company_index]["id"]] if company_index is not None else [],
            "fm": [{"typeId": "PHONE", "valueType": "MOBILE", "value": f"+52 55 1234 {digits}"},
                   {"typeId": "PHONE", "valueType": "WORK", "value": f"+52 55 5500 {digits}"},
                   {"typeId": "EMAIL", "valueType": "WORK", "value": f"{_ascii(name)}.{_ascii(last)}@cliente.mx"}],
        }))
    general = [s for s, *_ in pipelines.DEAL_STAGES]
    today = portal_today()
    for index in range(24):
        company = companies[index % len(companies)]
        owner = int(company["assignedById"])
        in_projects = index % 4 == 3
        code = general[(index * 3) % len(general)]
        stage = pipelines.stage_id(DEAL, projects["id"] if in_projects else 0, code)
        currency = ("USD", "MXN", "EUR", "USD")[index % 4]
        amount = {"USD": 4000, "MXN": 90000, "EUR": 3500}[currency] + 500 * (index % 7)
        company_contacts = [c["id"] for c in contacts if company["id"] in (c.get("companyIds") or [])]
        begin = today - timedelta(days=60 - index * 2)
        add_item(portal, users[owner], deal_info, {
            "title": f"{DEAL_TITLES[index % len(DEAL_TITLES)]} — {company['title'].split()[0]}",
            "categoryId": projects["id"] if in_projects else 0, "stageId": stage,
            "opportunity": amount, "currencyId": currency, "isManualOpportunity": "Y",
            "probability": (20, 40, 60, 80)[index % 4], "companyId": company["id"],
            "contactIds": company_contacts[:2], "assignedById": owner,
            "begindate": begin.isoformat(), "closedate": (begin + timedelta(days=45)).isoformat(),
        })
    portal.store.set_meta("seeded_demo", now_iso())

