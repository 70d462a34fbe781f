"""``make bench-quick``'s entry point at tiny sizes writes a well-formed ``results.json`` (no timing is checked)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.integration
def test_bench_writes_every_figure_the_issue_lists(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop("run", None)
    import run as bench_run

    out = tmp_path / "results.json"
    bench_run.run(bench_run.TINY, out)
    results = json.loads(out.read_text())
    rec, burst, page = results["reconcile"], results["event_burst"], results["plans_page"]
    assert {"cpus", "python"} <= results["machine"].keys()
    assert rec["plans"] == 4 and rec["deals"] == 40 and rec["lower_bound_calls"] == 3
    assert {"http_calls", "wall_s", "peak_rss_mb", "rate_limited"} <= rec["app"].keys()
    assert {"http_calls", "wall_s"} <= rec["naive"].keys() and rec["naive"]["plans_written"] == 4
    assert [g["deals"] for g in rec["growth"]] == [40]
    assert burst["events"] == 20 and burst["lost"] == 0 and burst["plans_wrong_after"] == 0
    assert {"p50", "p95", "p99"} <= burst["ack_ms"].keys()
    assert {"http_calls", "baseline_http_calls", "settle_s"} <= burst.keys()
    assert set(page["views"]) == {"page 1", "sorted by amount", "filtered Activo + USD by remainder", "totals",
                                  "next page"}
    for view in page["views"].values():
        assert {"p50", "p95"} <= view["app_ms"].keys() and view["portal_calls"] >= 1
    assert page["baseline"]["portal_calls"] >= 1
    sheet = results["sheet_import"]
    assert sheet["clients"] == 5 and sheet["cells"] == 60 and sheet["dry_run"]["create"] == 60
    assert sheet["write"]["plans_written"] == 60 and sheet["write"]["batch_calls"] == sheet["batch_calls_bound"] == 2
    assert sheet["again"]["unchanged"] == 60 and sheet["one_by_one"]["http_calls"] >= 60
    assert sheet["grid"]["rows"] == sheet["grid"]["first_screen_rows"] == 5 and sheet["grid"]["rest_chunks"] == 0
    assert all(isinstance(ok, bool) for ok in results["targets"].values())
    assert "reconcile" in bench_run.table(results)
