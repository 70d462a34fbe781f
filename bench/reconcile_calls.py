"""HTTP calls of our reconcile against a naive per-plan reconcile, on the same sandbox portal.

    .venv/bin/python bench/reconcile_calls.py [--plans 200] [--deals 2000] [--won 0.4]

Seeds N plans and D linked deals in a sandbox (no rate limit) through the webhook, provisions the plans
smart process with the app's own provisioning, then runs, on the same data:

- the baseline: per plan ``crm.item.get`` + ``crm.item.list`` of its deals (plain paging), one
  ``crm.currency.list``, one ``crm.item.update`` per changed plan — how a first version would do it;
- ours: ``sync.reconcile.reconcile_installation`` (fast-mode chained lists, grouped in memory, changed
  plans written 50 per batch).

Both start from the same state (computed fields cleared before each run), so both write every plan.
It prints both call counts, seconds, and the ratio. No timings are asserted anywhere.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from b24app.db import connect  # noqa: E402
from b24app.installations import Installation, InstallationStore  # noqa: E402
from b24app.provisioning import provision  # noqa: E402
from b24app.rest import B24Client, listing  # noqa: E402
from b24app.settings import load_settings  # noqa: E402
from b24sandbox.server import SandboxServer  # noqa: E402
from sync import recompute, reconcile  # noqa: E402


class Counter:
    """Counts the HTTP requests a client sends (every call, batch and list page is one POST)."""

    def __init__(self, client: B24Client):
        self.calls = 0
        original = client._post

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        client._post = counted  # type: ignore[method-assign]


def seed(client: B24Client, inst: Installation, plans: int, deals: int, won: float) -> list[int]:
    eti, parent = inst.entity_type_id, recompute.parent_field(inst)
    rng = random.Random(7)
    adds = {f"p{n}": ("crm.item.add", {"entityTypeId": eti, "fields": {
        "title": f"Bench plan {n}", "opportunity": rng.choice([5000, 10000, 20000]), "currencyId": "USD",
        "isManualOpportunity": "Y", "begindate": "2026-01-01", "closedate": "2099-12-31",
        "stageId": inst.stage_map["P"], inst.field_map["PROBABILITY"]: rng.choice([30, 50, 70])}})
        for n in range(plans)}
    result = client.batch_all(adds)
    result.raise_first()
    plan_ids = [int(result.result[k]["item"]["id"]) for k in adds]
    won_stage = "WON"
    deal_adds = {f"d{n}": ("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": f"Bench deal {n}", "opportunity": rng.choice([500, 1000, 2500]),
        "currencyId": rng.choice(["USD", "EUR"]), parent: plan_ids[n % plans],
        "stageId": won_stage if rng.random() < won else "NEW"}}) for n in range(deals)}
    client.batch_all(deal_adds).raise_first()
    return plan_ids


def clear_figures(client: B24Client, inst: Installation, plan_ids: list[int]) -> None:
    fields = {inst.field_map[s]: "" for s in recompute.COMPUTED}
    client.batch_all({f"c{p}": ("crm.item.update", {"entityTypeId": inst.entity_type_id, "id": p,
                                                     "fields": {**fields, "stageId": inst.stage_map["P"]}})
                      for p in plan_ids}).raise_first()


def naive(client: B24Client, inst: Installation, plan_ids: list[int], today: date) -> int:
    """One plan at a time: get, list its deals page by page, compute, update if changed."""
    rates = recompute.read_rates(client)
    parent = recompute.parent_field(inst)
    updated = 0
    for plan_id in plan_ids:
        row = client.call("crm.item.get", {"entityTypeId": inst.entity_type_id, "id": plan_id})["item"]
        deals: list[dict[str, Any]] = []
        start = 0
        while True:
            answer = client.call_raw("crm.item.list", {"entityTypeId": 2, "filter": {parent: plan_id},
                                                       "select": recompute.deal_select(inst), "start": start})
            deals += answer.result["items"]
            if not answer.next:
                break
            start = answer.next
        figures = recompute.figures_for(inst, row, deals, rates, today)
        fields = recompute.changes(inst, row, figures, rates)
        if fields:
            client.call("crm.item.update", {"entityTypeId": inst.entity_type_id, "id": plan_id, "fields": fields})
            updated += 1
    return updated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=200)
    parser.add_argument("--deals", type=int, default=2000)
    parser.add_argument("--won", type=float, default=0.4, help="share of won deals")
    args = parser.parse_args()
    today = date(2026, 6, 1)
    with tempfile.TemporaryDirectory() as tmp, \
            SandboxServer(Path(tmp) / "portal.db", seed="none", rate_limit=False) as sandbox:
        config = {**load_settings({}), "ENV": "test", "DATABASE": str(Path(tmp) / "app.db"),
                  "RATE_BURST": 10_000, "RATE_PER_SECOND": 10_000.0}
        db = connect(config["DATABASE"])
        client = B24Client.for_webhook(sandbox.webhook_url, config)
        inst = Installation(member_id=sandbox.portal.member_id, domain=sandbox.portal.domain,
                            client_endpoint=sandbox.webhook_url)
        InstallationStore(db).save(inst)
        # A webhook may not call app.option.set (app-only); the ids are saved locally before that step.
        logging.getLogger("b24app.provisioning.provision").setLevel(logging.ERROR)
        report = provision.provision(client, db, inst, {**config, "PUBLIC_URL": ""})
        inst = InstallationStore(db).find(inst.member_id)
        assert inst is not None and inst.is_provisioned, report.error
        print(f"seeding {args.plans} plans and {args.deals} deals …", flush=True)
        plan_ids = seed(client, inst, args.plans, args.deals, args.won)

        clear_figures(client, inst, plan_ids)
        baseline_client = B24Client.for_webhook(sandbox.webhook_url, config)
        baseline = Counter(baseline_client)
        started = time.perf_counter()
        naive_updated = naive(baseline_client, inst, plan_ids, today)
        naive_seconds = time.perf_counter() - started

        runs = []
        for label in ("our reconcile, cold index", "our reconcile, warm index"):
            clear_figures(client, inst, plan_ids)
            ours_client = B24Client.for_webhook(sandbox.webhook_url, config)  # a fresh process's client
            ours = Counter(ours_client)
            started = time.perf_counter()
            outcome = reconcile.reconcile_installation(ours_client, db, inst, today=today)
            runs.append((label, ours.calls, time.perf_counter() - started, len(outcome.updated)))
            listing._last_counts.clear()  # no in-process memory of the previous run's counts

    floor = 1 + -(-args.plans // 2500) + -(-args.deals // 2500) + -(-args.plans // 50)
    print(f"plans {args.plans}, linked deals {args.deals}; floor 1 (rates) + ⌈P/2500⌉ + ⌈D/2500⌉ + ⌈P/50⌉ = {floor}")
    print(f"{'naive per-plan reconcile':28s} {baseline.calls:6d} HTTP calls {naive_seconds:8.2f} s "
          f"{naive_updated:6d} plans written")
    for label, calls, seconds, written in runs:
        print(f"{label:28s} {calls:6d} HTTP calls {seconds:8.2f} s {written:6d} plans written   "
              f"ratio naive/ours: {baseline.calls / max(calls, 1):.1f}x calls, "
              f"{naive_seconds / max(seconds, 1e-9):.1f}x time")


if __name__ == "__main__":
    main()
