"""Reconcile P plans / D deals: ``b24plans reconcile`` (a process of its own) against a naive per-plan loop.

Both run on the same freshly seeded portal with the computed figures cleared before each, so both write every
plan. Ours runs twice: cold (the first run, no deal→plan index yet, so each list is probed) and warm (the index
of the previous run sizes the reads, as every later cron run), with the sandbox's rate limit on (50 burst,
2/s) and the app's default client limits; the naive loop, which makes thousands of calls, runs with the rate
limit lifted (at 2/s it would take hours), and its cloud time is projected from its call count.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from harness import Meter, install_app, lower_bound, peak_rss_mb, rate_floor_s, seed_deals, seed_plans

from b24app.rest import B24Client
from b24sandbox.server import SandboxServer
from sync import recompute

ROOT = Path(__file__).resolve().parent.parent


def clear_figures(sandbox: SandboxServer, inst: Any) -> None:
    """The computed fields of every plan emptied straight in the store (no events), stage back to Activo."""
    portal = sandbox.portal
    with portal.lock:
        portal.store.db.conn.execute("BEGIN")
        for item in portal.store.items(inst.entity_type_id).values():
            figures = [k for k in item if k.startswith("UF_CRM_") and not k.endswith("_PROBABILITY")]
            item.update({name: None for name in figures}, stageId=inst.stage_map["P"])
            portal.store.save_item(inst.entity_type_id, item)
        portal.store.db.conn.execute("COMMIT")


def run_cli(config: dict[str, Any], folder: Path) -> tuple[float, float, str]:
    """``b24plans reconcile`` as cron runs it: (wall seconds, peak RSS MB of that process, its output)."""
    env = {**os.environ, "B24_ENV": "test", "B24_DATABASE": config["DATABASE"], "B24_CLIENT_ID": config["CLIENT_ID"],
           "B24_CLIENT_SECRET": config["CLIENT_SECRET"], "B24_OAUTH_URL": config["OAUTH_URL"],
           "B24_SCHEDULER": "off", "B24_LOG_LEVEL": "WARNING", "B24_SECRET_KEY": "bench",
           "B24_PUBLIC_URL": config["PUBLIC_URL"]}
    log = folder / "reconcile.out"
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen([str(Path(sys.executable).parent / "b24plans"), "reconcile"], cwd=folder, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory (Linux: KiB)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(log.read_text())
    return seconds, round(usage.ru_maxrss / 1024, 1), log.read_text().strip()


def naive(client: B24Client, inst: Any, plan_ids: list[int], today: date) -> int:
    """One plan at a time: get it, list its deals page by page, compute, update if changed."""
    rates = recompute.read_rates(client)
    parent = recompute.parent_field(inst.entity_type_id)
    updated = 0
    for plan_id in plan_ids:
        row = client.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": plan_id})["item"]
        deals: list[dict[str, Any]] = []
        start: int | None = 0
        while start is not None:
            answer = client.call_raw("crm.item.list", {"entityTypeId": 2, "filter": {parent: plan_id},
                                                       "select": recompute.deal_select(inst), "start": start})
            deals += answer.result["items"]
            start = answer.next
        fields = recompute.changes(inst, row, recompute.figures_for(inst, row, deals, rates, today), rates)
        if fields:
            client.call("crm.item.update", {"entityTypeId": inst.entity_type_id, "id": plan_id, "fields": fields})
            updated += 1
    return updated


def one_size(folder: Path, plans: int, deals: int, won: float, with_naive: bool) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(plans * 7 + deals)
    with SandboxServer(folder / "portal.db", seed="none", rate_limit=True) as sandbox:
        meter = Meter().attach(sandbox)
        app = install_app(sandbox, folder)
        try:
            inst = app.inst
            plan_ids = seed_plans(sandbox, inst, plans, rng)
            seed_deals(sandbox, recompute.parent_field(inst.entity_type_id), plan_ids, deals, won, rng)
            runs = {}
            for label in ("cold", "warm"):  # cold: the first run (empty deal→plan index); warm: the cron's case
                clear_figures(sandbox, inst)
                sandbox.portal.bucket.__init__(enabled=True)  # an empty bucket, as after a quiet period
                with meter.measure() as ours:
                    wall, rss, output = run_cli(app.config, folder)
                runs[label] = {**ours, "wall_s": round(wall, 2), "peak_rss_mb": rss,
                               "cloud_projected_s": round(max(wall, rate_floor_s(ours["http_calls"])), 1),
                               "output": output}
            ours = runs["warm"]
            out: dict[str, Any] = {
                "plans": plans, "deals": deals, "won_share": won,
                "lower_bound_calls": lower_bound(plans, deals, plans), "app": ours, "app_cold": runs["cold"]}
            if with_naive:
                clear_figures(sandbox, inst)
                sandbox.portal.set_faults({"rate_limit": False})
                hook = B24Client.for_webhook(sandbox.webhook_url, {**app.config, "RATE_BURST": 10**6,
                                                                   "RATE_PER_SECOND": 10.0**6})
                started = time.perf_counter()
                with meter.measure() as base:
                    written = naive(hook, inst, plan_ids, date.today())
                seconds = time.perf_counter() - started
                sandbox.portal.set_faults({"rate_limit": True})
                out["naive"] = {**base, "wall_s": round(seconds, 2), "plans_written": written,
                                "rate_limit": "off (projected)",
                                "cloud_projected_s": round(max(seconds, rate_floor_s(base["http_calls"])), 1),
                                "peak_rss_mb_bench_process": peak_rss_mb()}
                out["ratios"] = {"calls_naive_over_app": round(base["http_calls"] / max(ours["http_calls"], 1), 1),
                                 "calls_app_over_lower_bound": round(ours["http_calls"] / out["lower_bound_calls"], 2),
                                 "cloud_time_naive_over_app": round(out["naive"]["cloud_projected_s"]
                                                                    / max(out["app"]["cloud_projected_s"], 1e-9), 1)}
            return out
        finally:
            app.stop()


def run(folder: Path, plans: int, deals: int, growth: list[int], won: float = 0.3) -> dict[str, Any]:
    main = one_size(folder / f"r{plans}-{deals}", plans, deals, won, with_naive=True)
    main["growth"] = []
    for size in growth:
        row = main if size == deals else one_size(folder / f"r{plans}-{size}", plans, size, won, with_naive=False)
        main["growth"].append({"deals": size, "lower_bound_calls": row["lower_bound_calls"],
                               **{k: row["app"][k] for k in ("http_calls", "commands", "wall_s", "peak_rss_mb",
                                                              "rate_limited")}})
    return main
