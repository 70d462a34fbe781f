"""The inbox worker: events coalesced by plan, the plan a deal left recomputed, failures recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sync_fakes import ETI, FIELD_MAP, PARENT, STAGE_MAP

from b24app import planstore
from b24app.installations import InstallationStore
from b24app.rest.clients import ClientsFrom
from b24app.rest.errors import ReauthRequired, ServerError
from sync import inbox, worker


def config(make):
    """The worker's config with its clients made by ``make(inst)``."""
    return {"DATABASE": ":memory:", "CLIENTS": ClientsFrom(make)}


def drain(db, portal, **kwargs):
    return worker.drain_once(config(lambda inst: portal), db, **kwargs)


def won(portal, plan_id):
    return portal.plan(plan_id).get(FIELD_MAP["EXECUTED"])


def statuses(db):
    return [(r["event"], r["status"]) for r in db.query("SELECT event, status FROM inbox ORDER BY id")]


def test_a_burst_of_deal_events_recomputes_each_plan_once(portal, db, inst):
    plan = portal.add_plan("1000")
    deals = [portal.add_deal(plan, "100", won=True) for _ in range(3)]
    for deal in deals:
        inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal, {"FIELDS": {"ID": str(deal)}})
    stats = drain(db, portal)
    assert (stats.claimed, stats.done, stats.plans_updated) == (3, 3, 1)
    assert won(portal, plan) == 300
    assert len(portal.updates) == 1
    # deals unknown to the index: read them with rates (1 batch), then their plan (1), write (1 batch)
    assert portal.http_calls == 3
    assert statuses(db) == [("ONCRMDEALUPDATE", "done")] * 3
    for deal in deals:  # the same deals change again: now the index names their plan
        portal.items[2][deal]["stageSemanticId"] = "P"
        inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal, {"FIELDS": {"ID": str(deal)}})
    portal.http_calls = 0
    drain(db, portal)
    assert won(portal, plan) == 0
    assert portal.http_calls == 2  # one read batch (plan, its deals, the named deals, rates), one write batch


def test_a_deal_moved_to_another_plan_recomputes_both(portal, db, inst):
    a, b = portal.add_plan("1000"), portal.add_plan("1000")
    deal = portal.add_deal(a, "400", won=True)
    inbox.enqueue(db, "m1", "ONCRMDEALADD", 2, deal)
    drain(db, portal)
    assert won(portal, a) == 400
    portal.items[2][deal][PARENT] = b
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal)
    drain(db, portal)
    assert (won(portal, a), won(portal, b)) == (0, 400)
    assert planstore.plans_of_deals(db, "m1", [deal]) == {deal: b}


def test_a_deleted_deal_recomputes_the_plan_it_was_in(portal, db, inst):
    plan = portal.add_plan("1000")
    deal = portal.add_deal(plan, "400", won=True)
    inbox.enqueue(db, "m1", "ONCRMDEALADD", 2, deal)
    drain(db, portal)
    del portal.items[2][deal]
    inbox.enqueue(db, "m1", "ONCRMDEALDELETE", 2, deal)
    drain(db, portal)
    assert won(portal, plan) == 0
    assert planstore.plans_of_deals(db, "m1", [deal]) == {}


def test_plan_events_count_only_for_our_smart_process(portal, db, inst):
    plan = portal.add_plan("1000")
    inbox.enqueue(db, "m1", "ONCRMDYNAMICITEMUPDATE", ETI + 4, plan)  # another smart process
    stats = drain(db, portal)
    assert stats.done == 1 and portal.http_calls == 0 and won(portal, plan) is None
    inbox.enqueue(db, "m1", "ONCRMDYNAMICITEMUPDATE", ETI, plan)  # the plan card was edited
    drain(db, portal)
    assert portal.plan(plan)[FIELD_MAP["PROBABLE"]] == 600


def test_a_currency_event_recomputes_every_open_plan_at_the_rates_of_each_win(portal, db, inst):
    a, b = portal.add_plan("1000", "EUR"), portal.add_plan("1000", "USD")
    portal.add_deal(a, "110", "USD", won=True)
    portal.add_deal(b, "100", "EUR", won=True)
    inbox.enqueue(db, "m1", "ONCRMCURRENCYUPDATE", 0, 0, {"FIELDS": {"ID": "EUR"}})
    drain(db, portal)
    assert (won(portal, a), won(portal, b)) == (100, 110)
    portal.currencies[1]["AMOUNT"] = "1.2500"
    inbox.enqueue(db, "m1", "ONCRMCURRENCYUPDATE", 0, 0, {"FIELDS": {"ID": "EUR"}})
    drain(db, portal)
    assert (won(portal, a), won(portal, b)) == (100, 110)  # deals won before the change keep their rate
    later = portal.add_deal(b, "100", "EUR", won=True)
    portal.items[2][later]["movedTime"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, later)
    drain(db, portal)
    assert won(portal, b) == 110 + 125  # a deal won after it converts at the new rate


def test_an_uninstalled_portal_is_skipped_without_calls(portal, db, inst):
    InstallationStore(db).mark_uninstalled("m1")
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 5)
    stats = drain(db, portal)
    assert stats.skipped == 1 and portal.http_calls == 0
    row = next(db.query("SELECT status, error FROM inbox"))
    assert row["status"] == "failed" and "uninstalled" in row["error"]


def test_refused_tokens_are_skipped_with_a_clear_error(db, inst):
    def factory(inst):
        raise ReauthRequired(400, "invalid_grant", "refresh token expired", "oauth")

    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 5)
    stats = worker.drain_once(config(factory), db)
    assert stats.skipped == 1
    row = next(db.query("SELECT status, error FROM inbox"))
    assert row["status"] == "failed" and "admin must open the app" in row["error"]


@pytest.mark.parametrize("attempts_before_success", [1, 2])
def test_a_failure_is_retried_a_bounded_number_of_times(portal, db, inst, attempts_before_success):
    plan = portal.add_plan("1000")
    deal = portal.add_deal(plan, "100", won=True)
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal)
    failures = {"left": attempts_before_success}

    def flaky(inst):
        if failures["left"]:
            failures["left"] -= 1
            raise ServerError(500, "INTERNAL_SERVER_ERROR", "boom", "batch")
        return portal

    for _ in range(attempts_before_success):
        stats = worker.drain_once(config(flaky), db)
        assert stats.failed == 1
        row = next(db.query("SELECT status, error FROM inbox"))
        assert row["status"] == "pending" and "INTERNAL_SERVER_ERROR" in row["error"]
    worker.drain_once(config(flaky), db)
    assert won(portal, plan) == 100
    assert statuses(db) == [("ONCRMDEALUPDATE", "done")]


def test_a_permanent_failure_stops_after_the_maximum_attempts(db, inst):
    def broken(inst):
        raise ServerError(500, "INTERNAL_SERVER_ERROR", "boom", "batch")

    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, 5)
    for _ in range(worker.MAX_ATTEMPTS + 2):
        worker.drain_once(config(broken), db)
    row = next(db.query("SELECT status, attempts FROM inbox"))
    assert (row["status"], row["attempts"]) == ("failed", worker.MAX_ATTEMPTS)


def test_a_currency_event_does_not_swallow_deal_events_of_the_same_drain(portal, db, inst):
    closed = portal.add_plan("1000", stage="F")  # closed by hand; the sweep covers open and fulfilled plans only
    deal = portal.add_deal(closed, "1000", won=True)
    inbox.enqueue(db, "m1", "ONCRMCURRENCYUPDATE", 0, 0, {"FIELDS": {"ID": "EUR"}})
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal)
    stats = drain(db, portal)
    assert stats.done == 2
    assert portal.plan(closed)["stageId"] == STAGE_MAP["S"]  # fulfilled wins over closed by hand


def test_an_uninstall_the_portal_confirms_drops_the_tokens_and_skips_the_rest(portal, db, inst):
    plan = portal.add_plan("1000")
    deal = portal.add_deal(plan, "100", won=True)
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal)
    inbox.enqueue(db, "m1", "ONAPPUNINSTALL", 0, 0, {"CLEAN": "0"})
    portal.app_gone = True  # a real uninstall: the app's tokens are refused
    stats = drain(db, portal)
    assert (stats.done, stats.skipped) == (1, 1)
    stored = InstallationStore(db).find("m1")
    assert stored.status == "uninstalled" and stored.access_token == "" and stored.refresh_token == ""
    assert stored.entity_type_id == ETI  # our ids stay: a reinstall finds the same smart process
    assert statuses(db) == [("ONCRMDEALUPDATE", "failed"), ("ONAPPUNINSTALL", "done")]
    assert [r["action"] for r in db.query("SELECT action FROM audit_log")] == ["uninstall"]


def test_a_forged_or_replayed_uninstall_changes_nothing(portal, db, inst):
    plan = portal.add_plan("1000")
    deal = portal.add_deal(plan, "100", won=True)
    inbox.enqueue(db, "m1", "ONAPPUNINSTALL", 0, 0, {"CLEAN": "1"})
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal)
    stats = drain(db, portal)  # the portal still answers the app's token: the app is installed
    assert stats.done == 2
    stored = InstallationStore(db).find("m1")
    assert stored.is_active and stored.refresh_token == "r" * 20
    assert won(portal, plan) == 100  # the deal event of the same drain is processed as usual
    assert "uninstall_refused" in [r["action"] for r in db.query("SELECT action FROM audit_log")]


def test_an_uninstall_the_portal_cannot_confirm_yet_is_retried(portal, db, inst):
    inbox.enqueue(db, "m1", "ONAPPUNINSTALL", 0, 0, {})

    def unreachable(inst):
        raise ServerError(503, "", "the portal is down", "app.info")

    stats = worker.drain_once(config(unreachable), db)
    assert stats.failed == 1 and InstallationStore(db).find("m1").is_active
    assert statuses(db) == [("ONAPPUNINSTALL", "pending")]


def test_an_app_update_reprovisions_only_when_the_portal_reports_a_new_version(portal, db, inst, monkeypatch):
    from b24app.provisioning import provision

    runs = []
    monkeypatch.setattr(provision, "reprovision", lambda client, db, inst, config: runs.append(inst.app_version))
    inbox.enqueue(db, "m1", "APP.PROVISION", 0, 0, {})
    drain(db, portal)  # app.info answers VERSION 1; the stored version was ""
    assert runs == ["1"] and InstallationStore(db).find("m1").app_version == "1"
    inbox.enqueue(db, "m1", "APP.PROVISION", 0, 0, {})  # a forged or repeated update: same version
    drain(db, portal)
    assert runs == ["1"]


def test_a_forged_plan_delete_keeps_the_index_of_a_plan_that_still_exists(portal, db, inst):
    plan = portal.add_plan("1000")
    deal = portal.add_deal(plan, "100", won=True)
    inbox.enqueue(db, "m1", "ONCRMDEALUPDATE", 2, deal)
    drain(db, portal)
    inbox.enqueue(db, "m1", "ONCRMDYNAMICITEMDELETE", ETI, plan)  # the plan is still in the portal
    drain(db, portal)
    assert planstore.plans_of_deals(db, "m1", [deal]) == {deal: plan}
    del portal.items[ETI][plan]  # now it really is gone, and its deal with it
    del portal.items[2][deal]
    inbox.enqueue(db, "m1", "ONCRMDYNAMICITEMDELETE", ETI, plan)
    drain(db, portal)
    assert planstore.plans_of_deals(db, "m1", [deal]) == {}
