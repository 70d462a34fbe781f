"""``b24sandbox demo`` end to end: sandbox + app, installed, demo plans, a won deal shows; re-runs reuse it all
(also after the app's database was deleted: the app is installed again, nothing is duplicated)."""

from __future__ import annotations

import queue
import socket
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from b24app.envfile import cli_settings
from b24app.rest import B24Client
from b24sandbox import demo

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(instance, sandbox_port: int, app_port: int) -> tuple[demo.Demo, threading.Event, threading.Thread,
                                                               list[str]]:
    lines: list[str] = []
    ready: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            demo.run(instance=instance, sandbox_port=sandbox_port, app_port=app_port, echo=lines.append,
                     stop=stop, ready=ready.put)
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
            errors.append(exc)
            ready.put(None)

    thread = threading.Thread(target=target, name="demo", daemon=True)
    thread.start()
    running = ready.get(timeout=120)
    assert running is not None, errors
    return running, stop, thread, lines


def demo_plans(hook: B24Client, eti: int) -> list[dict[str, Any]]:
    rows = hook.list_all("crm.item.list", {"entityTypeId": eti, "select": ["id", "xmlId"]}, items_key="items")
    return [r for r in rows if str(r.get("xmlId") or "").startswith("b24plans-demo-")]


def series_plans(hook: B24Client, eti: int) -> dict[str, dict[str, Any]]:
    rows = hook.list_all("crm.item.list", {"entityTypeId": eti, "select": ["*"]}, items_key="items")
    return {str(r["xmlId"]): r for r in rows if str(r.get("xmlId") or "").startswith("b24plans-series-demo-")}


def demo_series(hook: B24Client, eti: int) -> None:
    """A monthly series whose last month carried its shortfall into this month, and a quarterly one; the closed
    plans keep their stored figures after the app processed them."""
    found = series_plans(hook, eti)
    assert set(found) == {f"b24plans-series-demo-{u}-{n}" for u in ("monthly", "quarterly") for n in (1, 2)}

    def uf(row: dict[str, Any], suffix: str) -> Any:
        return next(v for k, v in row.items() if k.startswith("ufCrm") and k.endswith(suffix))

    last, now = found["b24plans-series-demo-monthly-1"], found["b24plans-series-demo-monthly-2"]
    assert (float(last["opportunity"]), float(uf(last, "Executed"))) == (4000, 1000)
    assert (float(now["opportunity"]), float(uf(now, "Carried"))) == (7000, 3000)
    assert int(uf(now, "Predecessor")) == int(last["id"]) and int(uf(last, "Successor")) == int(now["id"])
    quarter = found["b24plans-series-demo-quarterly-2"]
    assert float(quarter["opportunity"]) == 9900 and quarter["begindate"][5:7] in ("01", "04", "07", "10")


def first_screen(hook: B24Client, eti: int, plans: list[dict[str, Any]], lines: list[str]) -> None:
    """What a newcomer sees right after start: a fulfilled plan, a partly executed one and open ones, with
    the figures already computed (the URL is printed after the worker ran)."""
    ids = [int(p["id"]) for p in plans]
    items = hook.list_all("crm.item.list", {"entityTypeId": eti, "filter": {"@id": ids}}, items_key="items")
    fields = {suffix: next(k for k in items[0] if k.endswith(suffix)) for suffix in ("Executed", "Remainder")}
    stages = {r["STATUS_ID"]: r.get("SEMANTICS") or "P" for r in hook.call("crm.status.list", {
        "filter": {"ENTITY_ID": f"DYNAMIC_{eti}_STAGE_{items[0]['categoryId']}"}})}
    seen = []
    for item in items:
        executed, amount = Decimal(str(item[fields["Executed"]] or 0)), Decimal(str(item["opportunity"]))
        semantics = stages[item["stageId"]]
        if semantics == "S":
            assert executed >= amount and Decimal(str(item[fields["Remainder"]])) == 0
            seen.append("fulfilled")
        elif semantics == "P" and 0 < executed < amount:
            assert Decimal(str(item[fields["Remainder"]])) == amount - executed
            seen.append("partly")
        elif semantics == "P" and executed == 0:
            seen.append("open")
    assert sorted(set(seen)) == ["fulfilled", "open", "partly"], seen
    summary = next(line for line in lines if line.startswith("demo plans now:"))
    assert "1 fulfilled (Cumplido)" in summary and "1 partly executed" in summary
    assert lines.index(summary) < next(i for i, line in enumerate(lines) if "/marketplace/app/" in line)


def test_demo_installs_follows_a_won_deal_and_reruns_without_duplicates(tmp_path):
    instance = tmp_path / "instance"
    ports = (free_port(), free_port())
    running, stop, thread, lines = start(instance, *ports)
    try:
        assert running.open_url in "\n".join(lines)
        assert (instance / "demo.env").exists() and (instance / "b24plans.db").exists()
        settings = cli_settings({}, env_file=instance / "demo.env")
        assert settings["CLIENT_ID"] == running.client_id and settings["DATABASE"] == str(instance / "b24plans.db")
        hook = B24Client.for_webhook(running.sandbox.webhook_url, running.config)
        types = hook.call("crm.type.list", {"filter": {"title": "Planes de ventas"}})["types"]
        assert len(types) == 1
        eti = int(types[0]["entityTypeId"])
        plans = demo_plans(hook, eti)
        assert len(plans) >= 2
        first_screen(hook, eti, plans, lines)
        demo_series(hook, eti)
        parent = f"parentId{eti}"
        linked = hook.list_all("crm.item.list", {"entityTypeId": 2, "filter": {f">{parent}": 0, "categoryId": 0},
                                                 "select": ["id", parent, "stageSemanticId"]}, items_key="items")
        open_deal = next(d for d in linked if d["stageSemanticId"] == "P")
        plan_id = int(open_deal[parent])
        field = next(k for k in hook.call("crm.item.get", {"entityTypeId": eti, "id": plan_id})["item"]
                     if k.endswith("Executed"))

        def executed() -> float:
            return float(hook.call("crm.item.get", {"entityTypeId": eti, "id": plan_id})["item"][field] or 0)

        before = executed()
        # a person moves the deal to the won stage in the portal shell's deal list (as user 2, a sales manager)
        answer = requests.post(f"{running.sandbox.url}/crm/deal/list/", cookies={"b24sb_user": "2"},
                               data={"id": open_deal["id"], "STAGE_ID": "WON"}, timeout=30, allow_redirects=False)
        assert answer.status_code in (302, 303), answer.text[:300]
        moved = hook.call("crm.item.get", {"entityTypeId": 2, "id": open_deal["id"]})["item"]
        assert moved["stageId"] == "WON"
        deadline = time.monotonic() + 30
        while executed() == before:
            assert time.monotonic() < deadline, "the plan did not follow the won deal"
            time.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    # every event the portal sent reached the app, also the ones of the last writes before Ctrl-C
    assert [(d["event"], d["error"]) for d in running.sandbox.portal.deliveries if d["status"] != 200] == []

    again, stop, thread, lines = start(instance, *ports)
    try:
        assert again.client_id == running.client_id
        assert any("0 created" in line for line in lines)
        hook = B24Client.for_webhook(again.sandbox.webhook_url, again.config)
        assert len(hook.call("crm.type.list", {"filter": {"title": "Planes de ventas"}})["types"]) == 1
        assert sorted(p["id"] for p in demo_plans(hook, eti)) == sorted(p["id"] for p in plans)
        assert len(series_plans(hook, eti)) == 4  # the series were not made again
        assert len(again.sandbox.portal.apps()) == 1
        assert any("0 deal(s) linked, 0 won" in line for line in lines)
        assert hook.call("crm.item.get", {"entityTypeId": 2, "id": open_deal["id"]})["item"]["stageId"] == "WON"
    finally:
        stop.set()
        thread.join(timeout=30)

    for suffix in ("", "-wal", "-shm"):  # the app's database lost; the portal keeps the app
        (instance / f"b24plans.db{suffix}").unlink(missing_ok=True)
    third, stop, thread, lines = start(instance, *ports)
    try:
        hook = B24Client.for_webhook(third.sandbox.webhook_url, third.config)
        assert len(hook.call("crm.type.list", {"filter": {"title": "Planes de ventas"}})["types"]) == 1
        assert sorted(p["id"] for p in demo_plans(hook, eti)) == sorted(p["id"] for p in plans)
        assert len(series_plans(hook, eti)) == 4  # the series were not made again
        assert (instance / "b24plans.db").exists()
        assert any("0 created" in line for line in lines)
    finally:
        stop.set()
        thread.join(timeout=30)
