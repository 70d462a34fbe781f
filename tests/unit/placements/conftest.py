"""Fixtures for the frame UI: a provisioned installation, a fake portal as the app's clients, a frame session."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from b24app.db import connect
from b24app.installations import Installation, InstallationStore
from b24app.rest import BatchResult
from b24app.rest.clients import ClientsFrom

APP_TOKEN = "app-token-0123456789"
USER_TOKEN = "user-token-abcdef123456"
ETI = 1030
FIELDS = {"PROBABILITY": "ufCrm5Probability", "EXECUTED": "ufCrm5Executed", "REMAINDER": "ufCrm5Remainder",
          "EXECUTION": "ufCrm5Execution", "PROBABLE": "ufCrm5Probable"}
STAGES = {"P": "DT1030_7:NEW", "S": "DT1030_7:SUCCESS", "F": "DT1030_7:FAIL"}
WRITES = ("crm.item.add", "crm.item.update", "crm.item.delete")


_REF = re.compile(r"^\$result\[([^\]]+)\]((?:\[[^\]]*\])*)$")


def _resolve(value: Any, results: dict) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, results) for v in value]
    match = _REF.match(value) if isinstance(value, str) else None
    if not match:
        return value
    node: Any = results.get(match.group(1))
    for part in re.findall(r"\[([^\]]*)\]", match.group(2)):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return ""
    return "" if node is None else node


class FakePortal:
    """Stands in for B24Client with a tiny CRM; records every write so tests can say 'nothing written'."""

    def __init__(self) -> None:
        self.companies = {5: "Acme Research", 6: "Globex"}
        self.contacts = {7: ("Ana", "García")}
        self.deals: dict[int, dict[str, Any]] = {
            11: {"id": 11, "title": "Estudio Q1", "companyId": 5, "contactId": 0, "opportunity": 1000,
                 "currencyId": "EUR", "stageSemanticId": "P", f"parentId{ETI}": 0},
            12: {"id": 12, "title": "Otro cliente", "companyId": 6, "contactId": 0, "opportunity": 500,
                 "currencyId": "EUR", "stageSemanticId": "S", f"parentId{ETI}": 0},
        }
        self.plans: dict[int, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict]] = []
        self.profile = {"ID": "1", "ADMIN": True, "NAME": "Admin"}

    @property
    def writes(self) -> list[tuple[str, dict]]:
        return [c for c in self.calls if c[0] in WRITES]

    def close(self) -> None:
        pass

    def __enter__(self) -> FakePortal:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _list(self, params: dict) -> list[dict]:
        eti, flt = params["entityTypeId"], params.get("filter") or {}
        if eti == 4:
            rows = [{"id": i, "title": t} for i, t in self.companies.items()]
        elif eti == 3:
            rows = [{"id": i, "name": n, "lastName": ln, "fm": [], "post": ""} for i, (n, ln) in self.contacts.items()]
        elif eti == 2:
            rows = list(self.deals.values())
        else:
            rows = list(self.plans.values())
        for key, value in flt.items():
            if key == "@id":
                rows = [r for r in rows if r["id"] in value]
            elif key.startswith("%"):
                rows = [r for r in rows if str(value).lower() in str(r.get(key[1:], "")).lower()]
            elif key[0].isalpha():
                rows = [r for r in rows if r.get(key) == value]
        return rows

    def call(self, method: str, params: dict | None = None) -> Any:
        params = params or {}
        self.calls.append((method, params))
        if method == "profile":
            return self.profile
        if method == "crm.currency.list":
            return [{"CURRENCY": "EUR", "BASE": "Y"}, {"CURRENCY": "USD"}]
        if method == "crm.currency.get":  # no formats: the locale's formatting (placements/i18n.py money)
            return {"CURRENCY": params["id"]} if params.get("id") else {}
        if method == "user.get":
            return [{"ID": "1", "NAME": "Admin", "LAST_NAME": "Uno"},
                    {"ID": "2", "NAME": "María", "LAST_NAME": "López"}]
        if method == "crm.item.list":
            return {"items": self._list(params)}
        if method == "crm.item.get":
            source = self.deals if params["entityTypeId"] == 2 else self.plans
            return {"item": source[int(params["id"])]}
        if method == "crm.item.add":
            new_id = len(self.plans) + 1
            self.plans[new_id] = {"id": new_id, **params["fields"]}
            return {"item": self.plans[new_id]}
        if method == "crm.item.update":
            target = self.deals if params["entityTypeId"] == 2 else self.plans
            target[int(params["id"])].update(params["fields"])
            return {"item": target[int(params["id"])]}
        if method == "crm.company.contact.items.get":
            return [{"CONTACT_ID": 7}]
        if method in DOCTOR:  # the settings page's health checks (sync/doctor.py)
            return DOCTOR[method]
        raise AssertionError(f"unexpected call {method}")

    def call_raw(self, method: str, params: dict | None = None) -> Any:
        result = self.call(method, params)
        rows = result.get("items") if isinstance(result, dict) else result
        return type("R", (), {"result": result, "total": len(rows or []), "next": None})()

    def batch(self, commands: dict, halt: bool = False) -> BatchResult:
        """Runs the commands in order, ``$result[key][path]`` references resolved as the portal does."""
        out = BatchResult()
        for key, (method, params) in commands.items():
            out.result[key] = self.call(method, _resolve(params, out.result))
            if isinstance(out.result[key], dict) and "items" in out.result[key]:
                out.total[key] = len(out.result[key]["items"])
        return out

    batch_all = batch

    def list_all(self, method: str, params: dict | None = None, **_: Any) -> list[dict]:
        return self.call(method, params)["items"]

    def get_many(self, eti: int, ids: Any, select: Any = None) -> list[dict]:
        return self.call("crm.item.list", {"entityTypeId": eti, "filter": {"@id": list(ids)}})["items"]


DOCTOR: dict[str, Any] = {
    "app.info": {"INSTALLED": True}, "crm.type.get": {"type": {"id": 5, "entityTypeId": ETI, "title": "Planes"}},
    "crm.type.list": {"types": [{"id": 5, "entityTypeId": ETI, "title": "Planes"}]},  # after a NOT_FOUND (web.py)
    "crm.item.fields": {"fields": {name: {} for name in FIELDS.values()}},
    "crm.status.list": [{"STATUS_ID": stage} for stage in STAGES.values()], "placement.get": [], "event.get": [],
}


@pytest.fixture
def inst(app) -> Installation:
    db = connect(app.config["DATABASE"])
    saved = InstallationStore(db).save(Installation(
        member_id="member-1", domain="portal.example", client_endpoint="https://portal.example/rest/",
        access_token="admin-token-xyz", refresh_token="refresh-xyz", application_token=APP_TOKEN,
        type_id=5, entity_type_id=ETI, field_map=FIELDS, stage_map=STAGES))
    db.close()
    return saved


@pytest.fixture
def fake(app) -> FakePortal:
    portal = FakePortal()
    # the frame user's client and the admin client (the recompute after a save) alike: nothing leaves
    app.config["CLIENTS"] = ClientsFrom(lambda inst: portal)
    return portal


def frame_form(**changes: str) -> dict[str, str]:
    form = {"AUTH_ID": USER_TOKEN, "AUTH_EXPIRES": "3600", "REFRESH_ID": "r", "member_id": "member-1",
            "APPLICATION_TOKEN": APP_TOKEN, "PLACEMENT": "DEFAULT", "PLACEMENT_OPTIONS": "{}", "status": "L"}
    form.update(changes)
    return form


class Frame:
    """A verified frame session: ``s`` (the signed session token) and ``csrf``."""

    def __init__(self, client, location: str):
        self.client = client
        self.location = location
        self.s = parse_qs(urlsplit(location).query)["_s"][0]
        page = client.get(location).get_data(as_text=True)
        found = re.search(r'data-csrf="([^"]+)"', page)
        self.csrf = found.group(1) if found else ""


@pytest.fixture
def frame(client, inst, fake) -> Frame:
    response = client.post("/?DOMAIN=evil.example&LANG=la", data=frame_form())
    assert response.status_code == 303
    return Frame(client, response.headers["Location"])


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The per-process cache (totals, users, currencies) must not carry data from one test to the next."""
    from placements.portal_data import cache

    cache._data.clear()
    yield
    cache._data.clear()
