"""A year of plans from one sheet: N clients × 12 months read, resolved and written against the sandbox over real
HTTP, against creating the same plans one by one.

The sheet is a real ``.xlsx`` (half the clients by id, half by exact name, Spanish headers and number text). The
dry run (read the file, read the portal, compute the change set) is timed in this process with the time spent
waiting for the portal taken off (every ``B24Client`` POST timed where it is sent), so the figure is the app's own
work. The write sends the change set 50 commands a batch; the baseline creates the same number of plans with one
``crm.item.add`` each, for another set of N clients. A second import of the same file must change nothing.
"""

from __future__ import annotations

import io
import math
import threading
import time
from pathlib import Path
from typing import Any

from harness import Meter, install_app, rate_floor_s
from openpyxl import Workbook

from b24app.rest import B24Client
from b24app.sheet import read_file
from b24sandbox.server import SandboxServer
from sync import sheet_import

MONTHS = [f"2027-{m:02d}" for m in range(1, 13)]
_wait = threading.local()
_original_post = B24Client._post


def _timed_post(self: B24Client, method: str, body: bytes) -> tuple[int, str]:
    began = time.perf_counter()
    try:
        return _original_post(self, method, body)
    finally:
        _wait.seconds = getattr(_wait, "seconds", 0.0) + time.perf_counter() - began


def workbook(ids: list[int], prefix: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "2027"
    ws.append(["Cliente", "Moneda", "Probabilidad", *MONTHS])
    for n, company in enumerate(ids):
        client = f"company:{company}" if n % 2 else f"{prefix} {n:04d}"
        ws.append([client, ("USD", "EUR", "MXN")[n % 3], 50, *[f"{1 + n % 9}.{100 * m:03d},50" if m % 4 == 0 else
                                                              1000 * (1 + n % 7) + 10 * m for m in range(12)]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def run(folder: Path, clients: int) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    B24Client._post = _timed_post  # type: ignore[method-assign]
    try:
        with SandboxServer(folder / "portal.db", seed="demo", rate_limit=False) as sandbox:
            return _run(sandbox, folder, clients)
    finally:
        B24Client._post = _original_post  # type: ignore[method-assign]


def _dry_run(client: B24Client, inst: Any, data: bytes, meter: Meter) -> tuple[Any, dict[str, Any]]:
    _wait.seconds = 0.0
    with meter.measure() as spent:
        began = time.perf_counter()
        parsed = read_file(data, "year.xlsx", "es")
        changes = sheet_import.changes_for(client, inst, parsed.entries, parsed.problems)
        wall = time.perf_counter() - began
    assert changes.ok, [p.text() for p in changes.errors][:5]
    return changes, {"wall_s": round(wall, 2), "app_s": round(wall - _wait.seconds, 2),
                     "http_calls": spent["http_calls"], "create": changes.count("create"),
                     "change": changes.count("change"), "unchanged": changes.count("unchanged")}


def _grid_page(sandbox: SandboxServer, app: Any, meter: Meter) -> dict[str, Any]:
    """The grid of the year just written, as a frame opens it: the first screen, then every chunk after it."""
    import re

    import requests

    frame = sandbox.portal.frame_fields(app.client_id, user_id=1, lang="la", handler=app.url + "/")
    http = requests.Session()
    token = http.post(frame.action, data=frame.form, allow_redirects=False, timeout=120).headers["Location"]
    token = token.split("_s=")[1]
    from placements.reference_data import cache

    times = []
    for _ in range(3):  # first views: the frame's cache cleared each time
        cache._data.clear()
        with meter.measure() as first_spent:
            began = time.perf_counter()
            first = http.get(app.url + "/grid", params={"year": 2027, "_s": token}, timeout=300)
            times.append(time.perf_counter() - began)
    first_s = sorted(times)[1]
    assert first.status_code == 200, first.text[:300]
    rows = first.text.count('<tr class="grid-row"')
    more = re.search(r'data-more-url="([^"]+)"', first.text)
    chunks, total_rows = 0, rows
    began = time.perf_counter()
    while more:
        page = http.get(app.url + more.group(1).replace("&amp;", "&"), timeout=300)
        chunks += 1
        total_rows += page.text.count('<tr class="grid-row"')
        more = re.search(r'data-more-url="([^"]+)"', page.text)
    rest_s = time.perf_counter() - began
    return {"first_screen_s": round(first_s, 2), "first_screen_rows": rows, "first_screen_portal_calls":
            first_spent["http_calls"], "rest_chunks": chunks, "rest_s": round(rest_s, 2), "rows": total_rows}


def _run(sandbox: SandboxServer, folder: Path, clients: int) -> dict[str, Any]:
    meter = Meter().attach(sandbox)
    app = install_app(sandbox, folder, RATE_BURST=10**6, RATE_PER_SECOND=10.0**6)
    try:
        inst = app.inst
        ids = sandbox.portal.add_items(4, [{"title": f"Bench sheet {n:04d}"} for n in range(clients)])
        data = workbook(ids, "Bench sheet")
        client = B24Client.for_installation(inst.member_id, app.config)
        changes, dry = _dry_run(client, inst, data, meter)
        cells = clients * len(MONTHS)
        _wait.seconds = 0.0
        with meter.measure() as spent:
            began = time.perf_counter()
            report = sheet_import.write(client, inst, changes)
            wall = time.perf_counter() - began
        assert report.complete
        write = {"wall_s": round(wall, 2), "app_s": round(wall - _wait.seconds, 2), "http_calls": spent["http_calls"],
                 "commands": spent["commands"], "batch_calls": report.calls, "plans_written": len(report.written),
                 "cloud_projected_s": round(max(wall, rate_floor_s(spent["http_calls"])), 1)}
        _again, again = _dry_run(client, inst, data, meter)
        grid = _grid_page(sandbox, app, meter)

        others = sandbox.portal.add_items(4, [{"title": f"Bench single {n:04d}"} for n in range(clients)])
        base_changes, _ = _dry_run(client, inst, workbook(others, "Bench single"), meter)
        target = sheet_import.target_of(inst)
        with meter.measure() as base_spent:
            began = time.perf_counter()
            for change in base_changes.to_write:
                method, params = change.command(target)
                client.call(method, params)
            base_wall = time.perf_counter() - began
        baseline = {"wall_s": round(base_wall, 2), "http_calls": base_spent["http_calls"],
                    "plans_written": len(base_changes.to_write),
                    "cloud_projected_s": round(max(base_wall, rate_floor_s(base_spent["http_calls"])), 1)}
        client.close()
        bound = math.ceil(len(changes.to_write) / 50)
        return {"clients": clients, "cells": cells, "dry_run": dry, "write": write, "again": again, "grid": grid,
                "batch_calls_bound": bound, "one_by_one": baseline,
                "ratio_calls_one_by_one_over_write": round(baseline["http_calls"] / max(write["http_calls"], 1), 1),
                "ratio_cloud_time_one_by_one_over_write": round(baseline["cloud_projected_s"]
                                                                / max(write["cloud_projected_s"], 0.1), 1)}
    finally:
        app.stop()
