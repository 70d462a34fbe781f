"""An event burst: N ``ONCRMDEALUPDATE`` over P plans, POSTed concurrently by the sandbox to the app under waitress.

The deals change in the portal's store first (no events), then the sandbox fires one event per change, several
in flight at once (``event_concurrency``). Measured: the handler's own answer time per POST (in the server),
events not answered 200 (lost: Bitrix24 never retries), then the worker's REST calls and the time until a
reconcile finds nothing to correct. The baseline handles each event on its own (the app's recompute for the one
deal, one event after another) on the same changed data, with the rate limit lifted; on full sizes it runs on a
sample of the events and its calls are scaled to all of them.
"""

from __future__ import annotations

import copy
import random
import time
from pathlib import Path
from typing import Any

from harness import (
    Meter,
    SenderClock,
    install_app,
    percentiles,
    rate_floor_s,
    seed_deals,
    seed_plans,
    serve_app_process,
)

from b24app.db import connect
from b24app.rest.clients import clients_for
from b24sandbox import events as sandbox_events
from b24sandbox.auth import AuthContext
from b24sandbox.server import SandboxServer
from sync import inbox, recompute, reconcile, worker


def change_deals(sandbox: SandboxServer, deal_ids: list[int], rng: random.Random) -> None:
    """Deals won, lost or re-priced straight in the store, as people would in the portal (events come later)."""
    portal = sandbox.portal
    with portal.lock:
        store = portal.store
        store.db.conn.execute("BEGIN")
        for deal_id in deal_ids:
            item = store.items(2)[deal_id]
            item["stageId"] = "NEW" if item["stageId"] == "WON" else "WON"
            item["opportunity"] = float(rng.choice([700, 1200, 3100]))
            store.save_item(2, item)
        store.db.conn.execute("COMMIT")


def run(folder: Path, plans: int, events: int, deals_per_plan: int = 10, concurrency: int = 16,
        baseline_sample: int | None = None) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    with SandboxServer(folder / "portal.db", seed="none", rate_limit=True) as sandbox:
        meter = Meter().attach(sandbox)
        app = install_app(sandbox, folder)
        try:
            inst, db = app.inst, connect(app.config["DATABASE"])
            plan_ids = seed_plans(sandbox, inst, plans, rng)
            deal_ids = seed_deals(sandbox, recompute.parent_field(inst.entity_type_id), plan_ids,
                                  plans * deals_per_plan, 0.3, rng)
            reconcile.reconcile_all(app.config, db)  # every plan right before the burst
            changed = rng.sample(deal_ids, min(len(deal_ids), events // 2))
            change_deals(sandbox, changed, rng)
            fired = [changed[n % len(changed)] for n in range(events)]
            rng.shuffle(fired)
            saved = copy.deepcopy(sandbox.portal.store.items(inst.entity_type_id))

            sample = fired if baseline_sample is None else fired[:baseline_sample]
            sandbox.portal.set_faults({"rate_limit": False})
            with clients_for({**app.config, "RATE_BURST": 10**6, "RATE_PER_SECOND": 10.0**6}).admin(inst) as client:
                started = time.perf_counter()
                with meter.measure() as base:
                    for deal_id in sample:
                        recompute.recompute_plans(client, db, inst, [], deal_ids=[deal_id])
                base_seconds = time.perf_counter() - started
            sandbox.portal.set_faults({"rate_limit": True})
            scale = len(fired) / len(sample)
            with sandbox.portal.lock:  # the plans as they were before the baseline wrote them
                for item in saved.values():
                    sandbox.portal.store.save_item(inst.entity_type_id, item)
            sandbox.portal.bucket.__init__(enabled=True)

            sandbox.portal.set_faults({"event_concurrency": concurrency})
            app.stop()  # the same app, database and port, now in a process of its own under waitress-serve
            served = serve_app_process(app.config, folder)
            clock = SenderClock()
            sandbox_events.requests = clock  # type: ignore[assignment]
            ctx = AuthContext("user", 1)
            started = time.perf_counter()
            try:
                with sandbox.portal.lock:
                    for deal_id in fired:
                        sandbox.portal.fire(ctx, "ONCRMDEALUPDATE", {"ID": deal_id})
                sandbox.portal.dispatcher.wait_idle(timeout=600)
            finally:
                sandbox_events.requests = clock._requests  # type: ignore[assignment]
                served.stop()
            delivered = time.perf_counter() - started
            answered = sum(1 for s in clock.statuses if s == 200)
            with meter.measure() as ours:
                while worker.drain_once(app.config, db).claimed:
                    pass
            settle = time.perf_counter() - started
            with clients_for(app.config).admin(inst) as client:
                wrong = len(reconcile.reconcile_installation(client, db, inst).updated)
            pending = len(inbox.claim_pending(db, 10**6))
            return {
                "plans": plans, "deals": len(deal_ids), "events": events, "distinct_deals": len(changed),
                "event_concurrency": concurrency,
                "server": "waitress-serve --threads=32 --backlog=2048, own process",
                "lost": events - answered, "ack_ms": percentiles(served.handler_seconds()),
                "ack_measured": "in the app process, per POST /events",
                "sender_ms": percentiles(clock.samples), "delivery_s": round(delivered, 2),
                "http_calls": ours["http_calls"], "commands": ours["commands"], "rate_limited": ours["rate_limited"],
                "settle_s": round(settle, 2), "plans_wrong_after": wrong, "left_in_inbox": pending,
                "cloud_settle_projected_s": round(max(settle, rate_floor_s(ours["http_calls"])), 1),
                "baseline_http_calls": round(base["http_calls"] * scale),
                "baseline": {"events_measured": len(sample), "http_calls_measured": base["http_calls"],
                             "commands_measured": base["commands"], "wall_s_measured": round(base_seconds, 2),
                             "rate_limit": "off (projected)",
                             "cloud_projected_s": round(rate_floor_s(round(base["http_calls"] * scale)), 1)},
                "ratio_calls_baseline_over_app": round(base["http_calls"] * scale / max(ours["http_calls"], 1), 1),
            }
        finally:
            app.stop()
