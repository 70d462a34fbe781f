"""The plans page with thousands of plans: our page against a page that loads every plan, same run, same portal.

    .venv/bin/python bench/plans_page.py [--plans 5000] [--repeat 5]

Starts a sandbox portal (no rate limit) and the app over real HTTP, installs the app the way Bitrix24 does,
seeds N plans through the webhook (events dropped while seeding), opens the plans page as a frame, then
times, on the same data:

- ours, page: GET of the Spanish plans page — one ``crm.item.list`` page of 50 filtered/sorted/paged by the
  portal, plus names; on the first view of a filter the totals are not waited for (caches cleared);
- ours, totals: the page's second request, ``/plans/totals`` — every matching plan read once in fast mode on
  seven fields, cached per user and filter for 30 s;
- ours, warm: the page again inside the same filter (other page or sort): totals come from the cache;
- baseline: what a page that "just loads the plans" costs per request — every plan with every column
  (plain ``start`` paging, 50 per call), then filter, sort and page in Python.

It prints seconds and portal HTTP calls per view and the ratios. No timings are asserted anywhere.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import make_server  # noqa: E402

from b24app import create_app  # noqa: E402
from b24app.db import connect  # noqa: E402
from b24app.installations import InstallationStore  # noqa: E402
from b24app.rest import B24Client  # noqa: E402
from b24app.schema import PlanSchema  # noqa: E402
from b24sandbox.installer import install_app  # noqa: E402
from b24sandbox.server import SandboxServer  # noqa: E402
from placements import portal_data  # noqa: E402
from placements.plans_query import ListQuery, row_from_item, sort_rows  # noqa: E402

CALLS = {"n": 0}
_original_post = B24Client._post


def _counted_post(self: B24Client, method: str, body: bytes) -> tuple[int, str]:
    CALLS["n"] += 1
    return _original_post(self, method, body)


B24Client._post = _counted_post  # type: ignore[method-assign]


def seed(hook: B24Client, inst: Any, count: int) -> None:
    companies = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"]
    rng = random.Random(5)
    stages = [inst.stage_map["P"]] * 6 + [inst.stage_map["S"]] * 2 + [inst.stage_map["F"]]
    adds = {}
    for n in range(count):
        month = 1 + n % 12
        fields = {"title": f"Plan {n}", "companyId": rng.choice(companies)["id"],
                  "opportunity": rng.randrange(1000, 90000, 500),
                  "currencyId": rng.choice(["USD", "USD", "EUR", "MXN"]),
                  "isManualOpportunity": "Y", "assignedById": rng.randint(1, 4), "stageId": rng.choice(stages),
                  "begindate": f"2026-{month:02d}-01", "closedate": f"2026-{month:02d}-28",
                  inst.field_map["PROBABILITY"]: rng.choice([20, 50, 80])}
        if inst.category_id:
            fields["categoryId"] = inst.category_id
        adds[f"p{n}"] = ("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": fields})
    hook.batch_all(adds).raise_first()


def baseline_view(client: B24Client, inst: Any, query: ListQuery) -> int:
    """Load every plan with every column (plain paging), then filter, sort and page in Python."""
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
    page = sort_rows(rows, query)[(query.page - 1) * 50:query.page * 50]
    return len(page)


def timed(action: Any) -> tuple[float, int]:
    before = CALLS["n"]
    started = time.perf_counter()
    action()
    return time.perf_counter() - started, CALLS["n"] - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, \
            SandboxServer(Path(tmp) / "portal.db", seed="demo", rate_limit=False) as sandbox:
        server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{server.server_port}"
        registered = sandbox.portal.register_app(handler_url=url + "/", install_url=url + "/install",
                                                 scopes=["crm", "placement", "userfieldconfig", "user_brief"],
                                                 title="Planes de ventas")
        app = create_app({"ENV": "test", "DATABASE": str(Path(tmp) / "app.db"), "SECRET_KEY": "bench",
                          "CLIENT_ID": registered["client_id"], "CLIENT_SECRET": registered["client_secret"],
                          "PUBLIC_URL": url, "OAUTH_URL": sandbox.oauth_url, "SCHEDULER": False,
                          "LOG_LEVEL": "WARNING", "RATE_BURST": 10_000, "RATE_PER_SECOND": 10_000.0})
        server.app = app
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            install_app(sandbox.portal, registered["client_id"], user_id=1, lang="la")
            db = connect(app.config["DATABASE"])
            inst = InstallationStore(db).find(sandbox.portal.member_id)
            assert inst is not None and inst.is_provisioned
            hook = B24Client.for_webhook(sandbox.webhook_url, app.config)
            sandbox.portal.set_faults({"drop_events": 1.0})
            print(f"seeding {args.plans} plans …", flush=True)
            seed(hook, inst, args.plans)
            sandbox.portal.set_faults({"drop_events": 0.0})

            frame = sandbox.portal.frame_fields(registered["client_id"], user_id=1, lang="la", handler=url + "/")
            http = requests.Session()
            first = http.post(frame.action, data=frame.form, allow_redirects=False, timeout=120)
            token = first.headers["Location"].split("_s=")[1]

            def ours(**params: Any) -> None:
                response = http.get(url + "/", params={**params, "_s": token}, timeout=300)
                assert response.status_code == 200 and re.search(r'<tr data-plan="\d+"', response.text)

            def ours_totals(**params: Any) -> None:
                response = http.get(url + "/plans/totals", params={**params, "_s": token}, timeout=300)
                assert response.status_code == 200 and "data-currency=" in response.text

            last_page = max(2, args.plans // 50 - 1)
            views = [("page 1 by period", {}), ("sorted by amount", {"sort": "amount", "dir": "asc"}),
                     (f"page {last_page}", {"page": last_page}),
                     ("Activo + USD, by remainder", {"status": "P", "currency": "USD", "sort": "remainder"})]
            results = []
            for name, params in views:
                query = ListQuery.from_args({k: str(v) for k, v in params.items()})
                cold, sums, warm, base = [], [], [], []
                for _ in range(args.repeat):
                    portal_data.cache._data.clear()
                    cold.append(timed(lambda p=params: ours(**p)))
                    sums.append(timed(lambda p=params: ours_totals(**p)))
                    warm.append(timed(lambda p=params: ours(**p)))
                    base.append(timed(lambda q=query: baseline_view(hook, inst, q)))
                results.append((name, cold, sums, warm, base))
        finally:
            server.shutdown()

    def med(samples: list[tuple[float, int]]) -> tuple[float, int]:
        return statistics.median(s for s, _ in samples), int(statistics.median(c for _, c in samples))

    print(f"\n{args.plans} plans, median of {args.repeat} runs each (seconds, portal HTTP calls per view)")
    print(f"{'view':28s} {'ours page':>15s} {'ours totals':>15s} {'ours warm':>15s} {'load-all base':>16s} "
          f"{'base/page':>9s} {'base/warm':>9s}")
    for name, cold, sums, warm, base in results:
        (cs, cc), (ts, tc), (ws, wc), (bs, bc) = med(cold), med(sums), med(warm), med(base)
        print(f"{name:28s} {cs:7.3f}s {cc:4d} c {ts:7.3f}s {tc:4d} c {ws:7.3f}s {wc:4d} c {bs:8.3f}s {bc:4d} c "
              f"{bs / max(cs, 1e-9):8.1f}x {bs / max(ws, 1e-9):8.1f}x")


if __name__ == "__main__":
    main()
