"""``make demo`` (``b24sandbox demo``): the sandbox portal on :5050 and the app on :5000, installed, with demo plans.

The one module of ``b24sandbox`` that imports the app: it is the developer's tool that runs both.

State lives in the project's ``instance/`` folder, so a second ``make demo`` reuses it:

- ``instance/sandbox.db``  the sandbox portal (seeded with demo companies, contacts and deals once);
- ``instance/b24plans.db`` the app's database;
- ``instance/demo.env``    the demo's settings (``B24_*`` lines: client id/secret of the app registered in
  the sandbox, OAuth URL, database, secret key). ``b24plans reconcile`` / ``worker`` / ``close-periods``
  (and any command that calls :func:`cli_settings`) read it when it exists; the environment still wins.
"""

from __future__ import annotations

import logging
import secrets
import signal
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import click
from werkzeug.serving import WSGIRequestHandler

from b24app.devserver import app_server
from b24app.envfile import DEMO_ENV, INSTANCE, cli_settings, read_env_file, write_env_file

log = logging.getLogger(__name__)

SANDBOX_PORT = 5050
APP_PORT = 5000
HOST = "127.0.0.1"


def demo_env(client_id: str, client_secret: str, sandbox_url: str, previous: Mapping[str, str],
             instance: Path = INSTANCE, app_url: str = f"http://{HOST}:{APP_PORT}") -> dict[str, str]:
    """The demo's ``B24_*`` settings (the secret key is kept across runs)."""
    return {
        "B24_ENV": "development",
        "B24_DATABASE": str(instance / "b24plans.db"),
        "B24_PUBLIC_URL": app_url,
        "B24_OAUTH_URL": f"{sandbox_url}/oauth/token/",
        "B24_BX24_JS_URL": f"{sandbox_url}/bx24.js",
        "B24_CLIENT_ID": client_id,
        "B24_CLIENT_SECRET": client_secret,
        "B24_SECRET_KEY": previous.get("B24_SECRET_KEY") or secrets.token_urlsafe(32),
        "B24_SCHEDULER": "on",
    }


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def ensure_registered(portal: Any, previous: Mapping[str, str], base: str) -> tuple[str, str]:
    """The app's registration in the sandbox, reused across runs (client id and secret in demo.env)."""
    client_id = previous.get("B24_CLIENT_ID", "")
    secret = previous.get("B24_CLIENT_SECRET", "")
    if client_id and secret and portal.app(client_id):
        return client_id, secret
    from b24app.manifest import load_manifest

    manifest = load_manifest()
    registered = portal.register_app(
        handler_url=base + manifest.handlers.get("index", "/"),
        install_url=base + manifest.handlers.get("install", "/install"),
        scopes=list(manifest.scopes), title=manifest.name,
        client_id=client_id or None, client_secret=secret or None,
    )
    return registered["client_id"], registered["client_secret"]


def ensure_installed(portal: Any, client_id: str, config: Mapping[str, Any]) -> Any:
    """Install the app the way Bitrix24 does (the install POST, then installFinish) unless it already is."""
    from b24app.db import connect
    from b24app.installations import InstallationStore

    db = connect(config["DATABASE"])
    try:
        inst = InstallationStore(db).find(portal.member_id)
        registered = portal.app(client_id) or {}
        if inst is not None and inst.is_active and inst.is_provisioned and registered.get("installed"):
            return inst
        from b24sandbox.installer import install_app

        install_app(portal, client_id)
        inst = InstallationStore(db).find(portal.member_id)
        if inst is None or not inst.is_provisioned:
            raise click.ClickException("the app did not finish installing into the sandbox; see the log above")
        return inst
    finally:
        db.conn.close()


@dataclass
class DemoPlans:
    created: int = 0
    existing: int = 0
    linked: int = 0
    won: int = 0  # deals the demo moved to a won stage (as a salesperson would)


def _quarter(today: date) -> tuple[date, date]:
    first_month = 3 * ((today.month - 1) // 3) + 1
    begin = date(today.year, first_month, 1)
    end = date(today.year + (first_month == 10), (first_month + 3) % 12 or 12, 1) - timedelta(days=1)
    return begin, end


def _won_stage(deal: Mapping[str, Any]) -> str:
    """The won stage of the deal's pipeline (``WON`` in the general one, ``C{id}:WON`` in others)."""
    category = int(deal.get("categoryId") or 0)
    return "WON" if category == 0 else f"C{category}:WON"


def _amount(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _roles(chosen: list[tuple[str, int]], by_client: Mapping[tuple[str, int], list[dict[str, Any]]]
           ) -> dict[tuple[str, int], str]:
    """Which demo client's plan shows what: the first client with an open deal gets a *partly* executed
    plan (one deal won), the next one with open deals a *fulfilled* plan (its open deals won, the amount
    what they add up to); the rest stay open."""
    roles: dict[tuple[str, int], str] = {}
    for who in chosen:
        currency = str(by_client[who][0].get("currencyId") or "USD")
        if not any(d.get("stageSemanticId") == "P" and d.get("currencyId") == currency for d in by_client[who]):
            continue
        for role in ("partly", "fulfilled"):
            if role not in roles.values():
                roles[who] = role
                break
    return roles


def ensure_demo_plans(client: Any, inst: Any, today: date | None = None, limit: int = 4) -> DemoPlans:
    """Create a plan for each of the ``limit`` clients with the most deals and link their free deals to it,
    through REST as a user would; one plan gets a deal won (partly executed), one gets its open deals won
    and an amount they fill (Cumplido). ``xmlId`` ``b24plans-demo-…`` finds plans made by an earlier run,
    which are left as they are (nothing people changed since is touched)."""
    eti = int(inst.entity_type_id)
    parent = f"parentId{eti}"
    deals = client.list_all("crm.item.list", {"entityTypeId": 2, "select": [
        "id", "companyId", "contactId", "opportunity", "currencyId", "categoryId", "stageSemanticId", parent]},
        items_key="items")
    by_client: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for deal in deals:
        company, contact = int(deal.get("companyId") or 0), int(deal.get("contactId") or 0)
        if company or contact:
            by_client.setdefault(("companyId", company) if company else ("contactId", contact), []).append(deal)
    chosen = sorted(by_client, key=lambda k: (-len(by_client[k]), k))[:limit]
    keys = {who: f"b24plans-demo-{who[0][:-2]}-{who[1]}" for who in chosen}
    found = client.list_all("crm.item.list", {"entityTypeId": eti, "filter": {"@xmlId": list(keys.values())},
                                              "select": ["id", "xmlId"]}, items_key="items") if keys else []
    plan_of = {row["xmlId"]: int(row["id"]) for row in found}
    result = DemoPlans(existing=len(plan_of))
    begin, end = _quarter(today or date.today())
    roles = _roles(chosen, by_client) if not plan_of else {}
    links: dict[str, tuple[str, dict[str, Any]]] = {}
    for n, who in enumerate(chosen):
        if keys[who] in plan_of:
            continue  # an existing demo plan keeps whatever links people made or removed since
        client_deals = [d for d in by_client[who] if not int(d.get(parent) or 0)]
        currency = str(by_client[who][0].get("currencyId") or "USD")
        same = [d for d in client_deals if d.get("currencyId") == currency]
        total = sum((_amount(d.get("opportunity")) for d in same), Decimal(0))
        amount = max(Decimal(1000), (total * Decimal("1.25") / 1000).to_integral_value(ROUND_CEILING) * 1000)
        to_win: list[dict[str, Any]] = []
        open_deals = sorted((d for d in same if d.get("stageSemanticId") == "P"),
                            key=lambda d: (_amount(d.get("opportunity")), int(d["id"])))
        if roles.get(who) == "partly":
            to_win = open_deals[:1]
        elif roles.get(who) == "fulfilled":
            to_win = open_deals
            won = sum((_amount(d.get("opportunity")) for d in same if d.get("stageSemanticId") in ("P", "S")),
                      Decimal(0))
            amount = (won / 1000).to_integral_value(ROUND_FLOOR) * 1000 if won >= 1000 else won
        fields = {"title": f"Plan {begin:%Y}-T{(begin.month + 2) // 3}", who[0]: who[1],
                  "opportunity": amount, "currencyId": currency, "isManualOpportunity": "Y",
                  "begindate": begin.isoformat(), "closedate": end.isoformat(), "assignedById": 1,
                  "xmlId": keys[who], inst.field_map["PROBABILITY"]: (60, 75, 40, 90)[n % 4]}
        plan_id = int(client.call("crm.item.add", {"entityTypeId": eti, "fields": fields})["item"]["id"])
        result.created += 1
        winning = {int(d["id"]) for d in to_win}
        for deal in client_deals:
            changes: dict[str, Any] = {parent: plan_id}
            if int(deal["id"]) in winning:
                changes["stageId"] = _won_stage(deal)
            links[f"l{deal['id']}"] = ("crm.item.update", {"entityTypeId": 2, "id": int(deal["id"]),
                                                           "fields": changes})
    if links:
        outcome = client.batch_all(links)
        result.linked = len(links) - len(outcome.errors)
        result.won = sum(1 for key, (_, params) in links.items()
                         if "stageId" in params["fields"] and key not in outcome.errors)
    return result


def ensure_demo_series(client: Any, inst: Any, today: date | None = None) -> int:
    """Two plan series (README "Recurring plans"), made through REST once (``xmlId`` ``b24plans-series-demo-…``):
    a monthly one whose last month closed No cumplido at 1,000 of 4,000 with the shortfall carried into this
    month's plan (4,000 + 3,000 = 7,000), and a quarterly one whose last quarter was fulfilled and whose current
    quarter grows 10 %. The closed plans keep their stored figures (history). Returns the plans created."""
    from b24app import series

    eti, f, enums = int(inst.entity_type_id), inst.field_map, inst.enum_map
    if not {"RECURRENCE", "PREDECESSOR", "SUCCESSOR"} <= set(f) or "RECURRENCE" not in enums:
        return 0
    found = client.list_all("crm.item.list", {"entityTypeId": eti, "filter": {"%xmlId": "b24plans-series-demo-"},
                                              "select": ["id"]}, items_key="items")
    if found:
        return 0
    companies = client.list_all("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"],
                                                  "order": {"id": "ASC"}}, items_key="items")[:2]
    if len(companies) < 2:
        return 0
    today = today or date.today()
    made = 0
    for company, unit, policy, growth, amount, won in (
            (companies[0], series.MONTHLY, series.SHORTFALL, Decimal(0), Decimal(4000), Decimal(1000)),
            (companies[1], series.QUARTERLY, series.NONE, Decimal(10), Decimal(9000), Decimal(9000))):
        now_begin, now_end = series.calendar_period(unit, today)
        last_begin, last_end = series.calendar_period(unit, now_begin - timedelta(days=1))
        carry = series.successor_amount(amount, won, growth=growth, policy=policy)
        common = {"companyId": int(company["id"]), "currencyId": "USD", "isManualOpportunity": "Y",
                  "assignedById": 1, f["PROBABILITY"]: 70, f["RECURRENCE"]: enums["RECURRENCE"][unit],
                  f["CARRYOVER"]: enums["CARRYOVER"][policy], f["GROWTH"]: float(growth)}
        closed = "S" if won >= amount else "F"
        first = int(client.call("crm.item.add", {"entityTypeId": eti, "fields": {
            **common, "title": f"{company['title']} · {series.period_name(unit, last_begin, last_end)}",
            "xmlId": f"b24plans-series-demo-{unit.lower()}-1", "opportunity": float(amount),
            "begindate": last_begin.isoformat(), "closedate": last_end.isoformat(),
            "stageId": inst.stage_map[closed], f["EXECUTED"]: float(won),
            f["REMAINDER"]: float(max(amount - won, Decimal(0))), f["EXECUTION"]: float(won / amount * 100),
            f["PROBABLE"]: float(amount * 70 / 100)}})["item"]["id"])
        second = int(client.call("crm.item.add", {"entityTypeId": eti, "fields": {
            **common, "title": f"{company['title']} · {series.period_name(unit, now_begin, now_end)}",
            "xmlId": f"b24plans-series-demo-{unit.lower()}-2", "opportunity": float(carry.total),
            "begindate": now_begin.isoformat(), "closedate": now_end.isoformat(), "stageId": inst.stage_map["P"],
            f["CARRIED"]: float(carry.carry), f["PREDECESSOR"]: first}})["item"]["id"])
        client.call("crm.item.update", {"entityTypeId": eti, "id": first, "fields": {f["SUCCESSOR"]: second}})
        made += 2
    return made


def wait_until_processed(portal: Any, database: str, timeout: float = 60.0) -> bool:
    """Wait until the portal delivered every event and the app's worker emptied its inbox (twice in a row:
    the app's own plan writes come back as events once). True when settled within ``timeout``."""
    from b24app.db import connect

    deadline = time.monotonic() + timeout
    db = connect(database)
    try:
        quiet = 0
        while time.monotonic() < deadline:
            idle = portal.dispatcher.wait_idle(max(0.1, deadline - time.monotonic()))
            waiting = db.execute("SELECT count(*) FROM inbox WHERE status IN ('pending', 'processing')"
                                 ).fetchone()[0]
            quiet = quiet + 1 if idle and not waiting else 0
            if quiet >= 2:
                return True
            time.sleep(0.5)
        return False
    finally:
        db.conn.close()


def plans_summary(client: Any, inst: Any) -> str:
    """What the demo plans show now, e.g. ``1 fulfilled (Cumplido), 1 partly executed, 2 open``."""
    executed = inst.field_map.get("EXECUTED", "")
    rows = client.list_all("crm.item.list", {"entityTypeId": int(inst.entity_type_id),
                                             "filter": {"%xmlId": "b24plans-demo-"},
                                             "select": ["id", "xmlId", "stageId", executed]}, items_key="items")
    rows = [r for r in rows if str(r.get("xmlId") or "").startswith("b24plans-demo-")]
    fulfilled = sum(1 for r in rows if r.get("stageId") == inst.stage_map.get("S"))
    closed = sum(1 for r in rows if r.get("stageId") == inst.stage_map.get("F"))
    partly = sum(1 for r in rows if r.get("stageId") == inst.stage_map.get("P") and _amount(r.get(executed)) > 0)
    parts = [f"{fulfilled} fulfilled (Cumplido)", f"{partly} partly executed",
             f"{len(rows) - fulfilled - closed - partly} open"]
    if closed:
        parts.append(f"{closed} not fulfilled")
    return ", ".join(parts)


class QuietRequests(WSGIRequestHandler):
    """The demo's app server logs errors only (events arrive many times a second)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            super().log_request(code, size)


@dataclass
class Demo:
    """A running demo (what ``ready`` receives)."""

    sandbox: Any
    app_url: str
    client_id: str
    config: dict[str, Any]

    @property
    def open_url(self) -> str:
        return f"{self.sandbox.url}/marketplace/app/{self.client_id}/"


def run(instance: Path = INSTANCE, sandbox_port: int = SANDBOX_PORT, app_port: int = APP_PORT,
        echo: Any = click.echo, stop: threading.Event | None = None, ready: Any = None) -> None:
    """Start both servers, install, seed demo plans, print the URL, wait for Ctrl-C (or ``stop``), stop both."""
    from b24app import create_app
    from b24app.rest import B24Client
    from b24sandbox.server import SandboxServer
    from sync import scheduler

    for port, what in ((sandbox_port, "the sandbox portal"), (app_port, "the app")):
        if not port_free(port):
            raise click.ClickException(f"port {port} (for {what}) is in use; stop what runs there and retry")
    instance.mkdir(parents=True, exist_ok=True)
    instance.chmod(0o700)  # it holds the app's database (the admin's tokens) and demo.env (the client secret)
    env_file = instance / DEMO_ENV.name
    previous = read_env_file(env_file)
    sandbox = SandboxServer(instance / "sandbox.db", seed="demo", rate_limit=True, host=HOST,
                            port=sandbox_port).start()
    server = None
    stop = stop or threading.Event()
    try:
        app_url = f"http://{HOST}:{app_port}"
        client_id, secret = ensure_registered(sandbox.portal, previous, app_url)
        write_env_file(env_file, demo_env(client_id, secret, sandbox.url, previous, instance, app_url))
        config = {**cli_settings(env_file=env_file), "SCHEDULER": True}
        app = create_app(config)
        server = app_server(HOST, app_port, app, request_handler=QuietRequests)
        threading.Thread(target=server.serve_forever, name="app-server", daemon=True).start()
        echo(f"sandbox portal {sandbox.url} · app {app_url} · state in {instance}")
        inst = ensure_installed(sandbox.portal, client_id, app.config)
        hook = B24Client.for_webhook(sandbox.webhook_url, app.config)
        created = ensure_demo_plans(hook, inst)
        echo(f"demo plans: {created.created} created, {created.existing} already there, "
             f"{created.linked} deal(s) linked, {created.won} won")
        series_made = ensure_demo_series(hook, inst)
        if series_made:
            echo(f"demo series: {series_made} plans (a monthly series with a carried shortfall, a quarterly one)")
        if not wait_until_processed(sandbox.portal, str(app.config["DATABASE"])):
            echo("(the app is still processing events; the plans fill in within seconds)")
        echo(f"demo plans now: {plans_summary(hook, inst)}")
        running = Demo(sandbox, app_url, client_id, dict(app.config))
        echo("")
        echo("Open this URL in your browser (the sandbox portal with the app installed):")
        echo("")
        echo(f"    {running.open_url}")
        echo("")
        echo("Move a deal to a won stage in the portal: its plan follows within seconds. Ctrl-C stops both.")
        if ready is not None:
            ready(running)
        wait_forever(stop)
    finally:
        echo("stopping…")
        scheduler.stop()  # first: a drain still running writes plans, whose events the app must receive
        sandbox.portal.dispatcher.wait_idle(5)
        if server is not None:
            server.shutdown()
            server.server_close()
        sandbox.stop()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def wait_forever(stop: threading.Event) -> None:
    """Block until ``stop`` is set, Ctrl-C, or SIGTERM (main thread only).

    SIGTERM is turned into the KeyboardInterrupt Ctrl-C raises: a handler that called ``stop.set()`` could run
    while this thread holds the event's lock inside ``stop.wait`` and deadlock (seen: a demo that ignored
    every SIGTERM)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
