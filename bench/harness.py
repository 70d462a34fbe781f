"""What the benchmarks share: a sandbox with a meter on it, the app installed over real HTTP, fast seeding."""

from __future__ import annotations

import math
import os
import platform
import random
import resource
import statistics
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b24sandbox.server import SandboxServer

CURRENCIES = ("USD", "EUR", "MXN", "RUB")


@dataclass
class Meter:
    """HTTP requests to the portal's REST endpoints, the REST commands they carried (a batch's sub-calls
    counted one by one, the batch itself not) and the ``QUERY_LIMIT_EXCEEDED`` answers — counted by the portal."""

    http: int = 0
    commands: int = 0
    rate_limited: int = 0
    methods: list[str] = field(default_factory=list)  # the method of each HTTP request, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, sandbox: SandboxServer) -> Meter:
        portal = sandbox.portal
        call, dispatch = portal.call, portal.dispatch

        def counted_call(method: str, params: Any, auth: Any) -> tuple[int, dict[str, Any]]:
            status, body = call(method, params, auth)
            with self.lock:
                self.http += 1
                self.methods.append(method)
                if isinstance(body, dict) and body.get("error") == "QUERY_LIMIT_EXCEEDED":
                    self.rate_limited += 1
            return status, body

        def counted_dispatch(method: str, *args: Any, **kwargs: Any) -> Any:
            if method.strip().strip("/").lower().removesuffix(".json") != "batch":
                with self.lock:
                    self.commands += 1
            return dispatch(method, *args, **kwargs)

        portal.call = counted_call  # type: ignore[method-assign]
        portal.dispatch = counted_dispatch  # type: ignore[method-assign]
        return self

    def snapshot(self) -> tuple[int, int, int]:
        with self.lock:
            return self.http, self.commands, self.rate_limited

    @contextmanager
    def measure(self, methods: bool = False) -> Iterator[dict[str, Any]]:
        """``with meter.measure() as spent:`` fills ``spent`` with the calls made inside the block (and the
        method of each HTTP request with ``methods``)."""
        before = self.snapshot()
        spent: dict[str, Any] = {}
        try:
            yield spent
        finally:
            after = self.snapshot()
            if methods:
                with self.lock:
                    spent["methods"] = self.methods[before[0]:after[0]]
            spent.update(http_calls=after[0] - before[0], commands=after[1] - before[1],
                         rate_limited=after[2] - before[2])


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 / p95 / p99 in milliseconds of samples in seconds (nearest rank)."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))] * 1000

    return {"p50": round(statistics.median(ordered) * 1000, 2), "p95": round(rank(0.95), 2),
            "p99": round(rank(0.99), 2)}


def peak_rss_mb(of_children: bool = False) -> float:
    """Peak resident memory (Linux reports KiB)."""
    who = resource.RUSAGE_CHILDREN if of_children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def lower_bound(plans: int, deals: int, changed: int) -> int:
    """⌈P/2500⌉ + ⌈D/2500⌉ + ⌈changed/50⌉: the fewest HTTP calls that read P plans and D deals and write back."""
    return -(-plans // 2500) + -(-deals // 2500) + -(-changed // 50)


def rate_floor_s(calls: int, burst: int = 50, per_second: float = 2.0) -> float:
    """Seconds a cloud portal's leaky bucket needs for ``calls`` requests from an empty bucket."""
    return max(0, calls - burst) / per_second


def seed_plans(sandbox: SandboxServer, inst: Any, count: int, rng: random.Random,
               stage: Callable[[random.Random], str] | None = None) -> list[int]:
    """``count`` plans of the app's smart process, straight into the portal's store."""
    rows = []
    for n in range(count):
        month = 1 + n % 12
        fields = {"title": f"Plan {n}", "opportunity": rng.randrange(1000, 90000, 500),
                  "currencyId": rng.choice(CURRENCIES), "isManualOpportunity": "Y",
                  "assignedById": rng.randint(1, 4), "begindate": f"2026-{month:02d}-01",
                  "closedate": "2099-12-31" if stage is None else f"2026-{month:02d}-28",
                  "stageId": stage(rng) if stage else inst.stage_map["P"],
                  inst.field_map["PROBABILITY"]: rng.choice([20, 50, 80])}
        if inst.category_id:
            fields["categoryId"] = inst.category_id
        rows.append(fields)
    return sandbox.portal.add_items(inst.entity_type_id, rows)


def seed_deals(sandbox: SandboxServer, parent: str, plan_ids: list[int], count: int, won: float,
               rng: random.Random) -> list[int]:
    """``count`` deals, each linked to a plan, ``won`` of them in the success stage, in four currencies."""
    rows = [{"title": f"Deal {n}", "opportunity": rng.choice([500, 1000, 2500, 4000]),
             "currencyId": rng.choice(CURRENCIES), parent: plan_ids[n % len(plan_ids)],
             "stageId": "WON" if rng.random() < won else "NEW"} for n in range(count)]
    return sandbox.portal.add_items(2, rows)


@dataclass
class App:
    """The app served by waitress (README's production line) and installed in the sandbox like a first opening."""

    url: str
    config: dict[str, Any]
    client_id: str
    inst: Any
    server: Any

    def stop(self) -> None:
        import logging

        logging.getLogger("waitress").setLevel(logging.CRITICAL)  # a trigger pulled after close is harmless
        self.server.close()


def install_app(sandbox: SandboxServer, folder: Path, threads: int = 32, **settings: Any) -> App:
    import waitress

    from b24app import create_app
    from b24app.db import connect
    from b24app.installations import InstallationStore
    from b24sandbox.installer import install_app as install

    holder: dict[str, Any] = {}

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = waitress.create_server(wsgi, host="127.0.0.1", port=0, threads=threads, backlog=2048,
                                    connection_limit=2000, channel_timeout=30)
    url = f"http://127.0.0.1:{server.effective_port}"
    threading.Thread(target=server.run, name="bench-waitress", daemon=True).start()
    registered = sandbox.portal.register_app(handler_url=url + "/", install_url=url + "/install",
                                             scopes=["crm", "placement", "userfieldconfig", "user_brief"],
                                             title="Planes de ventas")
    config = {"ENV": "test", "DATABASE": str(folder / "app.db"), "SECRET_KEY": "bench",
              "CLIENT_ID": registered["client_id"], "CLIENT_SECRET": registered["client_secret"],
              "PUBLIC_URL": url, "OAUTH_URL": sandbox.oauth_url, "SCHEDULER": False, "LOG_LEVEL": "WARNING",
              **settings}
    holder["app"] = create_app(config)
    install(sandbox.portal, registered["client_id"], user_id=1, lang="la")
    inst = InstallationStore(connect(config["DATABASE"])).find(sandbox.portal.member_id)
    assert inst is not None and inst.is_provisioned
    return App(url, holder["app"].config, registered["client_id"], inst, server)


def app_env(config: dict[str, Any]) -> dict[str, str]:
    """The ``B24_*`` environment of an app process with this config."""
    keys = ("ENV", "DATABASE", "CLIENT_ID", "CLIENT_SECRET", "PUBLIC_URL", "OAUTH_URL", "SECRET_KEY", "LOG_LEVEL")
    return {**os.environ, **{f"B24_{k}": str(config[k]) for k in keys}, "B24_SCHEDULER": "off"}


@dataclass
class AppProcess:
    """The app under README's production line (``waitress-serve --threads=32 --backlog=2048``), a process of its
    own as in production, so its handler does not share an interpreter lock with the portal's senders."""

    url: str
    process: Any
    events_log: Path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def handler_seconds(self) -> list[float]:
        """Each /events request's time inside the app process."""
        return [float(line) for line in self.events_log.read_text().split()]


def serve_app_process(config: dict[str, Any], folder: Path) -> AppProcess:
    import subprocess
    import sys
    import time

    import requests

    port = int(config["PUBLIC_URL"].rsplit(":", 1)[1])
    waitress = str(Path(sys.executable).parent / "waitress-serve")
    log = (folder / "waitress.log").open("w")
    events_log = folder / "events-handler.txt"
    env = {**app_env(config), "BENCH_EVENTS_LOG": str(events_log), "PYTHONPATH": str(Path(__file__).parent)}
    process = subprocess.Popen([waitress, "--threads=32", "--backlog=2048", "--connection-limit=2000",
                                "--host=127.0.0.1", f"--port={port}", "--call", "served_app:create"],
                               cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):  # up once it answers anything over HTTP
        if process.poll() is not None:
            raise RuntimeError((folder / "waitress.log").read_text())
        try:
            requests.get(url + "/health", timeout=2)
            break
        except requests.RequestException:
            time.sleep(0.05)
    return AppProcess(url, process, events_log)


class SenderClock:
    """Times each event POST the sandbox sends (what the portal's queue waits for) and keeps its status."""

    def __init__(self) -> None:
        import requests

        self._requests = requests
        self.samples: list[float] = []
        self.statuses: list[int] = []
        self.RequestException = requests.RequestException

    def post(self, *args: Any, **kwargs: Any) -> Any:
        import time

        began = time.perf_counter()
        response = self._requests.post(*args, **kwargs)
        self.samples.append(time.perf_counter() - began)
        self.statuses.append(response.status_code)
        return response
