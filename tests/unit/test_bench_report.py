"""bench/: the report renders the committed results; only a published run rewrites them."""

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


@pytest.fixture
def bench_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's bench/ and BENCHMARKS.md in tmp_path, bench writing there."""
    for name in ("RESULTS", "BENCHMARKS", "LOCAL_RESULTS", "QUICK_RESULTS"):
        path = getattr(bench_main, name)
        monkeypatch.setattr(bench_main, name, tmp_path / path.relative_to(REPO))
    monkeypatch.setattr(bench_main, "REPO", tmp_path)
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "results.json").write_text("{}\n")
    (tmp_path / "BENCHMARKS.md").write_text(f"# Benchmarks\n\n{START}\nold\n{END}\n")
    return tmp_path


def written(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): path.read_text()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("quick", "local"),
    [(False, ".local/bench/results.json"), (True, ".local/bench/results-quick.json")],
)
def test_a_run_writes_its_figures_under_local_and_leaves_the_committed_ones_alone(
    bench_paths: Path, quick: bool, local: str
) -> None:
    said = bench_main.record(RESULTS, quick=quick, publish=False)

    assert written(bench_paths) == {
        "BENCHMARKS.md": f"# Benchmarks\n\n{START}\nold\n{END}\n",
        "bench/results.json": "{}\n",
        local: json.dumps(RESULTS, indent=2) + "\n",
    }
    assert said == (
        f"wrote {local} (git-ignored); bench/results.json and BENCHMARKS.md are untouched:"
        " make bench-publish refreshes them"
    )


def test_a_published_run_also_rewrites_the_committed_figures(bench_paths: Path) -> None:
    said = bench_main.record(RESULTS, quick=False, publish=True)

    figures = "\n".join(sections(RESULTS))
    assert written(bench_paths) == {
        ".local/bench/results.json": json.dumps(RESULTS, indent=2) + "\n",
        "BENCHMARKS.md": f"# Benchmarks\n\n{START}\n{figures}\n{END}\n",
        "bench/results.json": json.dumps(RESULTS, indent=2) + "\n",
    }
    assert said == "wrote .local/bench/results.json, bench/results.json and BENCHMARKS.md"


def test_only_make_bench_publish_asks_for_the_committed_figures() -> None:
    makefile = (REPO / "Makefile").read_text()
    commands = {
        target: makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
        for target in ("bench", "bench-publish")
    }
    assert commands == {
        "bench": ["\t$(PY) -m bench $(BENCH_ARGS)"],
        "bench-publish": ["\t$(PY) -m bench --publish $(BENCH_ARGS)"],
    }


def test_figures_of_an_ordinary_run_are_ignored_by_git() -> None:
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert ".local/" in ignored
    for path in (bench_main.LOCAL_RESULTS, bench_main.QUICK_RESULTS):
        assert path.relative_to(REPO).parts[0] == ".local"


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
        " | one resource's blocks overlapping | lost | unexplained rows |",
        "|---|---|---|---|---|---|---|---|---|---|",
        "| same slot, Capacity=3 | 1500.00 [1400.00–1600.50] | 4.00 [3.90–4.10]"
        " | 14.00 [13.00–15.00] | [450, 449] (450) | [150 × 3, 1 × 2 + 149 × 3]"
        " | 2 | 0 | 0 | 1 |",
        "",
    ]
    # Then the race of a shop's service, in the same form, and the next section.
    assert lines[at + 13].startswith("| same slot, a shop's service on 2 bays, with buffers | ")
    assert lines[at + 15] == "### Through the local server (`make dev`)"


def _ms(median: float) -> dict[str, float]:
    return {"median": median, "min": median - 1, "max": median + 1}


def test_each_function_is_shown_beside_its_floor_and_fastapi_against_the_targets() -> None:
    results: dict[str, Any] = copy.deepcopy(RESULTS)
    cold = results["cold_start"]
    for name, ours, floor, fastapi in (
        ("health", 20.0, 10.0, 400.0),
        ("slots", 180.0, 150.0, 420.0),
        ("catalogue", 165.0, 160.0, None),
        ("bookings", 170.0, 150.0, 600.0),
        ("users", 160.0, 150.0, None),
    ):
        cold[name]["cold_start_ms"] = _ms(ours)
        cold[name]["floor"] = {"cold_start_ms": _ms(floor)}
        cold[name].pop("fastapi_mangum", None)  # as a run without the peers' virtualenv
        if fastapi is not None:
            cold[name]["fastapi_mangum"] = {"cold_start_ms": _ms(fastapi)}
        cold[name]["top_imports"] = [
            {"module": "psycopg", "cumulative_ms": 74.2, "depth": 2, "floor_too": True},
            {"module": "pydantic", "cumulative_ms": 51.0, "depth": 2, "floor_too": False},
        ]

    lines = sections(results)

    at = lines.index("### Cold start (15 fresh processes per function)")
    assert lines[at + 4 : at + 11] == [
        "| function | ours | floor | ours - floor (≤ 25) | FastAPI+Mangum"
        " | FastAPI ÷ ours (≥ 3×) |",
        "|---|---|---|---|---|---|",
        "| health | 20.00 [19.00–21.00] | 10.00 [9.00–11.00] | 10.0"
        " | 400.00 [399.00–401.00] | 20.00× |",
        "| slots | 180.00 [179.00–181.00] | 150.00 [149.00–151.00] | **30.0** (missed)"
        " | 420.00 [419.00–421.00] | **2.33×** (missed) |",
        "| catalogue | 165.00 [164.00–166.00] | 160.00 [159.00–161.00] | 5.0 | — | — |",
        "| bookings | 170.00 [169.00–171.00] | 150.00 [149.00–151.00] | 20.0"
        " | 600.00 [599.00–601.00] | 3.53× |",
        "| users | 160.00 [159.00–161.00] | 150.00 [149.00–151.00] | 10.0 | — | — |",
    ]
    assert "- bookings: psycopg 74 *floor too*, pydantic 51" in lines


def test_older_cold_starts_without_a_floor_render_without_the_side_by_side_table() -> None:
    results: dict[str, Any] = copy.deepcopy(RESULTS)
    for entry in results["cold_start"].values():
        if isinstance(entry, dict) and "top_imports" in entry:  # as recorded before issue 18
            entry.pop("floor", None)
            entry.pop("fastapi_mangum", None)
            for row in entry["top_imports"]:
                row.pop("floor_too", None)

    lines = sections(results)

    assert not any(line.startswith("| function | ours | floor") for line in lines)
    assert not any("*floor too*" in line for line in lines)


def test_the_warm_overhead_of_slots_and_bookings_is_shown_against_its_target() -> None:
    results: dict[str, Any] = copy.deepcopy(RESULTS)
    results["warm"]["GET /slots"]["overhead_p50_ms"] = 0.031
    results["warm"]["POST /bookings (booked)"]["overhead_p50_ms"] = 0.05
    results["warm"]["POST /bookings (Slot full)"]["overhead_p50_ms"] = 0.288
    results["warm"]["POST /bookings (Slot full)"]["floor_overhead_p50_ms"] = 0.021
    results["warm"]["GET /slots"].pop("floor_overhead_p50_ms", None)
    results["warm"]["POST /bookings (booked)"].pop("floor_overhead_p50_ms", None)

    lines = sections(results)

    assert (
        "Target: handler overhead ≤ 0.05 ms p50 over the raw SQL: GET /slots 0.031;"
        " POST /bookings (booked) 0.050; POST /bookings (Slot full) **0.288** (missed)"
        " (floor 0.021)."
    ) in lines
    slot_full_row = next(line for line in lines if line.startswith("| POST /bookings (Slot full)"))
    assert slot_full_row.split(" | ")[-2] == "0.021"  # the floor's column, before the ratio


def test_the_growth_of_each_statement_is_shown_when_measured() -> None:
    results: dict[str, Any] = copy.deepcopy(RESULTS)
    results["growth"] = {
        "calls": 500,
        "sizes": [1000, 100000, 1000000],
        "load_s": {"1000": 0.1, "100000": 2.5, "1000000": 31.0},
        "p50_ms": {
            "POST /bookings: the booking statement (booked)": {
                "1000": 0.33,
                "100000": 0.41,
                "1000000": 0.58,
            },
            "GET /bookings: a page from a date mid-table": {
                "1000": 0.4,
                "100000": 0.9,
                "1000000": 1.2,
            },
        },
        "ratio": {
            "POST /bookings: the booking statement (booked)": 1.76,
            "GET /bookings: a page from a date mid-table": 3.0,
        },
    }

    lines = sections(results)

    at = lines.index("### Cost as the table grows (500 calls per statement and size)")
    assert "(loaded: 1,000 in 0.1 s, 100,000 in 2.5 s, 1,000,000 in 31.0 s)" in lines[at + 2]
    assert lines[at + 4 : at + 8] == [
        "| statement | p50 at 1,000 | p50 at 100,000 | p50 at 1,000,000"
        " | largest ÷ smallest (≤ 2×) |",
        "|---|---|---|---|---|",
        "| POST /bookings: the booking statement (booked) | 0.330 | 0.410 | 0.580 | 1.76× |",
        "| GET /bookings: a page from a date mid-table | 0.400 | 0.900 | 1.200"
        " | **3.00×** (missed) |",
    ]
    assert lines[at + 9].startswith("### Database round trips")
    del results["growth"]
    assert not any(line.startswith("### Cost as the table grows") for line in sections(results))
