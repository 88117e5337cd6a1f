"""Render bench results: a terminal table, and the figures section of BENCHMARKS.md.

One function per section of the figures; `sections` puts them in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

START, END = "<!-- figures:start -->", "<!-- figures:end -->"
# The functions a cold start was measured for (older results lack the later ones).
FUNCTIONS = (
    "health",
    "slots",
    "catalogue",
    "bookings",
    "users",
    "catalogue_admin",
    "relay",
    "webhooks",
)
# Started by a schedule, not behind the API: no FastAPI peer to compare with.
SCHEDULED = ("relay", "webhooks")

# Issue 18's targets: a function's cold start within this of its floor's, this
# many times faster than FastAPI+Mangum's; a warm handler within this of its
# raw SQL on these routes; each statement's p50 on the largest table within
# this many times its p50 on the smallest.
OVER_FLOOR_MS = 25
AHEAD_OF_FASTAPI = 3
WARM_OVERHEAD_MS = 0.05
WARM_TARGET_ROUTES = ("GET /slots", "POST /bookings (booked)", "POST /bookings (Slot full)")
GROWTH_RATIO = 2


def sections(results: dict[str, Any]) -> list[str]:
    """The figures as markdown: where they were measured, then one table per benchmark."""
    out = _measured_on(results)
    for section in (
        _cold_start(results["cold_start"]),
        _warm_latency(results["warm"]),
        # Results from before the table-growth run have no growth to show.
        _growth(results["growth"]) if "growth" in results else [],
        _round_trips(results["round_trips"]),
        # Results from before the outbox have no relay to show.
        _relay(results["relay"]) if "relay" in results else [],
        # Results from before the list of bookings existed have no plan to show.
        _list_plan(results["list_plan"]) if "list_plan" in results else [],
        _contention(results["contention"]),
        _local_server(results["http"]),
        _layer(results["layer"]),
    ):
        if section:
            out += ["", *section]
    return out


def print_table(results: dict[str, Any]) -> None:
    print("\n".join(sections(results)))


def write_benchmarks_md(results: dict[str, Any], path: Path) -> None:
    """Replace the figures between the markers; the hand-written analysis around them stays."""
    figures = "\n".join([START, *sections(results), END])
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    path.write_text(before + figures + after)


def _measured_on(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    return [
        f"Measured {results['when']} on {m['cpu']} ({m['cores']} cores, {m['arch']}), "
        f"Python {m['python']}, PostgreSQL {results.get('postgres', '?')} (embedded, Unix socket). "
        "Figures in ms: median of the runs [min–max].",
    ]


def _cold_start(cold: dict[str, Any]) -> list[str]:
    # Results from before the floor was measured have no side-by-side table.
    floored = "floor" in cold.get("slots", {})
    return [
        *_heading(f"Cold start ({cold['runs']} fresh processes per function)"),
        *(_beside_floor_and_fastapi(cold) if floored else []),
        *_cold_start_details(cold),
        "",
        "Where the milliseconds go: the slowest imports (cumulative ms, `-X importtime`, "
        "nested entries included"
        + ("; *floor too*: the floor pays it as well):" if floored else "):"),
        "",
        *_slowest_imports(cold),
    ]


def _beside_floor_and_fastapi(cold: dict[str, Any]) -> list[str]:
    """Each function beside its floor and FastAPI+Mangum, measured interleaved, with the targets."""
    header = [
        "function",
        "ours",
        "floor",
        f"ours - floor (≤ {OVER_FLOOR_MS})",
        "FastAPI+Mangum",
        f"FastAPI ÷ ours (≥ {AHEAD_OF_FASTAPI}×)",
    ]
    rows = []
    for name in FUNCTIONS:
        if name not in cold:
            continue
        ours, floor = cold[name]["cold_start_ms"], cold[name]["floor"]["cold_start_ms"]
        over = ours["median"] - floor["median"]
        row = [name, _range(ours), _range(floor), _against(f"{over:.1f}", over <= OVER_FLOOR_MS)]
        if "fastapi_mangum" in cold[name]:
            fastapi = cold[name]["fastapi_mangum"]["cold_start_ms"]
            ahead = fastapi["median"] / ours["median"]
            row += [_range(fastapi), _against(f"{ahead:.2f}×", ahead >= AHEAD_OF_FASTAPI)]
        else:
            row += ["—", "—"]
        rows.append(row)
    peers = cold.get("fastapi_mangum_skipped")
    return [
        "Whole-process wall time minus a bare interpreter's (each its own: FastAPI+Mangum runs "
        "in .venv-bench-peers), the three interleaved; the floor is a bare json + psycopg "
        "handler sending the same statement (bench/floor):",
        "",
        *_table(header, rows),
        *(["", f"FastAPI+Mangum skipped: {peers}"] if peers else []),
        "",
    ]


def _cold_start_details(cold: dict[str, Any]) -> list[str]:
    table = _table(
        [
            "function",
            "process total",
            "bare interpreter",
            "cold start (difference)",
            "import",
            "first request",
        ],
        [
            [
                name,
                _range(cold[name]["process_ms"]),
                _range(cold["baseline_interpreter_ms"]),
                _range(cold[name]["cold_start_ms"]),
                _range(cold[name]["import_ms"]),
                _range(cold[name]["first_request_ms"]),
            ]
            for name in FUNCTIONS
            if name in cold
        ],
    )
    without = cold["bookings_without_bytecode"]["cold_start_ms"]
    bytecode = (
        f"The same bookings cold start from sources without bytecode, as a layer without "
        f".pyc files runs on Lambda (read-only /opt): {_range(without)} ms. The layer ships "
        "python3.13 bytecode (see `layers/shared/compile_bytecode.mjs`)."
    )
    return [*table, "", bytecode]


def _slowest_imports(cold: dict[str, Any]) -> list[str]:
    return [
        f"- {name}: "
        + ", ".join(
            f"{t['module']} {t['cumulative_ms']:.0f}"
            + (" *floor too*" if t.get("floor_too") else "")
            for t in cold[name]["top_imports"][:6]
        )
        for name in FUNCTIONS
        if name in cold
    ]


def _against(figure: str, met: bool) -> str:
    """A figure measured against its target: in bold, and said, when the target is missed."""
    return figure if met else f"**{figure}** (missed)"


def _optional(entry: dict[str, Any], key: str, form: str) -> str:
    return form.format(entry[key]) if key in entry else "—"


def _warm_latency(warm: dict[str, Any]) -> list[str]:
    rows = []
    for route, entry in warm.items():
        if not isinstance(entry, dict):  # calls_per_run, runs
            continue
        rows.append(
            [
                route,
                _range(entry["p50_ms"]),
                _range(entry["p99_ms"]),
                _range(entry["raw_sql_p50_ms"]) if "raw_sql_p50_ms" in entry else "—",
                _range(entry["raw_sql_p99_ms"]) if "raw_sql_p99_ms" in entry else "—",
                f"{entry['overhead_p50_ms']:.3f}",
                _optional(entry, "floor_overhead_p50_ms", "{:.3f}"),
                f"{entry['ratio_p50']:.2f}×" if "ratio_p50" in entry else "—",
            ]
        )
    header = [
        "route",
        "p50",
        "p99",
        "raw SQL p50",
        "raw SQL p99",
        "handler overhead p50",
        "floor's overhead p50",
        "ratio",
    ]
    targets = [
        f"{route} "
        + _against(
            f"{warm[route]['overhead_p50_ms']:.3f}",
            warm[route]["overhead_p50_ms"] <= WARM_OVERHEAD_MS,
        )
        + (
            f" (floor {warm[route]['floor_overhead_p50_ms']:.3f})"
            if "floor_overhead_p50_ms" in warm[route]
            else ""
        )
        for route in WARM_TARGET_ROUTES
        if route in warm
    ]
    return [
        *_heading(
            f"Warm latency (in-process, {warm['calls_per_run']} calls × {warm['runs']} runs)"
        ),
        *_table(header, rows),
        "",
        f"Target: handler overhead ≤ {WARM_OVERHEAD_MS} ms p50 over the raw SQL: "
        + "; ".join(targets)
        + ".",
    ]


def _growth(growth: dict[str, Any]) -> list[str]:
    """Each statement's p50 as the table grows, against the smallest table's."""
    sizes = [str(size) for size in growth["sizes"]]
    header = [
        "statement",
        *(f"p50 at {int(size):,}" for size in sizes),
        f"largest ÷ smallest (≤ {GROWTH_RATIO}×)",
    ]
    rows = [
        [
            name,
            *(f"{p50[size]:.3f}" for size in sizes),
            _against(f"{growth['ratio'][name]:.2f}×", growth["ratio"][name] <= GROWTH_RATIO),
        ]
        for name, p50 in growth["p50_ms"].items()
    ]
    loads = ", ".join(f"{int(size):,} in {growth['load_s'][size]} s" for size in sizes)
    return [
        *_heading(f"Cost as the table grows ({growth['calls']} calls per statement and size)"),
        "Bookings bulk-loaded in one INSERT … SELECT per step, then VACUUM ANALYZE and "
        f"CHECKPOINT (loaded: {loads}); each statement as the functions send it:",
        "",
        *_table(header, rows),
    ]


def _round_trips(round_trips: dict[str, int]) -> list[str]:
    return [
        *_heading("Database round trips per request (server-side statement log)"),
        *_table(["request", "round trips"], [[k, str(v)] for k, v in round_trips.items()]),
    ]


def _list_plan(plan: dict[str, Any]) -> list[str]:
    index = plan["index"]
    header = [
        "page (limit 50)",
        "how bookings are read",
        "rows read",
        f"only through {index}",
        "Seq Scan on bookings",
        "Sort nodes",
    ]
    rows = [
        [
            name,
            ", ".join(f"{read['node']} ({read['index']})" for read in page["reads_of_bookings"]),
            str(sum(read["rows_read"] for read in page["reads_of_bookings"])),
            "yes" if page["only_through_index"] else "**no**",
            "**yes**" if page["seq_scan_on_bookings"] else "no",
            str(page["sorts"]),
        ]
        for name, page in plan["pages"].items()
    ]
    shown = plan["plan_shown"]
    title = (
        f"GET /bookings: the plan of a page ({plan['bookings']:,} bookings, {plan['users']:,} "
        f"users, the busiest with {plan['busy_user_bookings']:,}; ANALYZE, then EXPLAIN ANALYZE)"
    )
    return [
        *_heading(title),
        *_table(header, rows),
        "",
        f"{shown} (`EXPLAIN (ANALYZE, COSTS OFF)`):",
        "",
        "```",
        *plan["pages"][shown]["plan"],
        "```",
    ]


# The columns every contention table starts with, and their cells for one mode.
_CONTENTION_COLUMNS = ["mode", "throughput (req/s)", "p50", "p99", "successes per run (expected)"]


def _contention_cells(mode: str, run: dict[str, Any]) -> list[str]:
    return [
        mode,
        _range(run["throughput_rps"]),
        _range(run["p50_ms"]),
        _range(run["p99_ms"]),
        f"{run['successes_per_run']} ({run['expected_successes']})",
    ]


def _contention(con: dict[str, Any]) -> list[str]:
    header = [*_CONTENTION_COLUMNS, "double", "lost", "unexplained rows"]
    rows = [
        [
            *_contention_cells(mode, con[mode]),
            str(con[mode]["double_bookings"]),
            str(con[mode]["lost_bookings"]),
            str(con[mode]["unexplained_rows"]),
        ]
        for mode in ("same slot", "distinct slots")
    ]
    title = (
        f"Contention ({con['processes']} processes × {con['attempts_per_process']} bookings, "
        f"{con['runs']} runs)"
    )
    # Results from before the shop had bays have no Capacity run to show.
    bays = [_capacity_run(mode, con[mode]) for mode in con if "Capacity=" in mode or "bays" in mode]
    return [*_heading(title), *_table(header, rows), *[line for run in bays for line in run]]


def _capacity_run(mode: str, run: dict[str, Any]) -> list[str]:
    """The same-slot race with several bays: each slot must end with exactly that many."""
    capacity = run["capacity"]
    header = [
        *_CONTENTION_COLUMNS,
        "raced slots × confirmed bookings in each, per run",
        f"slots over {capacity}",
        "one resource's blocks overlapping",
        "lost",
        "unexplained rows",
    ]
    per_slot = ", ".join(
        " + ".join(f"{slots} × {n}" for n, slots in histogram.items())
        for histogram in run["bookings_per_raced_slot"]
    )
    row = [
        *_contention_cells(mode, run),
        f"[{per_slot}]",
        str(run["over_capacity_slots"]),
        str(run["one_bay_overlapping_pairs"]),
        str(run["lost_bookings"]),
        str(run["unexplained_rows"]),
    ]
    return ["", *_table(header, [row])]


def _local_server(http: dict[str, Any]) -> list[str]:
    heading = _heading("Through the local server (`make dev`)")
    if "skipped" in http:
        return [*heading, f"Skipped: {http['skipped']}"]
    header = [
        "load",
        "requests/s",
        "p50",
        "p99",
        "non-2xx per run (Slot full etc.)",
        "5xx",
        "socket errors",
    ]
    row = [
        f"{http['tool']}, {http['workers']} workers, {http['seconds_per_run']} s × {http['runs']}",
        _range(http["requests_per_second"]),
        _range(http["p50_ms"]),
        _range(http["p99_ms"]),
        str(http["non_2xx_per_run"]),
        str(http["server_5xx"]),
        str(http["socket_errors"]),
    ]
    return [*heading, *_table(header, [row])]


def _relay(relay: dict[str, Any]) -> list[str]:
    return [
        *_heading(f"Relay: events published per second ({relay['events']} waiting, one relay)"),
        "",
        *_table(
            ["publisher", "events/s"],
            [
                [
                    "none (the relay's own cost: claim, render, mark)",
                    _range(relay["no bus"]["events_per_s"]),
                ],
                ["moto's EventBridge, in process", _range(relay["moto"]["events_per_s"])],
            ],
        ),
    ]


def _layer(layer: dict[str, Any]) -> list[str]:
    heading = _heading("Layer")
    if "skipped" in layer:
        return [*heading, f"Skipped: {layer['skipped']}"]
    problems = f"; problems: {layer['problems']}" if layer["problems"] else ""
    return [
        *heading,
        f"{layer['unzipped_mb']} MB unzipped (budget {layer['budget_mb']:.0f} MB), "
        f"{layer['native_files']} native files, all aarch64/cp313; "
        f"{layer.get('compiled_modules', '?')} modules with python3.13 bytecode{problems}",
    ]


def _heading(title: str) -> list[str]:
    return [f"### {title}", ""]


def _range(entry: dict[str, float]) -> str:
    return f"{entry['median']:.2f} [{entry['min']:.2f}–{entry['max']:.2f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
