"""``make bench`` / ``make bench-quick``: reconcile, event burst, plans page and a sheet import, each against its
baseline.

    .venv/bin/python bench/run.py [--quick] [--out bench/results.json]

Every figure is measured against the sandbox portal over real HTTP on loopback, with its baseline on the same
data in the same run; data is seeded straight into the sandbox's store. Writes the results as JSON and prints a
table with the ratios and the targets (targets live here, never in a test).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_burst  # noqa: E402
import bench_page  # noqa: E402
import bench_reconcile  # noqa: E402
import bench_sheet  # noqa: E402
from harness import machine  # noqa: E402

FULL = {"plans": 1000, "deals": 20000, "growth": [2000, 20000, 100000], "burst_plans": 500, "events": 10000,
        "baseline_sample": 1000, "page_plans": 5000, "repeat": 7, "sheet_clients": 500}
QUICK = {"plans": 20, "deals": 400, "growth": [100, 400], "burst_plans": 20, "events": 200,
         "baseline_sample": None, "page_plans": 120, "repeat": 3, "sheet_clients": 40}
TINY = {"plans": 4, "deals": 40, "growth": [40], "burst_plans": 4, "events": 20, "baseline_sample": None,
        "page_plans": 60, "repeat": 1, "sheet_clients": 5}


def run(sizes: dict[str, Any], out: Path) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="b24bench-") as tmp:
        folder = Path(tmp)
        results: dict[str, Any] = {"machine": machine(), "sizes": sizes}
        results["reconcile"] = bench_reconcile.run(folder / "reconcile", sizes["plans"], sizes["deals"],
                                                   sizes["growth"])
        results["event_burst"] = bench_burst.run(folder / "burst", sizes["burst_plans"], sizes["events"],
                                                 baseline_sample=sizes["baseline_sample"])
        results["plans_page"] = bench_page.run(folder / "page", sizes["page_plans"], sizes["repeat"])
        results["sheet_import"] = bench_sheet.run(folder / "sheet", sizes["sheet_clients"])
    results["targets"] = targets(results)
    results["seconds"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return results


def targets(r: dict[str, Any]) -> dict[str, bool]:
    rec, burst, page = r["reconcile"], r["event_burst"], r["plans_page"]
    growth = rec["growth"]
    small, big = growth[0], growth[-1]
    scale = big["deals"] / max(small["deals"], 1)
    return {
        "reconcile_within_1.1x_lower_bound": rec["app"]["http_calls"] <= 1.1 * rec["lower_bound_calls"],
        "reconcile_50x_fewer_calls_than_naive": rec["naive"]["http_calls"] >= 50 * rec["app"]["http_calls"],
        "reconcile_no_rate_limit_rejections": rec["app"]["rate_limited"] == 0 == rec["app_cold"]["rate_limited"],
        "reconcile_peak_rss_under_150mb": rec["app"]["peak_rss_mb"] < 150,
        "reconcile_calls_grow_at_most_linearly": big["http_calls"] <= scale * small["http_calls"],
        "burst_no_event_lost": burst["lost"] == 0,
        "burst_ack_p99_at_most_25ms": burst["ack_ms"]["p99"] <= 25,
        "burst_20x_fewer_calls_than_one_by_one": burst["baseline_http_calls"] >= 20 * burst["http_calls"],
        "page_at_most_2_portal_calls_per_view": all(v["portal_calls"] <= 2 for v in page["views"].values()),
        "page_app_p95_at_most_50ms": all(v["app_ms"]["p95"] <= 50 for v in page["views"].values()),
        "sheet_dry_run_app_time_under_10s": r["sheet_import"]["dry_run"]["app_s"] < 10,
        "sheet_write_in_ceil_changes_over_50_batches": (r["sheet_import"]["write"]["batch_calls"]
                                                        <= r["sheet_import"]["batch_calls_bound"]),
        "sheet_grid_first_screen_without_all_rows": (r["sheet_import"]["grid"]["first_screen_rows"]
                                                     < r["sheet_import"]["grid"]["rows"]
                                                     or r["sheet_import"]["grid"]["rows"] <= 50),
        "sheet_second_import_changes_nothing": (r["sheet_import"]["again"]["create"]
                                                == r["sheet_import"]["again"]["change"] == 0),
    }


def table(r: dict[str, Any]) -> str:
    rec, burst, page = r["reconcile"], r["event_burst"], r["plans_page"]
    app, naive = rec["app"], rec["naive"]
    lines = [f"machine: {r['machine']['cpus']} cores, {r['machine']['memory_gib']} GiB, Python "
             f"{r['machine']['python']}, load {r['machine']['load_average']}",
             f"\nreconcile {rec['plans']} plans / {rec['deals']} deals (30 % won, 4 currencies); "
             f"lower bound {rec['lower_bound_calls']} calls",
             f"{'':28s} {'HTTP':>7s} {'cmds':>7s} {'wall s':>8s} {'cloud s':>8s} {'RSS MB':>7s} {'503':>5s}",
             *(f"{label:28s} {a['http_calls']:7d} {a['commands']:7d} {a['wall_s']:8.2f} "
               f"{a['cloud_projected_s']:8.1f} {a['peak_rss_mb']:7.1f} {a['rate_limited']:5d}"
               for label, a in (("b24plans reconcile, cold", rec["app_cold"]), ("b24plans reconcile, warm", app))),
             f"{'naive per plan (no limit)':28s} {naive['http_calls']:7d} {naive['commands']:7d} "
             f"{naive['wall_s']:8.2f} {naive['cloud_projected_s']:8.1f} {'':>7s} {naive['rate_limited']:5d}",
             f"ratio naive/ours: {rec['ratios']['calls_naive_over_app']}x calls, "
             f"{rec['ratios']['cloud_time_naive_over_app']}x cloud time; ours/lower bound "
             f"{rec['ratios']['calls_app_over_lower_bound']}x",
             "growth (deals: HTTP calls / lower bound, wall s, RSS MB): " + "; ".join(
                 f"{g['deals']}: {g['http_calls']}/{g['lower_bound_calls']}, {g['wall_s']} s, {g['peak_rss_mb']} MB"
                 for g in rec["growth"]),
             f"\nevent burst {burst['events']} ONCRMDEALUPDATE over {burst['plans']} plans "
             f"({burst['distinct_deals']} deals, concurrency {burst['event_concurrency']}, {burst['server']})",
             f"handler ms (in the app) p50 {burst['ack_ms']['p50']} p95 {burst['ack_ms']['p95']} p99 "
             f"{burst['ack_ms']['p99']}; as the sender saw it p50 {burst['sender_ms']['p50']} p99 "
             f"{burst['sender_ms']['p99']}",
             f"delivered in {burst['delivery_s']} s; "
             f"lost {burst['lost']}; settled in {burst['settle_s']} s with {burst['http_calls']} HTTP calls "
             f"({burst['rate_limited']} rate-limited), plans wrong after: {burst['plans_wrong_after']}",
             f"one event at a time: {burst['baseline_http_calls']} HTTP calls (measured on "
             f"{burst['baseline']['events_measured']} events), cloud ≥ {burst['baseline']['cloud_projected_s']} s; "
             f"ratio {burst['ratio_calls_baseline_over_app']}x",
             f"\nplans page, {page['plans']} plans, {page['repeat']} first views each "
             f"(app ms = server time minus portal wait)",
             f"{'view':36s} {'app p50':>8s} {'app p95':>8s} {'wall p50':>9s} {'calls':>6s} {'base/view calls':>16s}"]
    for name, v in [*page["views"].items(), ("baseline: " + page["baseline"]["view"], page["baseline"])]:
        lines.append(f"{name:36s} {v['app_ms']['p50']:8.1f} {v['app_ms']['p95']:8.1f} {v['wall_ms']['p50']:9.1f} "
                     f"{v['portal_calls']:6d} {v.get('ratio_calls_baseline_over_view', ''):>16}")
    sheet = r["sheet_import"]
    dry, write, base = sheet["dry_run"], sheet["write"], sheet["one_by_one"]
    lines += [f"\nsheet import, {sheet['clients']} clients x 12 months ({sheet['cells']} cells, .xlsx, half by name)",
              f"dry run: app {dry['app_s']} s (wall {dry['wall_s']} s), {dry['http_calls']} HTTP calls, "
              f"{dry['create']} to create",
              f"write: {write['plans_written']} plans in {write['batch_calls']} batch calls (bound "
              f"{sheet['batch_calls_bound']}), {write['http_calls']} HTTP calls, {write['wall_s']} s, cloud "
              f"{write['cloud_projected_s']} s; again: {sheet['again']['unchanged']} unchanged, "
              f"{sheet['again']['create'] + sheet['again']['change']} to write",
              f"grid of the year: first screen {sheet['grid']['first_screen_rows']} rows in "
              f"{sheet['grid']['first_screen_s']} s ({sheet['grid']['first_screen_portal_calls']} portal calls), the "
              f"other {sheet['grid']['rows'] - sheet['grid']['first_screen_rows']} rows in "
              f"{sheet['grid']['rest_chunks']} chunks, {sheet['grid']['rest_s']} s",
              f"one by one: {base['plans_written']} plans, {base['http_calls']} HTTP calls, {base['wall_s']} s, cloud "
              f"{base['cloud_projected_s']} s; ratio {sheet['ratio_calls_one_by_one_over_write']}x calls, "
              f"{sheet['ratio_cloud_time_one_by_one_over_write']}x cloud time"]
    lines.append("\ntargets (reconcile: warm run): " + ", ".join(f"{k} {'met' if ok else 'MISSED'}"
                                                             for k, ok in r["targets"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.json")
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.out)
    print(table(results))
    print(f"\nwritten to {args.out} in {results['seconds']} s")


if __name__ == "__main__":
    main()
