"""Reference data the frames show beside the plans: the portal's currencies, its employees, client names and
people, read with the CURRENT USER's token and kept a short while in a per-process cache.

Docs: api-reference/crm/currency/crm-currency-list.md, api-reference/user/user-get.md,
api-reference/crm/universal/crm-item-list.md, api-reference/crm/companies/contacts/crm-company-contact-items-get.md.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from b24app.installations import Installation
from b24app.rest.clients import RestClient
from b24app.rest.codec import MAX_BATCH, BatchResult, Command
from b24app.rest.errors import AccessDenied
from b24app.schema import COMPANY, CONTACT
from placements.i18n import CurrencyFormat, portal_formats
from placements.plan_form import Client
from placements.plans_query import PAGE_SIZE, ClientMatch, PlanRow

CACHE_SECONDS = 60.0
_USERS = {"FILTER": {"ACTIVE": True}, "start": 0}
_CURRENCIES = {"order": {"SORT": "asc"}}
MAX_FORMATS = 8  # currencies whose formats per language (crm.currency.get ``LANG``) ride with the list


def currency_commands() -> dict[str, Command]:
    """The portal's currencies (crm.currency.list: rates, and the formats of the portal's own language) and
    the formats of every language of the first ``MAX_FORMATS`` of them (crm.currency.get ``LANG``, through
    ``$result[ref_cur][i][CURRENCY]`` references: a row past the list's end asks for no currency and fails
    alone), in one batch."""
    commands: dict[str, Command] = {"ref_cur": ("crm.currency.list", _CURRENCIES)}
    for i in range(MAX_FORMATS):
        commands[f"ref_cur{i}"] = ("crm.currency.get", {"id": f"$result[ref_cur][{i}][CURRENCY]"})
    return commands


def with_formats(result: BatchResult) -> list[dict[str, Any]]:
    """The currency rows of a ``currency_commands`` answer, each with the ``LANG`` its get returned."""
    langs: dict[str, Any] = {}
    for key, value in result.result.items():
        if key.startswith("ref_cur") and key != "ref_cur" and key not in result.errors and isinstance(value, dict) \
                and isinstance(value.get("LANG"), dict) and value.get("CURRENCY"):
            langs[str(value["CURRENCY"])] = value["LANG"]
    rows = result.result.get("ref_cur")
    return [{**r, **({"LANG": langs[str(r["CURRENCY"])]} if str(r["CURRENCY"]) in langs else {})}
            for r in rows or [] if isinstance(r, dict) and r.get("CURRENCY")]


class _TTLCache:
    """A tiny per-process cache (totals, users, currencies); entries expire after ``CACHE_SECONDS``."""

    def __init__(self) -> None:
        self._data: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            self._data.pop(key, None)
            return None

    def put(self, key: tuple, value: Any, seconds: float = CACHE_SECONDS) -> None:
        with self._lock:
            if len(self._data) > 2000:
                self._data.clear()
            self._data[key] = (time.monotonic() + seconds, value)

    def drop(self, member_id: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k[1] == member_id]:
                del self._data[key]


cache = _TTLCache()  # per user and filter: light rows, totals (30 s)
reference_cache = _TTLCache()  # per installation: currencies, employees (REFERENCE_SECONDS)
REFERENCE_SECONDS = 300.0


def name_commands(source: str, rows: int = PAGE_SIZE) -> dict[str, Command]:
    """Batch commands that read the client and responsible names of the plans a ``crm.item.list`` command
    named ``source`` returns earlier in the same batch, through ``$result[source][items][i][field]``
    references (batch.md has no wildcard, so each of the page's rows is named; a row past the page's end
    reads as an empty id and matches nothing)."""
    def refs(column: str) -> list[str]:
        return [f"$result[{source}][items][{i}][{column}]" for i in range(rows)]

    return {
        "names_co": ("crm.item.list", {"entityTypeId": COMPANY, "select": ["id", "title"],
                                       "filter": {"@id": refs("companyId")}, "start": -1}),
        "names_cn": ("crm.item.list", {"entityTypeId": CONTACT, "select": ["id", "name", "lastName"],
                                       "filter": {"@id": refs("contactId")}, "start": -1}),
        "names_us": ("user.get", {"FILTER": {"ID": refs("assignedById")}}),
    }


@dataclass(frozen=True)
class User:
    id: int
    name: str
    photo: str = ""


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    post: str
    phones: tuple[str, ...]
    emails: tuple[str, ...]


def person_name(item: dict[str, Any]) -> str:
    """A contact's or a user's name from its first and last name."""
    parts = [item.get("name") or item.get("NAME"), item.get("lastName") or item.get("LAST_NAME")]
    return " ".join(str(p) for p in parts if p).strip()


_ACCENTS = {"a": "áàâä", "e": "éèêë", "i": "íìîï", "o": "óòôö", "u": "úùûü", "n": "ñ", "c": "ç"}
MAX_SPELLINGS = 24


def fold(text: str) -> str:
    """Lower case without accents: ``Bajío`` and ``bajio`` fold alike (``ñ`` folds to ``n``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def search_spellings(text: str) -> list[str]:
    """The longest word of ``text`` folded, then that word with one letter accented as names are written
    (``tomas`` → ``tomás``, ``analitica`` → ``analítica``, ``munoz`` → ``muñoz``): a word carries at most one
    written accent in Spanish, and the portal compares accented letters as they are stored."""
    words = sorted(fold(text).split(), key=len, reverse=True)
    word = words[0] if words else ""

    def one_more(base: str, letters: str) -> list[str]:
        return [base[:pos] + _ACCENTS[ch][0] + base[pos + 1:] for pos, ch in enumerate(base) if ch in letters]

    spellings = [word, *one_more(word, "aeiounc"), word.replace("u", "ü", 1)]
    for with_tilde in one_more(word, "n"):  # Núñez, Muñóz: an ñ and an accent
        spellings += one_more(with_tilde, "aeiou")
    return list(dict.fromkeys(spellings))[:MAX_SPELLINGS]


def _users_of(value: Any) -> list[User]:
    """``user.get`` rows as Users (PHP may send the list as a keyed object)."""
    if isinstance(value, dict):
        value = list(value.values())
    return [User(int(u["ID"]), person_name(u) or f"#{u['ID']}", u.get("PERSONAL_PHOTO") or "")
            for u in value or [] if isinstance(u, dict) and u.get("ID")]


def items_of(value: Any) -> list[dict[str, Any]]:
    """The items of a ``crm.item.list`` answer (``{"items": [...]}``, or a batch's list)."""
    if isinstance(value, dict):
        value = value.get("items", [])
    return [v for v in value or [] if isinstance(v, dict)]


class ReferenceData:
    """Currencies, employees, client names and people for one frame user of one installation."""

    def __init__(self, client: RestClient, inst: Installation, user_id: int,
                 admin_client: Callable[[], RestClient] | None = None, reference_version: str = ""):
        self.client = client
        self.admin_client = admin_client
        self.inst = inst
        self.user_id = user_id
        # the newest rate set the app recorded: a currency event the worker handled makes the cached
        # currencies stale at once; employees and anything else follow REFERENCE_SECONDS
        self.reference_version = reference_version
        self._riders: dict[str, Command] = {}  # commands to send in this view's next batch (see ``ride``)
        self._rider_result: BatchResult | None = None

    # ---- commands riding in a view's batch ----------------------------------------------------
    def ride(self, commands: dict[str, Command]) -> None:
        """Send ``commands`` in the next batch this object makes (a page, a scan, a search, the names), so a
        part of the view that the app knows it needs before the page is read costs no call of its own; the
        answer is ``rider_answer``."""
        self._riders, self._rider_result = dict(commands), None

    def _batch(self, commands: dict[str, Command], every: bool = False) -> BatchResult:
        """``client.batch`` (``batch_all`` when ``every``) carrying the riders when they fit in one batch; the
        answer returned holds only ``commands``' keys (the riders' errors are theirs, not the caller's)."""
        riders = self._riders if self._riders and len(commands) + len(self._riders) <= MAX_BATCH else {}
        send = {**commands, **riders}
        result = self.client.batch_all(send) if every else self.client.batch(send)
        if not riders:
            return result
        self._riders = {}
        mine, theirs = BatchResult(), BatchResult()
        for name in ("result", "errors", "total", "next", "time"):
            for key, value in getattr(result, name).items():
                getattr(theirs if key in riders else mine, name)[key] = value
        self._rider_result = theirs
        return mine

    def rider_answer(self) -> BatchResult:
        """The riders' answer; when no batch of the view carried them, they are sent now on their own."""
        if self._rider_result is None:
            riders, self._riders = self._riders, {}
            self._rider_result = self.client.batch(riders) if riders else BatchResult()
        return self._rider_result

    def _ref_key(self, kind: str) -> tuple:
        return (kind, self.inst.member_id, self.reference_version)

    # ---- reference data in the same batch as a page ------------------------------------------
    def reference_commands(self) -> dict[str, Command]:
        """The reference data not cached yet, as batch commands to add to a view's one batch."""
        commands: dict[str, Command] = {}
        if reference_cache.get(self._ref_key("currency_rows")) is None:
            commands.update(currency_commands())
        if reference_cache.get(self._ref_key("users")) is None:
            commands["ref_users"] = ("user.get", _USERS)
        return commands

    def take_reference(self, result: BatchResult) -> None:
        """Cache what ``reference_commands`` read (a refused currency list is read later, see _currency_rows)."""
        if "ref_cur" in result.result and "ref_cur" not in result.errors:
            self._keep_currencies(with_formats(result))
        if "ref_users" in result.result and "ref_users" not in result.errors and "ref_users" not in result.next:
            reference_cache.put(self._ref_key("users"), _users_of(result.result["ref_users"]), REFERENCE_SECONDS)

    def take_names(self, result: BatchResult, rows: list[PlanRow]) -> list[PlanRow]:
        """Fill in the names ``name_commands`` read; if any of them failed, read the names the usual way."""
        if any(key in result.errors for key in ("names_co", "names_cn", "names_us")):
            return self.fill_names(rows)
        names: dict[Client, str] = {}
        for item in items_of(result.result.get("names_co")):
            names[Client("company", int(item["id"]))] = str(item.get("title") or "")
        for item in items_of(result.result.get("names_cn")):
            names[Client("contact", int(item["id"]))] = person_name(item)
        users = {u.id: u for u in _users_of(result.result.get("names_us"))}
        return self._apply_names(rows, names, users)

    def currencies(self) -> list[str]:
        return [str(r["CURRENCY"]) for r in self._currency_rows()]

    def currency_decimals(self) -> dict[str, int]:
        """The portal's ``DECIMALS`` per currency (how money is shown and how precise an amount may be)."""
        found: dict[str, int] = {}
        for row in self._currency_rows():
            try:
                found[str(row["CURRENCY"])] = max(int(str(row.get("DECIMALS") or "2")), 0)
            except ValueError:
                found[str(row["CURRENCY"])] = 2
        return found

    def base_rates(self) -> tuple[str, dict[str, Decimal]]:
        """(base currency, base-currency units per unit of each currency) at today's rates."""
        return self.base_currency(), self.to_base()

    def base_currency(self) -> str:
        return next((str(r["CURRENCY"]) for r in self._currency_rows() if str(r.get("BASE") or "") == "Y"), "")

    def to_base(self) -> dict[str, Decimal]:
        """Base-currency units per unit of each currency at today's rates: ``AMOUNT / AMOUNT_CNT`` (F9)."""
        found: dict[str, Decimal] = {}
        for row in self._currency_rows():
            try:
                amount, count = Decimal(str(row.get("AMOUNT") or "1")), Decimal(str(row.get("AMOUNT_CNT") or "1"))
            except ArithmeticError:
                continue
            if amount > 0 and count > 0:
                found[str(row["CURRENCY"])] = amount / count
        return found

    def _keep_currencies(self, rows: Any) -> list[dict[str, Any]]:
        found = [dict(r) for r in rows or [] if isinstance(r, dict) and r.get("CURRENCY")]
        reference_cache.put(self._ref_key("currency_rows"), found, REFERENCE_SECONDS)
        return found

    def currency_formats(self, lang: str) -> dict[str, CurrencyFormat]:
        """Each currency's format for the Bitrix24 language ``lang``, from the cached rows (``portal_formats``)."""
        return portal_formats(self._currency_rows(), lang)

    def _currency_rows(self) -> list[dict[str, Any]]:
        found = reference_cache.get(self._ref_key("currency_rows"))
        if found is None:
            try:
                result = self.client.batch(currency_commands())
                if isinstance(result.errors.get("ref_cur"), AccessDenied):
                    raise result.errors["ref_cur"]
            except AccessDenied:
                # the methods need access to the CRM settings (api-reference/crm/currency/crm-currency-list.md):
                # the codes are not secret, so read them with the installing admin's token when the user may not
                if self.admin_client is None:
                    raise
                with self.admin_client() as admin:
                    result = admin.batch(currency_commands())
            if "ref_cur" in result.errors:
                raise result.errors["ref_cur"]
            found = self._keep_currencies(with_formats(result))
        return found

    def users(self) -> list[User]:
        """Active employees, for the responsible pickers (at most 500), cached per installation."""
        key = self._ref_key("users")
        found = reference_cache.get(key)
        if found is None:
            found = []
            start: int | None = 0
            while start is not None and start < 500:
                resp = self.client.call_raw("user.get", {**_USERS, "start": start})
                found += _users_of(resp.result)
                start = resp.next
            reference_cache.put(key, found, REFERENCE_SECONDS)
        return found

    def users_by_id(self, ids: Iterable[int]) -> dict[int, User]:
        wanted = {i for i in ids if i}
        known = {u.id: u for u in self.users() if u.id in wanted}
        missing = wanted - set(known)
        if missing:
            found = self.client.call("user.get", {"FILTER": {"ID": sorted(missing)}})
            known.update({u.id: u for u in _users_of(found)})
        return known

    def client_names(self, clients: Iterable[Client]) -> dict[Client, str]:
        """Names of companies and contacts, both kinds in one batch (50 ids per command)."""
        clients = list(clients)  # read twice below (a generator would leave the contacts out)
        wanted = {kind: sorted({c.id for c in clients if c.kind == kind}) for kind in ("company", "contact")}
        commands: dict[str, Command] = {}
        for kind, eti, select in (("company", COMPANY, ["id", "title"]),
                                  ("contact", CONTACT, ["id", "name", "lastName"])):
            ids = wanted[kind]
            for n, start in enumerate(range(0, len(ids), PAGE_SIZE)):
                commands[f"{kind}{n}"] = ("crm.item.list", {"entityTypeId": eti, "select": select, "start": -1,
                                                            "filter": {"@id": ids[start:start + PAGE_SIZE]}})
        names: dict[Client, str] = {}
        if not commands:
            return names
        result = self._batch(commands, every=True)
        result.raise_first()
        for key in commands:
            kind = "company" if key.startswith("company") else "contact"
            for item in items_of(result.result.get(key)):
                names[Client(kind, int(item["id"]))] = str(item.get("title") or "") if kind == "company" \
                    else person_name(item)
        return names

    def fill_names(self, rows: list[PlanRow]) -> list[PlanRow]:
        names = self.client_names(r.client for r in rows if r.client)
        users = self.users_by_id(r.assigned_by_id for r in rows if r.assigned_by_id)
        return self._apply_names(rows, names, users)

    @staticmethod
    def _apply_names(rows: list[PlanRow], names: dict[Client, str], users: dict[int, User]) -> list[PlanRow]:
        for row in rows:
            row.client_name = names.get(row.client, "") if row.client else ""
            user = users.get(row.assigned_by_id or 0)
            row.responsible_name = user.name if user else ""
            row.responsible_photo = user.photo if user else ""
        return rows

    def search_clients(self, text: str, limit: int = 20) -> list[dict[str, str]]:
        """Companies and contacts whose name contains ``text``, ignoring case and accents, for the client picker
        and the plans filter. The portal's ``%`` LIKE filter compares letters as stored, so it is asked for the
        query's longest word in the spellings it may be stored in (``search_spellings``: "bajio" also as
        "bajío"…), one command per kind with every spelling OR-ed, and the answers are kept only when their
        whole name contains the whole query once both are folded (``fold``)."""
        text = " ".join(text.split())
        if len(text) < 2:
            return []
        spellings = search_spellings(text)

        def any_of(*fields: str) -> dict[str, Any]:
            return {"0": {"logic": "OR", **{str(n): {f"%{f}": v} for n, (f, v) in
                                             enumerate((f, v) for v in spellings for f in fields)}}}

        result = self._batch({
            "co": ("crm.item.list", {"entityTypeId": COMPANY, "select": ["id", "title"], "filter": any_of("title")}),
            "cn": ("crm.item.list", {"entityTypeId": CONTACT, "select": ["id", "name", "lastName"],
                                     "filter": any_of("name", "lastName")}),
        }).result
        wanted = fold(text)
        out: dict[str, dict[str, str]] = {}
        for item in items_of(result.get("co")):
            code = Client("company", int(item["id"])).code
            out[code] = {"id": code, "kind": "company", "name": str(item.get("title") or "")}
        for item in items_of(result.get("cn")):
            code = Client("contact", int(item["id"])).code
            out[code] = {"id": code, "kind": "contact", "name": person_name(item)}
        found = [c for c in out.values() if wanted in fold(c["name"])]
        return sorted(found, key=lambda c: fold(c["name"]))[:limit]

    def match_clients(self, text: str) -> ClientMatch:
        found = self.search_clients(text, limit=150)
        return ClientMatch(
            tuple(Client.parse(c["id"]).id for c in found if c["kind"] == "company"),  # type: ignore[union-attr]
            tuple(Client.parse(c["id"]).id for c in found if c["kind"] == "contact"),  # type: ignore[union-attr]
        )

    def contacts_of(self, client: Client) -> list[Contact]:
        """The client's people: a company's contacts, or the contact itself, with phones and e-mails."""
        if client.kind == "company":
            links = self.client.call("crm.company.contact.items.get", {"id": client.id}) or []
            ids = [int(link["CONTACT_ID"]) for link in links if link.get("CONTACT_ID")]
        else:
            ids = [client.id]
        if not ids:
            return []
        items = items_of(self.client.call("crm.item.list", {"entityTypeId": CONTACT, "filter": {"@id": ids},
                                                          "select": ["*"]}))
        out = []
        for item in items:
            fm = item.get("fm") or []
            phones = tuple(str(f["value"]) for f in fm if f.get("typeId") == "PHONE" and f.get("value"))
            emails = tuple(str(f["value"]) for f in fm if f.get("typeId") == "EMAIL" and f.get("value"))
            out.append(Contact(int(item["id"]), person_name(item), str(item.get("post") or ""), phones, emails))
        order = {cid: n for n, cid in enumerate(ids)}
        return sorted(out, key=lambda c: order.get(c.id, 0))
