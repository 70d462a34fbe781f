"""A tiny in-memory portal behind the REST client's interface, counting HTTP calls like the real client.

Only what sync/ uses: crm.item.list (filters ``@field``, ``>field``, ``field``), crm.item.update,
crm.currency.list, crm.status.list, server.time, app.info; ``batch`` (one HTTP call per 50 commands) and
``list_all`` (one call per 2,500 rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from b24app.rest.errors import AuthError

ETI = 1040
FIELD_MAP = {s: f"ufCrm7{s.capitalize()}" for s in ("PROBABILITY", "EXECUTED", "REMAINDER", "EXECUTION",
                                                     "PROBABLE")}
STAGE_MAP = {"P": "DT1040_9:NEW", "S": "DT1040_9:SUCCESS", "F": "DT1040_9:FAIL"}
PARENT = f"parentId{ETI}"
CURRENCIES = [
    {"CURRENCY": "USD", "AMOUNT": "1.0000", "AMOUNT_CNT": "1", "BASE": "Y", "DECIMALS": "2"},
    {"CURRENCY": "EUR", "AMOUNT": "1.1000", "AMOUNT_CNT": "1", "BASE": "N", "DECIMALS": "2"},
]


@dataclass
class FakeBatch:
    result: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)
    total: dict[str, Any] = field(default_factory=dict)
    next: dict[str, Any] = field(default_factory=dict)
    time: dict[str, Any] = field(default_factory=dict)


class FakePortal:
    def __init__(self) -> None:
        self.items: dict[int, dict[int, dict[str, Any]]] = {ETI: {}, 2: {}}
        self.currencies = [dict(c) for c in CURRENCIES]
        self.http_calls = 0
        self.updates: list[tuple[int, dict[str, Any]]] = []
        self.fail_updates: set[int] = set()
        self.extra_stages: dict[str, str] = {}  # stage id -> semantics: stages an admin added
        self.app_gone = False  # after a real uninstall the portal refuses the app's tokens
        self._next_id = 1

    # a client is a context manager that closes it ---
    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakePortal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # seeding -------------------------------------------------------------------------------------
    def add_plan(self, amount: str, currency: str = "USD", probability: float | None = 60,
                 closedate: str = "2099-12-31", stage: str = "P", **extra: Any) -> int:
        row = {"opportunity": float(amount), "currencyId": currency, "begindate": "2026-01-01T00:00:00+00:00",
               "closedate": f"{closedate}T00:00:00+00:00", "stageId": STAGE_MAP[stage],
               FIELD_MAP["PROBABILITY"]: probability, **extra}
        return self._add(ETI, row)

    def add_deal(self, plan_id: int | None, amount: str, currency: str = "USD", won: bool = False) -> int:
        return self._add(2, {"opportunity": float(amount), "currencyId": currency,
                             "stageSemanticId": "S" if won else "P", PARENT: plan_id or 0, "categoryId": 0})

    def _add(self, eti: int, row: dict[str, Any]) -> int:
        new_id = self._next_id
        self._next_id += 1
        self.items[eti][new_id] = {"id": new_id, **row}
        return new_id

    def plan(self, plan_id: int) -> dict[str, Any]:
        return self.items[ETI][plan_id]

    # REST ----------------------------------------------------------------------------------------
    def _run(self, method: str, params: dict[str, Any]) -> Any:
        if self.app_gone:
            raise AuthError(401, "NO_AUTH_FOUND", "Wrong authorization data", method)
        if method == "app.info":
            return {"ID": 7, "CODE": "local.test", "VERSION": 1, "STATUS": "L", "INSTALLED": True}
        if method == "crm.currency.list":
            return [dict(c) for c in self.currencies]
        if method == "server.time":
            return "2026-06-01T10:00:00+00:00"
        if method == "crm.status.list":
            return [{"STATUS_ID": sid, "SEMANTICS": None if sem == "P" else sem}
                    for sid, sem in [*((v, k) for k, v in STAGE_MAP.items()), *self.extra_stages.items()]]
        if method == "crm.item.update":
            item_id = int(params["id"])
            if item_id in self.fail_updates:
                raise RuntimeError("CRM_FIELD_ERROR_VALUE_NOT_VALID")
            self.updates.append((item_id, dict(params["fields"])))
            row = self.items[int(params["entityTypeId"])][item_id]
            for key, value in params["fields"].items():
                row[key] = float(value) if not isinstance(value, str) else value
            return {"item": dict(row)}
        if method == "crm.item.list":
            rows = [r for r in self.items[int(params["entityTypeId"])].values()
                    if _matches(r, params.get("filter") or {})]
            rows.sort(key=lambda r: r["id"])
            select = params.get("select")
            if select:
                rows = [{k: r.get(k) for k in select} for r in rows]
            return {"items": rows[:50] if params.get("start") == -1 else rows}
        raise AssertionError(f"unexpected method {method}")

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.http_calls += 1
        return self._run(method, params or {})

    def batch(self, commands: dict[str, tuple[str, dict[str, Any]]], halt: bool = False) -> FakeBatch:
        assert len(commands) <= 50
        self.http_calls += 1
        out = FakeBatch()
        for key, (method, params) in commands.items():
            try:
                out.result[key] = self._run(method, params)
            except RuntimeError as exc:
                out.errors[key] = exc
        return out

    def batch_all(self, commands: dict[str, tuple[str, dict[str, Any]]]) -> FakeBatch:
        keys = list(commands)
        out = FakeBatch()
        for i in range(0, len(keys), 50):
            part = self.batch({k: commands[k] for k in keys[i:i + 50]})
            out.result.update(part.result)
            out.errors.update(part.errors)
        return out

    def list_all(self, method: str, params: dict[str, Any], items_key: str = "items",
                 estimate: int | None = None) -> list[dict[str, Any]]:
        rows = self._run(method, {**params, "start": 0})[items_key]
        self.http_calls += max(1, math.ceil(len(rows) / 2500))
        return rows

    def get_many(self, entity_type_id: int, ids: list[int], select: list[str] | None = None) -> list[dict]:
        rows = []
        for i in range(0, len(ids), 2500):
            rows += self.list_all("crm.item.list", {"entityTypeId": entity_type_id,
                                                    "filter": {"@id": ids[i:i + 2500]}, "select": select})
        return rows


def _matches(row: dict[str, Any], filter_: dict[str, Any]) -> bool:
    for key, wanted in filter_.items():
        if key.startswith("@"):
            if row.get(key[1:]) not in wanted:
                return False
        elif key.startswith(">"):
            if not (row.get(key[1:]) or 0) > wanted:
                return False
        elif row.get(key) != wanted:
            return False
    return True
