"""`make bench`: every benchmark, then bench/results.json, a table, and BENCHMARKS.md.

Runs against a fresh embedded PostgreSQL over its Unix socket, in a temporary
folder. `python -m bench --quick` runs fewer, shorter rounds (a smoke test) and
writes bench/results-quick.json (git-ignored) only. `python -m bench --render`
runs nothing: it renders BENCHMARKS.md again from bench/results.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench import cold_start, contention, http_load, list_plan, round_trips, warm
from bench.environment import (
    REPO,
    BenchDatabase,
    apply_lambda_environment,
    bench_database,
    machine,
)
from bench.report import print_table, write_benchmarks_md
from local.check_layer import DEFAULT_BUDGET_MB, check_layer

RESULTS = REPO / "bench" / "results.json"
# A quick run's figures are too thin to commit: they go here, git-ignored.
QUICK_RESULTS = REPO / "bench" / "results-quick.json"
BENCHMARKS = REPO / "BENCHMARKS.md"
LAYER = REPO / ".aws-sam" / "build" / "SharedLayer"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--quick", action="store_true", help="fewer, shorter runs; not recorded")
    what.add_argument(
        "--render", action="store_true", help="no runs: BENCHMARKS.md again from results.json"
    )
    args = parser.parse_args()
    if args.render:
        write_benchmarks_md(json.loads(RESULTS.read_text()), BENCHMARKS)
        print(f"rendered {_shown(BENCHMARKS)} from {_shown(RESULTS)}")
        return 0
    results: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as folder,
        bench_database(Path(folder) / "pgdata") as database,
    ):
        results.update(run_all(database, quick=args.quick))
    results["layer"] = _layer()
    print_table(results)
    print("\n" + record(results, quick=args.quick))
    return 0


def record(results: dict[str, Any], *, quick: bool) -> str:
    """Write the results where they belong, and say where."""
    text = json.dumps(results, indent=2) + "\n"
    if quick:
        QUICK_RESULTS.write_text(text)
        return (
            f"quick run: wrote {_shown(QUICK_RESULTS)} (git-ignored);"
            f" {_shown(RESULTS)} and {_shown(BENCHMARKS)} are untouched"
        )
    RESULTS.write_text(text)
    write_benchmarks_md(results, BENCHMARKS)
    return f"wrote {_shown(RESULTS)} and {_shown(BENCHMARKS)}"


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def run_all(database: BenchDatabase, *, quick: bool) -> dict[str, Any]:
    """Each benchmark in turn, on one database; bookings are cleared in between."""
    results: dict[str, Any] = {}
    with psycopg.connect(database.url) as conn:
        (results["postgres"],) = conn.execute("SHOW server_version").fetchone() or ("?",)
    apply_lambda_environment(database.url)
    step("cold start")
    results["cold_start"] = cold_start.measure(database, runs=3 if quick else 15)
    step("round trips")
    database.reset()
    results["round_trips"] = round_trips.count_per_route(database.url, database.log_path)
    step("list plan")
    database.reset()
    results["list_plan"] = list_plan.measure(database.url, 500, 20_000, busy_every=50)
    step("warm latency")
    results["warm"] = warm.measure(database, calls=300 if quick else 2000, runs=1 if quick else 3)
    step("contention")
    attempts = 40 if quick else 150
    results["contention"] = contention.measure(database, 8, attempts, runs=1 if quick else 3)
    step("HTTP load through the local server")
    seconds, runs = (3, 1) if quick else (10, 3)
    results["http"] = http_load.measure(database, seconds=seconds, runs=runs, workers=4)
    return results


def step(name: str) -> None:
    print(f"… {name}", file=sys.stderr, flush=True)


def _layer() -> dict[str, Any]:
    if not LAYER.exists():
        return {"skipped": "no built layer: run make build"}
    report = check_layer(LAYER, DEFAULT_BUDGET_MB)
    return {
        "unzipped_mb": round(report.size_mb, 1),
        "budget_mb": DEFAULT_BUDGET_MB,
        "native_files": report.native_files,
        "compiled_modules": report.compiled_modules,
        "problems": report.problems,
    }


if __name__ == "__main__":
    sys.exit(main())
