"""The plans page with thousands of plans: each view's own server time and portal calls, against loading every plan.

The app runs under waitress; each request's time is measured in the server, and the time its thread spent
waiting for the portal (every ``B24Client`` POST, timed where it is sent) is taken off, so the figure is the
app's own work. The caches are cleared before every request (each sample is a first view). The baseline is
what a page that "just loads the plans" costs per request: every plan with every column (plain ``start``
paging), then filter, sort and page in Python — its portal wait counted the same way.

Every sample is a cold first view: the per-user caches and the per-installation reference data (employees,
currencies) are both cleared before it. The totals view is requested at the address the page gives it
(``data-totals-src``, which carries the count the page saw).
"""

from __future__ import annotations

import html
import random
import re
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import requests
from harness import Meter, install_app, percentiles, seed_plans

from b24app.rest import B24Client
from b24app.schema import PlanSchema
from b24sandbox.server import SandboxServer
from placements import portal_data, reference_data
from placements.plans_query import ListQuery, row_from_item, sort_rows

_wait = threading.local()
_original_post = B24Client._post


def _timed_post(self: B24Client, method: str, body: bytes) -> tuple[int, str]:
    began = time.perf_counter()
    try:
        return _original_post(self, method, body)
    finally:
        _wait.seconds = getattr(_wait, "seconds", 0.0) + time.perf_counter() - began


def baseline_view(client: B24Client, inst: Any, query: ListQuery) -> int:
    schema = PlanSchema.of(inst)
    items: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None:
        answer = client.call_raw("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": schema.select(),
                                                   "order": {"id": "ASC"}, "start": start})
        items += answer.result["items"]
        start = answer.next
    rows = [row_from_item(i, schema) for i in items]
    if query.status:
        rows = [r for r in rows if r.status == query.status]
    if query.currency:
        rows = [r for r in rows if r.currency == query.currency]
    return len(sort_rows(rows, query)[(query.page - 1) * 50:query.page * 50])


# "sort:amount": the header link of page 1 (the app sorts money across currencies: the link carries the count)
VIEWS = [("page 1", "/", {}), ("sorted by amount", "sort:amount", {}),
         ("filtered Activo + USD by remainder", "/", {"status": "P", "currency": "USD", "sort": "remainder"}),
         ("totals", "/plans/totals", {}), ("next page", "/", {"page": 2})]


def ten_views(sandbox: SandboxServer, meter: Meter, http: requests.Session, url: str, token: str) -> dict[str, Any]:
    """A person clicking around with the portal's rate limit on (burst 50, then 2 per second): ten views in a
    row — page 1, its totals, a sort, a filter, the next page… — each as the page links it, caches as they are."""
    sandbox.portal.set_faults({"rate_limit": True})
    try:
        walls: list[float] = []
        with meter.measure() as spent:
            for n in range(10):
                began = time.perf_counter()
                page = http.get(url + "/", params={"_s": token, **([{}, {"page": 2}, {"sort": "won"},
                                                                   {"status": "P"}, {"currency": "USD"}][n % 5])},
                                timeout=300)
                totals = re.search(r'data-totals-src="([^"]+)"', page.text)
                if totals:
                    http.get(url + html.unescape(totals.group(1)), params={"_s": token}, timeout=300)
                walls.append(time.perf_counter() - began)
        return {"wall_ms": percentiles(walls), "portal_calls": spent["http_calls"],
                "rate_limited": spent["rate_limited"], "views": 10}
    finally:
        sandbox.portal.set_faults({"rate_limit": False})


def run(folder: Path, plans: int, repeat: int) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    B24Client._post = _timed_post  # type: ignore[method-assign]
    try:
        with SandboxServer(folder / "portal.db", seed="demo", rate_limit=False) as sandbox:
            return _run(sandbox, folder, plans, repeat)
    finally:
        B24Client._post = _original_post  # type: ignore[method-assign]


def _run(sandbox: SandboxServer, folder: Path, plans: int, repeat: int) -> dict[str, Any]:
    meter = Meter().attach(sandbox)
    app = install_app(sandbox, folder, RATE_BURST=10**6, RATE_PER_SECOND=10.0**6)
    own: list[float] = []
    inner = app.server.application

    def timed(environ: dict[str, Any], start_response: Any) -> Any:
        _wait.seconds = 0.0
        began = time.perf_counter()
        body = list(inner(environ, start_response))
        own.append(time.perf_counter() - began - _wait.seconds)
        return body

    app.server.application = timed
    try:
        inst = app.inst
        rng = random.Random(5)
        stages = [inst.stage_map["P"]] * 6 + [inst.stage_map["S"]] * 2 + [inst.stage_map["F"]]
        seed_plans(sandbox, inst, plans, rng, stage=lambda r: r.choice(stages))
        frame = sandbox.portal.frame_fields(app.client_id, user_id=1, lang="la", handler=app.url + "/")
        http = requests.Session()
        first = http.post(frame.action, data=frame.form, allow_redirects=False, timeout=120)
        token = first.headers["Location"].split("_s=")[1]
        hook = B24Client.for_webhook(sandbox.webhook_url, {**app.config})
        views: dict[str, Any] = {}
        for name, path, params in VIEWS:
            samples, calls, walls, methods = [], [], [], []
            if path == "/plans/totals" or path.startswith("sort:"):  # where page 1 loads its totals / links to
                page = http.get(app.url + "/", params={"_s": token}, timeout=300).text
                pattern = (r'data-totals-src="([^"]+)"' if path == "/plans/totals"
                           else rf'<a href="([^"]+)" data-sort="{path[5:]}"')
                path = html.unescape(re.search(pattern, page).group(1))  # type: ignore[union-attr]
            for _ in range(repeat):
                portal_data.cache._data.clear()
                reference_data.reference_cache._data.clear()
                with meter.measure(methods=True) as spent:
                    began = time.perf_counter()
                    response = http.get(app.url + path, params={**params, "_s": token}, timeout=300)
                    walls.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text[:300]
                assert path.startswith("/plans/") or re.search(r'<tr data-plan="\d+"', response.text)
                samples.append(own[-1])
                calls.append(spent["http_calls"])
                methods.append(spent["methods"])
            views[name] = {"app_ms": percentiles(samples), "wall_ms": percentiles(walls),
                           "portal_calls": max(calls), "portal_methods": max(methods, key=len)}
        base_samples, base_calls, base_walls = [], [], []
        for _ in range(repeat):
            query = ListQuery.from_args({})
            _wait.seconds = 0.0
            with meter.measure() as spent:
                began = time.perf_counter()
                baseline_view(hook, inst, query)
                wall = time.perf_counter() - began
            base_walls.append(wall)
            base_samples.append(wall - _wait.seconds)
            base_calls.append(spent["http_calls"])
        baseline = {"view": "load every plan (page 1)", "app_ms": percentiles(base_samples),
                    "wall_ms": percentiles(base_walls), "portal_calls": max(base_calls)}
        for view in views.values():
            view["ratio_calls_baseline_over_view"] = round(baseline["portal_calls"] / max(view["portal_calls"], 1), 1)
            view["ratio_wall_baseline_over_view"] = round(statistics.median(base_walls) * 1000
                                                          / max(view["wall_ms"]["p50"], 1e-9), 1)
        return {"plans": plans, "repeat": repeat, "views": views, "baseline": baseline,
                "ten_views_rate_limited": ten_views(sandbox, meter, http, app.url, token)}
    finally:
        app.stop()
