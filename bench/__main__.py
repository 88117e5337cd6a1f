"""`make bench`: every benchmark, then a table, and the figures under .local/bench/.

Runs against a fresh embedded PostgreSQL over its Unix socket, in a temporary
folder. An ordinary run writes .local/bench/results.json (git-ignored), so a
checkout stays clean; `--publish` (`make bench-publish`) also refreshes the
committed bench/results.json and BENCHMARKS.md. `--quick` runs fewer, shorter
rounds and a smaller table (a smoke test) into .local/bench/results-quick.json. `--render` runs
nothing: it renders BENCHMARKS.md again from bench/results.json.
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

from bench import (
    cold_start,
    contention,
    growth,
    http_load,
    list_plan,
    relay_rate,
    round_trips,
    warm,
)
from bench.environment import (
    REPO,
    BenchDatabase,
    apply_lambda_environment,
    bench_database,
    machine,
)
from bench.report import print_table, write_benchmarks_md
from local.check_layer import DEFAULT_BUDGET_MB, check_layer

# The committed figures: only an explicit --publish rewrites them.
RESULTS = REPO / "bench" / "results.json"
BENCHMARKS = REPO / "BENCHMARKS.md"
# Every other run's, under the checkout's git-ignored .local/.
LOCAL_RESULTS = REPO / ".local" / "bench" / "results.json"
QUICK_RESULTS = REPO / ".local" / "bench" / "results-quick.json"
LAYER = REPO / ".aws-sam" / "build" / "SharedLayer"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--quick", action="store_true", help="fewer, shorter runs; a smoke test")
    what.add_argument(
        "--publish", action="store_true", help="also rewrite bench/results.json and BENCHMARKS.md"
    )
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
    print("\n" + record(results, quick=args.quick, publish=args.publish))
    return 0


def record(results: dict[str, Any], *, quick: bool, publish: bool) -> str:
    """Write the results where they belong, and say where."""
    text = json.dumps(results, indent=2) + "\n"
    local = QUICK_RESULTS if quick else LOCAL_RESULTS
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(text)
    if not publish:
        return (
            f"wrote {_shown(local)} (git-ignored); {_shown(RESULTS)} and {_shown(BENCHMARKS)}"
            " are untouched: make bench-publish refreshes them"
        )
    RESULTS.write_text(text)
    write_benchmarks_md(results, BENCHMARKS)
    return f"wrote {_shown(local)}, {_shown(RESULTS)} and {_shown(BENCHMARKS)}"


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
    step("relay")
    results["relay"] = relay_rate.measure(
        database, events=500 if quick else 5000, runs=1 if quick else 3
    )
    step("contention")
    attempts = 40 if quick else 150
    results["contention"] = contention.measure(database, 8, attempts, runs=1 if quick else 3)
    step("HTTP load through the local server")
    seconds, runs = (3, 1) if quick else (10, 3)
    results["http"] = http_load.measure(database, seconds=seconds, runs=runs, workers=4)
    step("table growth")  # last: it leaves a table of a million bookings
    sizes = (1_000, 10_000) if quick else (1_000, 100_000, 1_000_000)
    results["growth"] = growth.measure(database, sizes, calls=100 if quick else 500)
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
