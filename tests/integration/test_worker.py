"""The core loop over real HTTP: a user changes deals and plans in the portal (webhook only); the portal
POSTs events to the app; the worker (running in-process) keeps every plan's figures and stage live."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from b24app.db import connect
from b24app.rest import B24Client
from sync import worker

pytestmark = pytest.mark.integration

DEADLINE = 20.0  # seconds a change may take to show (polling; the test moves on as soon as it shows)


def wait_for(read: Callable[[], Any], check: Callable[[Any], bool], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout:.0f}s; last value {value!r}")
        time.sleep(0.2)


def money(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else "0")).quantize(Decimal("0.01"))


@dataclass
class User:
    """A person's script: talks to the portal through the webhook only."""

    hook: B24Client
    eti: int
    fields: dict[str, str]

    @property
    def parent(self) -> str:
        return f"parentId{self.eti}"

    def add_plan(self, amount: int, currency: str = "USD", probability: int = 60, **extra: Any) -> int:
        fields = {"title": "Plan 2026", "opportunity": amount, "currencyId": currency, "isManualOpportunity": "Y",
                  "begindate": "2026-01-01", "closedate": "2099-12-31", self.fields["PROBABILITY"]: probability,
                  **extra}
        return int(self.hook.call("crm.item.add", {"entityTypeId": self.eti, "fields": fields})["item"]["id"])

    def add_deal(self, plan_id: int | None, amount: int, currency: str = "USD", stage: str = "NEW") -> int:
        fields = {"title": f"Deal {amount} {currency}", "opportunity": amount, "currencyId": currency,
                  "stageId": stage, "categoryId": 0, self.parent: plan_id or 0}
        return int(self.hook.call("crm.item.add", {"entityTypeId": 2, "fields": fields})["item"]["id"])

    def update(self, eti: int, item_id: int, **fields: Any) -> None:
        self.hook.call("crm.item.update", {"entityTypeId": eti, "id": item_id, "fields": fields})

    def plan(self, plan_id: int) -> dict[str, Any]:
        return self.hook.call("crm.item.get", {"entityTypeId": self.eti, "id": plan_id})["item"]

    def figures(self, plan_id: int) -> dict[str, Decimal]:
        item = self.plan(plan_id)
        return {s: money(item.get(self.fields[s])) for s in ("EXECUTED", "REMAINDER", "EXECUTION", "PROBABLE")}

    def wait_figures(self, plan_id: int, what: str, **expected: Decimal | int) -> dict[str, Decimal]:
        wanted = {k: money(v) for k, v in expected.items()}
        return wait_for(lambda: self.figures(plan_id),
                        lambda got: all(got[k] == v for k, v in wanted.items()), what)

    def stage_semantics(self, plan_id: int) -> str:
        """The semantics of the plan's stage, as the portal's stage directory says (S success, F failure)."""
        stage = self.plan(plan_id)["stageId"]
        rows = self.hook.call("crm.status.list", {"filter": {"STATUS_ID": stage}})
        semantics = [r.get("SEMANTICS") for r in rows if r.get("STATUS_ID") == stage]
        return semantics[0] or "P" if semantics else "?"

    def rate(self, currency: str) -> Decimal:
        """Units of the base currency one unit of ``currency`` is worth, per crm.currency.list."""
        for row in self.hook.call("crm.currency.list", {}):
            if row["CURRENCY"] == currency:
                return Decimal(str(row["AMOUNT"])) / Decimal(str(row["AMOUNT_CNT"]))
        raise AssertionError(f"{currency} is not a portal currency")


@pytest.fixture
def running_worker(installed) -> Iterator[threading.Event]:
    """The app's inbox worker draining every 0.2 s in this process, with the app's settings."""
    config = installed.live.config
    db = connect(config["DATABASE"])
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(config, db, 0.2, stop), name="worker", daemon=True)
    thread.start()
    yield stop
    stop.set()
    thread.join(timeout=15)
    db.close()



def test_done_when_a_plan_follows_its_deals(user, running_worker):
    plan = user.add_plan(10000, "USD", probability=60)
    usd = user.add_deal(plan, 3000, "USD")
    eur = user.add_deal(plan, 2000, "EUR")
    user.wait_figures(plan, "nothing won", EXECUTED=0, REMAINDER=10000, EXECUTION=0, PROBABLE=6000)
    assert user.stage_semantics(plan) == "P"

    user.update(2, usd, stageId="WON")
    user.wait_figures(plan, "USD deal won", EXECUTED=3000, REMAINDER=7000, EXECUTION=30)

    eur_in_usd = (2000 * user.rate("EUR") / user.rate("USD")).quantize(Decimal("0.01"))
    user.update(2, eur, stageId="WON")
    user.wait_figures(plan, "EUR deal won at the portal's rate", EXECUTED=3000 + eur_in_usd,
                      REMAINDER=7000 - eur_in_usd)

    user.update(2, usd, stageId="NEW")  # un-won
    user.wait_figures(plan, "USD deal un-won", EXECUTED=eur_in_usd, REMAINDER=10000 - eur_in_usd)

    user.hook.call("crm.item.delete", {"entityTypeId": 2, "id": eur})
    user.wait_figures(plan, "EUR deal deleted", EXECUTED=0, REMAINDER=10000, EXECUTION=0)

    big = user.add_deal(None, 12000, "USD", stage="WON")  # a won deal of nobody's plan, then linked
    user.update(2, big, **{user.parent: plan})
    user.wait_figures(plan, "deal linked", EXECUTED=12000, REMAINDER=0, EXECUTION=120)
    wait_for(lambda: user.stage_semantics(plan), lambda s: s == "S", "fulfilled plan in the success stage")

    user.update(2, big, **{user.parent: 0})  # unlinked: back to Activo
    user.wait_figures(plan, "deal unlinked", EXECUTED=0, REMAINDER=10000)
    wait_for(lambda: user.stage_semantics(plan), lambda s: s == "P", "plan back in progress")


def test_a_deal_moved_to_another_plan_or_pipeline(user, running_worker, sandbox):
    a = user.add_plan(5000)
    b = user.add_plan(8000)
    deal = user.add_deal(a, 1000, "USD", stage="WON")
    user.wait_figures(a, "won deal counted in plan A", EXECUTED=1000)
    user.update(2, deal, **{user.parent: b})
    user.wait_figures(a, "plan A after the deal left", EXECUTED=0, REMAINDER=5000)
    user.wait_figures(b, "plan B after the deal came", EXECUTED=1000, REMAINDER=7000)

    pipelines = user.hook.call("crm.category.list", {"entityTypeId": 2})["categories"]
    other = next(int(c["id"]) for c in pipelines if int(c["id"]) != 0)
    user.update(2, deal, categoryId=other)  # another pipeline: the deal starts over there, not won
    moved = user.hook.call("crm.item.get", {"entityTypeId": 2, "id": deal})["item"]
    assert moved["stageSemanticId"] != "S"
    user.wait_figures(b, "plan B after the deal moved pipeline", EXECUTED=0, REMAINDER=8000)
    user.update(2, deal, stageId=f"C{other}:WON")
    user.wait_figures(b, "won in the other pipeline", EXECUTED=1000)


def test_amount_and_probability_edited_in_the_plan_card(user, running_worker):
    plan = user.add_plan(10000, probability=60)
    user.add_deal(plan, 2500, stage="WON")
    user.wait_figures(plan, "first figures", EXECUTED=2500, REMAINDER=7500, EXECUTION=25, PROBABLE=6000)
    user.update(user.eti, plan, opportunity=20000, **{user.fields["PROBABILITY"]: 50})
    user.wait_figures(plan, "after editing the plan", REMAINDER=17500, EXECUTION="12.5", PROBABLE=10000)


def test_the_apps_own_write_does_not_loop(user, running_worker, installed, sandbox):
    plan = user.add_plan(1000)
    user.add_deal(plan, 400, stage="WON")
    user.wait_figures(plan, "figures", EXECUTED=400)

    def settled() -> int:
        assert sandbox.portal.dispatcher.wait_idle(10)
        return installed.live.rows("SELECT count(*) AS n FROM inbox WHERE status IN ('pending', 'processing')"
                                   )[0]["n"]

    wait_for(settled, lambda n: n == 0, "events delivered and processed")
    handled = installed.live.rows("SELECT status FROM inbox WHERE event = 'ONCRMDYNAMICITEMUPDATE' "
                                  "AND object_id = ?", [plan])
    assert handled and {r["status"] for r in handled} == {"done"}  # the app's own write came back as an event
    writes = installed.live.rows("SELECT count(*) AS n FROM plan_snapshots WHERE plan_id = ?", [plan])[0]["n"]
    updated = user.plan(plan)["updatedTime"]
    wait_for(settled, lambda n: n == 0, "nothing left to process")
    assert installed.live.rows("SELECT count(*) AS n FROM plan_snapshots WHERE plan_id = ?", [plan])[0]["n"] \
        == writes
    assert user.plan(plan)["updatedTime"] == updated
