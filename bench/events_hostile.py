"""What a hostile ``/events`` body costs the app, as a ratio to a genuine event measured in the same run.

Anyone may POST to ``/events`` without logging in. Each body is sent through the Flask test client to the
real handler (verification, bounds, the inbox) on a fresh SQLite database; the figure is the median wall
time of the handler per body, and the ratio is that time over the genuine event's. Before the bounds
(issue 17), 20,000 ``a[]`` fields cost about 18 s of CPU and 20,000 levels a RecursionError.

Run: ``.venv/bin/python bench/events_hostile.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from b24app import create_app, phpquery  # noqa: E402
from b24app.db import connect  # noqa: E402
from b24app.installations import Installation, InstallationStore  # noqa: E402

MEMBER = "a223c6b3710f85df22e9377d6c4f7553"
TOKEN = "51856fefc120afa4b628cc82d3935cce"


def genuine() -> str:
    return phpquery.encode({"event": "ONCRMDEALUPDATE", "event_handler_id": "3", "data": {"FIELDS": {"ID": "8"}},
                            "ts": "1736405807", "auth": {"member_id": MEMBER, "application_token": TOKEN,
                                                         "domain": "portal.test"}})


BODIES = {
    "genuine event": genuine(),
    "20,000 a[] fields (240 KB)": "data[a][]=1&" * 20_000,
    "20,000 fields (40 KB)": "a&" * 20_000,
    "1 MiB body": "x=" + "a" * (1024 * 1024),
    "20,000 levels": "data" + "[a]" * 20_000 + "=1",
    "forged token": genuine().replace(TOKEN, "f" * 32),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="requests per body (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"ENV": "test", "TESTING": True, "DATABASE": f"{tmp}/app.db", "SECRET_KEY": "bench",
                          "SCHEDULER": False, "LOG_LEVEL": "ERROR"})
        db = connect(app.config["DATABASE"])
        InstallationStore(db).save(Installation(member_id=MEMBER, domain="portal.test",
                                                client_endpoint="https://portal.test/rest/", access_token="a" * 20,
                                                refresh_token="r" * 20, application_token=TOKEN))
        client = app.test_client()
        results: dict[str, tuple[float, int]] = {}
        for name, body in BODIES.items():
            times, status = [], 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.post("/events", data=body, content_type="application/x-www-form-urlencoded")
                times.append(time.perf_counter() - started)
                status = response.status_code
            results[name] = (statistics.median(times), status)
    base = results["genuine event"][0]
    print(f"{'body':32} {'status':>6} {'median ms':>10} {'× genuine':>10}")
    for name, (seconds, status) in results.items():
        print(f"{name:32} {status:>6} {seconds * 1000:>10.2f} {seconds / base:>10.1f}")


if __name__ == "__main__":
    main()
