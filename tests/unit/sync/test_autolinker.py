"""Auto-linking in the worker against the in-memory portal: batched reads and writes, no loop, a person's
unlink recognised from the deal -> plan index (sync/autolinker.py, sync/worker.py)."""

from __future__ import annotations

from sync_fakes import ETI, PARENT

from b24app import linkstore, planstore
from sync import worker

CONFIG = {"AUTO_LINK": True}


def client_plan(portal, company: int, begin: str = "2026-10-01", end: str = "2026-12-31") -> int:
    return portal.add_plan("4000", companyId=company, begindate=f"{begin}T00:00:00+00:00",
                           closedate=f"{end}T00:00:00+00:00")


def client_deal(portal, company: int, closedate: str = "2026-11-15", plan: int = 0) -> int:
    deal = portal.add_deal(plan or None, "500")
    portal.items[2][deal].update(companyId=company, contactId=0, closedate=f"{closedate}T00:00:00+00:00",
                                 title=f"Deal {deal}")
    return deal


def deal_writes(portal) -> list[int]:
    return [item_id for item_id, fields in portal.updates if PARENT in fields]


def run(portal, db, inst, deals, config=CONFIG, **work):
    return worker.process(portal, db, inst, worker.Work(deals=set(deals), **work), config)


def linking_calls(portal, db, inst, clients: int, first: int) -> int:
    deals = []
    for n in range(clients):
        client_plan(portal, first + n)
        deals.append(client_deal(portal, first + n))
    before = portal.http_calls
    run(portal, db, inst, deals)
    assert sorted(deal_writes(portal)) == sorted(deals)
    assert all(portal.items[2][d][PARENT] for d in deals)
    return portal.http_calls - before


def test_links_are_read_and_written_in_batches_not_per_deal(portal, db, inst):
    ten = linking_calls(portal, db, inst, 10, first=100)
    portal.updates.clear()
    forty = linking_calls(portal, db, inst, 40, first=200)
    # read the deals, read the candidates, write the links, recompute the linked plans (read, write)
    assert ten == forty <= 5


def test_the_apps_own_link_event_changes_nothing(portal, db, inst):
    plan = client_plan(portal, 7)
    deal = client_deal(portal, 7)
    run(portal, db, inst, [deal])
    assert portal.items[2][deal][PARENT] == plan
    portal.updates.clear()
    run(portal, db, inst, [deal])  # the ONCRMDEALUPDATE the link caused
    run(portal, db, inst, [deal])
    assert deal_writes(portal) == [] and portal.updates == []


def test_a_persons_unlink_in_the_card_is_recorded_and_respected(portal, db, inst):
    plan = client_plan(portal, 7)
    deal = client_deal(portal, 7)
    run(portal, db, inst, [deal])
    assert planstore.plan_of_deal(db, inst.member_id, deal) == plan
    portal.items[2][deal][PARENT] = 0  # cleared in the card
    run(portal, db, inst, [deal])
    assert portal.items[2][deal][PARENT] == 0
    assert linkstore.decision(db, inst.member_id, deal)["source"] == "card"
    run(portal, db, inst, [deal])
    assert portal.items[2][deal][PARENT] == 0


def test_a_deleted_plan_is_not_a_persons_unlink(portal, db, inst):
    old = client_plan(portal, 7)
    deal = client_deal(portal, 7)
    run(portal, db, inst, [deal])
    assert portal.items[2][deal][PARENT] == old
    del portal.items[ETI][old]  # the portal unlinks the deals of a deleted plan
    portal.items[2][deal][PARENT] = 0
    new = client_plan(portal, 7)
    run(portal, db, inst, [deal], deleted_plans={old})
    assert linkstore.decision(db, inst.member_id, deal) is None
    assert portal.items[2][deal][PARENT] == new


def test_two_candidates_wait_and_a_new_plan_event_decides_again(portal, db, inst):
    q4 = client_plan(portal, 7)
    deal = client_deal(portal, 7, closedate="2027-02-10")
    run(portal, db, inst, [deal])
    assert [p.deal_id for p in linkstore.pending(db, inst.member_id)] == [deal]
    assert [c.id for c in linkstore.pending(db, inst.member_id)[0].candidates] == [q4]
    q1 = client_plan(portal, 7, "2027-01-01", "2027-03-31")
    run(portal, db, inst, [], plans={q1}, new_plans={q1})
    assert portal.items[2][deal][PARENT] == q1 and linkstore.pending(db, inst.member_id) == []


def test_off_links_nothing(portal, db, inst):
    client_plan(portal, 7)
    deal = client_deal(portal, 7)
    run(portal, db, inst, [deal], config={"AUTO_LINK": False})
    assert deal_writes(portal) == [] and linkstore.pending(db, inst.member_id) == []


def test_a_scan_begun_just_after_a_pending_write_drops_it_when_it_did_not_find_it(db, inst):
    linkstore.put_pending(db, inst.member_id, [linkstore.Pending(deal_id=5), linkstore.Pending(deal_id=6)])
    scan = linkstore.stamp()  # within the same second, as a reconcile right after a drain
    linkstore.put_pending(db, inst.member_id, [linkstore.Pending(deal_id=7)])  # a worker's write during the scan
    assert linkstore.drop_stale_pending(db, inst.member_id, keep=[6], scanned_at=scan) == 1
    assert sorted(p.deal_id for p in linkstore.pending(db, inst.member_id)) == [6, 7]
