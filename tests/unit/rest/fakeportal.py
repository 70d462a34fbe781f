"""A fake Bitrix24 portal for ``responses``: list methods over in-memory rows and a batch endpoint that
really evaluates ``$result[...]`` references, so call counts in tests are the real ones.

Deliberately pessimistic where Bitrix24 is undocumented: an unresolvable ``$result[...]`` reference turns
into an empty value, so a ``>id`` cursor that points nowhere restarts from the first row.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import responses

from b24app import phpquery

PAGE = 50
_REF = re.compile(r"\$result((?:\[[^\[\]]*\])+)")


def time_block(operating: float = 0.0, reset_at: float = 0.0) -> dict[str, Any]:
    return {"start": 1.0, "finish": 1.01, "duration": 0.01, "processing": 0.01,
            "date_start": "2026-11-27T01:00:00+00:00", "date_finish": "2026-11-27T01:00:00+00:00",
            "operating": operating, "operating_reset_at": reset_at}


class FakePortal:
    """``crm.item.list`` (rows under ``items``, key ``id``), ``crm.deal.list`` (rows, key ``ID``),
    ``profile`` and ``batch``. Every HTTP request is appended to ``requests``."""

    def __init__(self, rsps: responses.RequestsMock, endpoint: str = "https://portal.example/rest/",
                 items: list[dict[str, Any]] | None = None, deals: list[dict[str, Any]] | None = None):
        self.endpoint = endpoint
        self.items = items or []
        self.deals = deals or []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.list_calls = 0
        rsps.add_callback(responses.POST, re.compile(re.escape(endpoint) + r"[\w.]+"), callback=self._handle)

    @property
    def http_calls(self) -> int:
        return len(self.requests)

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        method = request.url[len(self.endpoint):].split("?")[0].removesuffix(".json")
        body = json.loads(request.body or b"{}")
        self.requests.append((method, body))
        if method == "batch":
            result = self.batch(body.get("cmd") or {}, bool(int(body.get("halt") or 0)))
            return 200, {}, json.dumps({"result": result, "time": time_block()})
        status, payload = self.run(method, body)
        return status, {}, json.dumps(payload)

    # ---------------------------------------------------------------- methods

    def run(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "profile":
            return 200, {"result": {"ID": "1", "ADMIN": True}, "time": time_block()}
        if method == "crm.item.list":
            rows = self.items
            key = "id"
        elif method == "crm.deal.list":
            rows, key = self.deals, "ID"
        else:
            return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
        self.list_calls += 1
        page, total, nxt = self.select(rows, key, params)
        payload: dict[str, Any] = {"result": {"items": page} if method == "crm.item.list" else page,
                                   "time": time_block(operating=0.05 * self.list_calls, reset_at=10**10)}
        if total is not None:
            payload["total"] = total
            if nxt is not None:
                payload["next"] = nxt
        return 200, payload

    @staticmethod
    def select(rows: list[dict[str, Any]], key: str,
               params: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None, int | None]:
        flt = params.get("filter") or {}
        chosen = rows
        for name, value in flt.items():
            if name in (f">{key}", f">{key.lower()}") and value not in ("", None):
                chosen = [r for r in chosen if int(r[key]) > int(value)]
            elif name.startswith("@"):
                wanted = {int(v) for v in (value if isinstance(value, list) else [value])}
                chosen = [r for r in chosen if int(r[key]) in wanted]
            elif not name.startswith((">", "<", "!", "@")):
                chosen = [r for r in chosen if str(r.get(name.lstrip("="))) == str(value)]
        order = params.get("order") or {}
        descending = str(next(iter(order.values()), "ASC")).upper() == "DESC"
        chosen = sorted(chosen, key=lambda r: int(r[key]), reverse=descending)
        start = int(params.get("start") or 0)
        if start == -1:
            return chosen[:PAGE], None, None
        page = chosen[start:start + PAGE]
        return page, len(chosen), (start + PAGE if start + PAGE < len(chosen) else None)

    def batch(self, cmd: dict[str, str] | list[str], halt: bool) -> dict[str, Any]:
        commands = cmd.items() if isinstance(cmd, dict) else enumerate(cmd)
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        times: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        for n, (key, text) in enumerate(commands):
            if n >= PAGE:
                errors[str(key)] = {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max 50"}
                continue
            method, _, query = text.partition("?")
            query = _REF.sub(lambda m: quote(str(self._resolve(results, m.group(1))), safe=""), query)
            status, payload = self.run(method, phpquery.decode(query))
            if "error" in payload:
                errors[str(key)] = payload
                if halt:
                    break
                continue
            results[str(key)] = payload["result"]
            times[str(key)] = payload["time"]
            if "total" in payload:
                totals[str(key)] = payload["total"]
            if "next" in payload:
                nexts[str(key)] = payload["next"]
        # PHP's json_encode: an empty map is [] (the client must cope with both)
        return {"result": results or [], "result_error": errors or [], "result_total": totals or [],
                "result_next": nexts or [], "result_time": times or []}

    @staticmethod
    def _resolve(results: dict[str, Any], path: str) -> Any:
        node: Any = results
        for part in re.findall(r"\[([^\[\]]*)\]", path):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return ""
        return node
