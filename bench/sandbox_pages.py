"""The sandbox's own time for a ``crm.item.list`` page, SQL path against the Python path it replaced.

    .venv/bin/python bench/sandbox_pages.py [--sizes 2000,20000,100000] [--python-up-to 20000]

Seeds N deals straight into the store, then times, in the same run: one fast-mode page (``>id`` window,
``start=-1``) at the start and at the end of the id range, called in-process (no HTTP), and a whole chained
read over HTTP with the app's client (``list_all``). "python" is the path every page took before: every
stored item through ``filters.matches``, then sorted and sliced (``visible_items`` + ``paging``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from b24app.rest import B24Client  # noqa: E402
from b24sandbox import item_query  # noqa: E402
from b24sandbox.auth import AuthContext  # noqa: E402
from b24sandbox.methods import crm_items, paging  # noqa: E402
from b24sandbox.portal import Webhook  # noqa: E402
from b24sandbox.server import SandboxServer  # noqa: E402

_sql_page = item_query.list_page


def _python_page(portal: Any, info: Any, access: str, user_id: int, flt: Any, order: Any,
                 params: Any) -> tuple[list[dict[str, Any]], int | None, int | None]:
    rows = crm_items.visible_items(portal, AuthContext("webhook", user_id), info, flt, order)
    page, total, nxt, _ = paging(dict(params), rows)
    return page, total, nxt


@contextmanager
def path(name: str) -> Any:
    item_query.list_page = _python_page if name == "python" else _sql_page  # type: ignore[assignment]
    try:
        yield
    finally:
        item_query.list_page = _sql_page  # type: ignore[assignment]


def page_ms(portal: Any, cursor: int, repeat: int = 5) -> float:
    params = {"entityTypeId": 2, "filter": {">opportunity": 0, ">id": cursor}, "order": {"id": "ASC"},
              "start": -1, "select": ["id", "opportunity", "currencyId", "stageSemanticId"]}
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        status, body = portal.call("crm.item.list", params, Webhook(1, "sandbox"))
        samples.append(time.perf_counter() - began)
        assert status == 200 and len(body["result"]["items"]) == 50
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,100000")
    parser.add_argument("--python-up-to", type=int, default=20000, help="largest size the old path is run at")
    args = parser.parse_args()
    print(f"{'deals':>7s} {'path':>7s} {'page@start ms':>14s} {'page@end ms':>12s} {'full scan s':>12s} "
          f"{'HTTP':>5s} {'rows':>7s}")
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp, \
                SandboxServer(Path(tmp) / "portal.db", seed="none", rate_limit=False) as sandbox:
            rng = random.Random(3)
            sandbox.portal.add_items(2, ({"title": f"D{n}", "opportunity": rng.choice([500, 1000])}
                                         for n in range(size)))
            for name in ("sql", "python"):
                if name == "python" and size > args.python_up_to:
                    continue
                with path(name):
                    start, end = page_ms(sandbox.portal, 0), page_ms(sandbox.portal, size - 60)
                    client = B24Client.for_webhook(sandbox.webhook_url, {"RATE_BURST": 10**6,
                                                                         "RATE_PER_SECOND": 10.0**6})
                    began = time.perf_counter()
                    rows = client.list_all("crm.item.list", {"entityTypeId": 2, "filter": {">opportunity": 0},
                                                             "select": ["id", "opportunity"]}, estimate=size)
                    scan = time.perf_counter() - began
                print(f"{size:7d} {name:>7s} {start:14.2f} {end:12.2f} {scan:12.2f} {client.http_calls:5d} "
                      f"{len(rows):7d}", flush=True)


if __name__ == "__main__":
    main()
