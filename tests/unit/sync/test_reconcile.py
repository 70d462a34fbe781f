

def test_reconcile_reports_progress_for_reads_and_each_write_batch(portal, db, inst):
    plans = [portal.add_plan("1000") for _ in range(70)]
    seen = []
    reconcile.reconcile_installation(portal, db, inst, today=date(2026, 6, 1),
                                     progress=lambda label, done, total: seen.append((label, done, total)))
    assert [s[0] for s in seen[:3]] == ["rates", "plans", "deals"]
    writes = [s for s in seen if s[0] == "writes"]
    assert writes == [("writes", 0, len(plans)), ("writes", 50, 70), ("writes", 20, 70)]
