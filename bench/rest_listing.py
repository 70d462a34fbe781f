"""HTTP calls per 10,000 list rows: naive offset paging (baseline) vs the chained ``>id`` fast mode.

Both run in this process against the same fake portal (``tests/unit/rest/fakeportal.py`` under
``responses``, whose batch really evaluates ``$result[...]`` references), so the ratio is measured, not
assumed. Run: ``.venv/bin/python bench/rest_listing.py [rows]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import responses

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "unit" / "rest"))

from fakeportal import FakePortal  # noqa: E402

from b24app.rest import B24Client, listing  # noqa: E402

HOOK = "https://portal.example/rest/1/benchhook/"


def naive(client: B24Client) -> int:
    """``crm.item.list`` page after page with ``start`` = 0, 50, 100... until there is no ``next``."""
    rows, start = 0, 0
    while True:
        answer = client.call_raw("crm.item.list", {"entityTypeId": 1030, "select": ["id"], "start": start})
        rows += len(answer.result["items"])
        if answer.next is None:
            return rows
        start = answer.next


def chained(client: B24Client, estimate: int | None = None) -> int:
    return len(client.list_all("crm.item.list", {"entityTypeId": 1030, "select": ["id"]}, estimate=estimate))


def measure(ids: list[int], read) -> tuple[int, int]:
    listing._last_counts.clear()
    with tempfile.TemporaryDirectory() as tmp, responses.RequestsMock() as rsps:
        portal = FakePortal(rsps, HOOK, items=[{"id": i, "title": f"Plan {i}"} for i in ids])
        config = {"DATABASE": f"{tmp}/bench.db", "RATE_BURST": 1_000_000, "RATE_PER_SECOND": 1000.0}
        with B24Client.for_webhook(HOOK, config, sleep=lambda _s: None) as client:
            rows = read(client)
        return rows, portal.http_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=10_000, help="rows to read (default 10,000)")
    count = parser.parse_args().rows
    cases = {
        "dense ids": list(range(1, count + 1)),
        "sparse ids": sorted(random.Random(3).sample(range(1, count * 6), count)),
    }
    print(f"HTTP calls to read {count:,} rows (per 10,000 rows in brackets)")
    for name, ids in cases.items():
        base_rows, base_calls = measure(ids, naive)
        for label, read in (("chained, no estimate", chained),
                            ("chained, estimate given", lambda c: chained(c, estimate=count))):
            rows, calls = measure(ids, read)
            assert rows == base_rows == count, (rows, base_rows, count)
            per = 10_000 / count
            print(f"  {name:10s} naive {base_calls:5d} [{base_calls * per:7.1f}]  {label:24s} {calls:4d} "
                  f"[{calls * per:6.1f}]  ratio naive/chained {base_calls / calls:6.1f}x")


if __name__ == "__main__":
    main()
