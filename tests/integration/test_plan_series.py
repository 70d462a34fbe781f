"""Plan series against the sandbox over real HTTP, with simulated dates: the daily job closes a recurring
plan and makes exactly one next-period plan — after two runs, two concurrent runs and a crash between the
create and the back-link."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from test_plan_truth import won_on
from test_reconcile import settle
from test_worker import money

from b24app.cli import cli
from sync import periods, successors

pytestmark = pytest.mark.integration

APRIL = date(2026, 4, 1)


class Series:
    """The user's script plus the portal's list-field ids."""

    def __init__(self, user: Any, installed: Any, sandbox: Any) -> None:
        self.user, self.installed, self.sandbox = user, installed, sandbox
        self.inst = installed.installation
        self.enums = self.inst.enum_map
        self.company = int(user.hook.call("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Acme"}})
                           ["item"]["id"])

    def add(self, amount: int, recurrence: str, policy: str = "NONE", growth: float = 0, won: int = 0,
            begin: str = "2026-03-01", end: str = "2026-03-31", **extra: Any) -> int:
        f = self.user.fields
        plan = self.user.add_plan(amount, begindate=begin, closedate=end, companyId=self.company,
                                  title="Acme · 2026-03",
                                  **{f["RECURRENCE"]: self.enums["RECURRENCE"][recurrence],
                                     f["CARRYOVER"]: self.enums["CARRYOVER"][policy], f["GROWTH"]: growth},
                                  **extra)
        if won:
            deal = self.user.add_deal(plan, won, stage="WON")
            won_on(self.sandbox, deal, f"{begin}T10:00:00+01:00")
        settle(self.sandbox, self.installed)
        return plan

    def close(self, today: date = APRIL) -> Any:
        db = self.installed.live.db()
        try:
            return periods.close_periods(self.installed.live.config, db, today=today)[self.installed.member_id]
        finally:
            db.close()

    def successors(self, plan_id: int) -> list[dict[str, Any]]:
        name = self.user.fields["PREDECESSOR"]
        return self.user.hook.call("crm.item.list", {"entityTypeId": self.user.eti, "filter": {name: plan_id},
                                                     "select": ["*"]})["items"]

    def only_successor(self, plan_id: int) -> dict[str, Any]:
        found = self.successors(plan_id)
        assert len(found) == 1, found
        (successor,) = found
        assert int(self.user.plan(plan_id)[self.user.fields["SUCCESSOR"]]) == int(successor["id"])
        return successor


@pytest.fixture
def plans(user, installed, sandbox) -> Series:
    return Series(user, installed, sandbox)


@pytest.mark.parametrize(("policy", "growth", "amount", "carried"), [
    ("NONE", 0, "4000", "0"),
    ("SHORTFALL", 0, "7000", "3000"),
    ("SHORTFALL", 5, "7200", "3000"),  # growth on the plan's own amount, the carry-over added after it
])
def test_a_monthly_plan_is_continued_once_after_two_runs(plans, user, policy, growth, amount, carried):
    plan = plans.add(4000, "MONTHLY", policy, growth, won=1000)
    first = plans.close()
    assert user.stage_semantics(plan) == "F"  # No cumplido, as the plan-truth rules say
    again = plans.close()
    successor = plans.only_successor(plan)
    assert first.series.created == {plan: int(successor["id"])} and again.series.created == {}
    f = user.fields
    assert money(successor["opportunity"]) == Decimal(amount)
    assert money(successor[f["CARRIED"]]) == Decimal(carried)
    assert (successor["begindate"][:10], successor["closedate"][:10]) == ("2026-04-01", "2026-04-30")
    assert int(successor["companyId"]) == plans.company and successor["currencyId"] == "USD"
    assert int(successor[f["RECURRENCE"]]) == plans.enums["RECURRENCE"]["MONTHLY"]
    assert int(successor[f["CARRYOVER"]]) == plans.enums["CARRYOVER"][policy]
    assert float(successor[f["PROBABILITY"]]) == 60 and float(successor[f["GROWTH"]]) == growth
    assert user.stage_semantics(int(successor["id"])) == "P"
    assert successor["title"] == "Acme · 2026-04"


def test_two_concurrent_runs_make_one_successor(plans, user):
    plan = plans.add(4000, "MONTHLY", "SHORTFALL", won=1000)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(10)
            plans.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert money(plans.only_successor(plan)["opportunity"]) == Decimal("7000")


def test_a_quarterly_plans_successor_covers_the_next_calendar_quarter(plans):
    plan = plans.add(9000, "QUARTERLY", begin="2026-01-01", end="2026-03-31", won=9000)
    plans.close()
    successor = plans.only_successor(plan)
    assert (successor["begindate"][:10], successor["closedate"][:10]) == ("2026-04-01", "2026-06-30")
    assert successor["title"] == "Acme · 2026-Q2"


def test_a_crash_between_create_and_back_link_still_leaves_one_successor(plans, user, monkeypatch):
    plan = plans.add(4000, "MONTHLY", won=1000)
    real = successors.back_link

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(successors, "back_link", crash)
    failed = plans.close()
    assert failed.error and "died" in failed.error
    assert len(plans.successors(plan)) == 1 and not user.plan(plan)[user.fields["SUCCESSOR"]]
    monkeypatch.setattr(successors, "back_link", real)
    fixed = plans.close()
    successor = plans.only_successor(plan)
    assert fixed.series.linked == {plan: int(successor["id"])} and fixed.series.created == {}


def test_a_duplicate_made_elsewhere_is_removed_keeping_the_lowest_id(plans, user):
    plan = plans.add(4000, "MONTHLY", won=1000)
    f = user.fields
    twins = [user.add_plan(4000, begindate="2026-04-01", closedate="2026-04-30", **{f["PREDECESSOR"]: plan})
             for _ in range(2)]
    outcome = plans.close()
    assert plans.only_successor(plan)["id"] == min(twins)
    assert outcome.series.removed == [max(twins)]


def test_recurrence_none_or_a_deleted_successor_stops_the_series(plans, user):
    one_off = plans.add(4000, "NONE", won=1000)
    monthly = plans.add(4000, "MONTHLY", won=1000)
    plans.close()
    assert plans.successors(one_off) == []
    successor = plans.only_successor(monthly)
    user.hook.call("crm.item.delete", {"entityTypeId": user.eti, "id": int(successor["id"])})
    plans.close()
    assert plans.successors(monthly) == []  # a person deleted it: not made again


def test_unusable_card_values_are_flagged_and_skipped_never_crash(plans, user):
    f = user.fields
    growth = plans.add(4000, "MONTHLY", growth=5000)
    cap = plans.add(4000, "MONTHLY", policy="SHORTFALL", **{f["CARRYCAP"]: -3})
    long_month = plans.add(4000, "MONTHLY", begin="2026-02-20", end="2026-03-31")
    fine = plans.add(4000, "MONTHLY")
    outcome = plans.close()
    assert outcome.error is None
    assert outcome.series.flagged == {growth: ["growth_range"], cap: ["cap_negative"],
                                      long_month: ["recurrence_period"]}
    assert [plans.successors(p) for p in (growth, cap, long_month)] == [[], [], []]
    plans.only_successor(fine)


def test_the_command_names_the_plans_it_continued(plans, installed, monkeypatch):
    plan = plans.add(4000, "MONTHLY", won=1000)
    monkeypatch.setenv("B24_ENV", "development")
    for name in ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "PUBLIC_URL", "SECRET_KEY"):
        monkeypatch.setenv(f"B24_{name}", str(installed.live.config[name]))
    monkeypatch.setenv("B24_RATE_BURST", "1000")
    result = CliRunner().invoke(cli, ["close-periods", "--today", "2026-04-01"])
    assert result.exit_code == 0, result.output
    successor = plans.only_successor(plan)
    assert f"1 next-period plan(s) made: #{plan} → #{successor['id']}" in result.output


def test_two_processes_at_once_make_one_successor(plans, installed):
    """Two ``b24plans close-periods`` processes started together (the per-portal file lock and the re-check)."""
    import os
    import subprocess
    import sys

    plan = plans.add(4000, "MONTHLY", "SHORTFALL", growth=5, won=1000)
    env = {**os.environ, "B24_ENV": "development", "B24_RATE_BURST": "1000"}
    for name in ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "PUBLIC_URL", "SECRET_KEY"):
        env[f"B24_{name}"] = str(installed.live.config[name])
    command = [sys.executable, "-c", "from b24app.cli import cli; cli()", "close-periods", "--today", "2026-04-01"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    successor = plans.only_successor(plan)
    assert money(successor["opportunity"]) == Decimal("7200")
    made = [line for out in outputs for line in out.splitlines() if "next-period plan(s) made" in line]
    assert sorted(line.split()[0] for line in made) == ["0", "1"]  # one process made it, the other found it
