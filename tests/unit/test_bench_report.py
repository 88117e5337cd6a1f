"""bench/: the report renders the committed results, and a quick run leaves them alone."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import bench.__main__ as bench_main
from bench.report import END, START, sections, write_benchmarks_md

REPO = Path(__file__).resolve().parent.parent.parent
RESULTS = json.loads((REPO / "bench" / "results.json").read_text())


def test_benchmarks_md_holds_the_figures_rendered_from_results_json(tmp_path: Path) -> None:
    committed = (REPO / "BENCHMARKS.md").read_text()
    rendered = tmp_path / "BENCHMARKS.md"
    rendered.write_text(committed)

    write_benchmarks_md(RESULTS, rendered)

    assert rendered.read_text() == committed


def test_write_benchmarks_md_replaces_only_the_figures(tmp_path: Path) -> None:
    page = tmp_path / "BENCHMARKS.md"
    page.write_text(f"# Benchmarks\n\nBefore.\n\n{START}\nold figures\n{END}\n\nAfter.\n")

    write_benchmarks_md(RESULTS, page)

    figures = "\n".join(sections(RESULTS))
    assert page.read_text() == f"# Benchmarks\n\nBefore.\n\n{START}\n{figures}\n{END}\n\nAfter.\n"


def test_skipped_benchmarks_say_why() -> None:
    results: dict[str, Any] = copy.deepcopy(RESULTS)
    results["http"] = {"skipped": "wrk is not installed"}
    results["layer"] = {"skipped": "no built layer: run make build"}

    lines = sections(results)

    http_at = lines.index("### Through the local server (`make dev`)")
    assert lines[http_at + 1 : http_at + 3] == ["", "Skipped: wrk is not installed"]
    assert lines[-3:] == ["### Layer", "", "Skipped: no built layer: run make build"]


def test_a_quick_run_leaves_the_committed_results_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RESULTS", "QUICK_RESULTS", "BENCHMARKS"):
        monkeypatch.setattr(bench_main, name, tmp_path / getattr(bench_main, name).name)

    said = bench_main.record(RESULTS, quick=True)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["results-quick.json"]
    assert json.loads((tmp_path / "results-quick.json").read_text()) == RESULTS
    assert "results-quick.json" in said


def test_quick_results_are_ignored_by_git() -> None:
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert str(bench_main.QUICK_RESULTS.relative_to(REPO)) in ignored


def test_the_list_plan_is_shown_when_measured_and_a_scan_of_the_table_stands_out() -> None:
    results: dict[str, Any] = copy.deepcopy(RESULTS)
    index_scan = {"node": "Index Scan", "index": "bookings_by_user", "rows_read": 59}
    seq_scan = {"node": "Seq Scan", "index": None, "rows_read": 20000}
    results["list_plan"] = {
        "users": 501,
        "bookings": 20000,
        "busy_user_bookings": 400,
        "index": "bookings_by_user",
        "pages": {
            "busy: first page": {
                "reads_of_bookings": [index_scan],
                "only_through_index": True,
                "seq_scan_on_bookings": False,
                "sorts": 1,
                "plan": ["Limit", "  ->  Index Scan using bookings_by_user on bookings"],
            },
            "someone: first page": {
                "reads_of_bookings": [seq_scan],
                "only_through_index": False,
                "seq_scan_on_bookings": True,
                "sorts": 2,
                "plan": ["Sort", "  ->  Seq Scan on bookings"],
            },
        },
        "plan_shown": "busy: first page",
    }

    lines = sections(results)

    at = next(i for i, line in enumerate(lines) if line.startswith("### GET /bookings: the plan"))
    assert "20,000 bookings, 501 users, the busiest with 400" in lines[at]
    assert lines[at + 4 : at + 6] == [
        "| busy: first page | Index Scan (bookings_by_user) | 59 | yes | no | 1 |",
        "| someone: first page | Seq Scan (None) | 20000 | **no** | **yes** | 2 |",
    ]
    assert lines[at + 7 : at + 14] == [
        "busy: first page (`EXPLAIN (ANALYZE, COSTS OFF)`):",
        "",
        "```",
        "Limit",
        "  ->  Index Scan using bookings_by_user on bookings",
        "```",
        "",
    ]
    assert lines[at + 14].startswith("### Contention")
    # Results from before the plan was measured render without the section.
    del results["list_plan"]
    assert not any(line.startswith("### GET /bookings") for line in sections(results))


def test_the_capacity_race_is_shown_when_measured_below_the_other_contention_runs() -> None:
    results: dict[str, Any] = copy.deepcopy(RESULTS)
    results["contention"]["same slot, Capacity=3"] = {
        "throughput_rps": {"median": 1500.0, "min": 1400.0, "max": 1600.5},
        "p50_ms": {"median": 4.0, "min": 3.9, "max": 4.1},
        "p99_ms": {"median": 14.0, "min": 13.0, "max": 15.0},
        "requests_per_run": 1200,
        "successes_per_run": [450, 449],
        "expected_successes": 450,
        "lost_bookings": 0,
        "unexplained_rows": 1,
        "capacity": 3,
        "over_capacity_slots": 2,
        "one_bay_overlapping_pairs": 0,
        "bookings_per_raced_slot": [{"3": 150}, {"2": 1, "3": 149}],
    }

    lines = sections(results)

    at = next(i for i, line in enumerate(lines) if line.startswith("### Contention"))
    assert lines[at + 4].startswith("| same slot | ")
    assert lines[at + 5].startswith("| distinct slots | ")
    assert lines[at + 6 : at + 11] == [
        "",
        "| mode | throughput (req/s) | p50 | p99 | successes per run (expected)"
        " | raced slots × confirmed bookings in each, per run | slots over 3"
        " | one bay overlapping | lost | unexplained rows |",
        "|---|---|---|---|---|---|---|---|---|---|",
        "| same slot, Capacity=3 | 1500.00 [1400.00–1600.50] | 4.00 [3.90–4.10]"
        " | 14.00 [13.00–15.00] | [450, 449] (450) | [150 × 3, 1 × 2 + 149 × 3]"
        " | 2 | 0 | 0 | 1 |",
        "",
    ]
    assert lines[at + 11] == "### Through the local server (`make dev`)"
