"""Cold start: a fresh interpreter imports a handler and serves its first request.

Measured from outside as whole-process wall time, minus the same for a bare
`python -c pass` of the same interpreter (the baseline), and from inside as
import and first-request times. Each function is measured beside its floor
(bench/floor: json + psycopg, the same statement and answer) and FastAPI+Mangum
(bench/peers, in its own virtualenv), interleaved: run after run, each of the
three in turn, so that a machine's slow moment falls on all of them alike.
`-X importtime` names what the import spends its time on.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.environment import REPO, BenchDatabase, lambda_environment, spread
from bench.report import FUNCTIONS, SCHEDULED

# FastAPI+Mangum's interpreter: make bench installs it (bench/peers/requirements.txt).
PEERS_PYTHON = REPO / ".venv-bench-peers" / "bin" / "python"

# Runs in the fresh interpreter: nothing imported before the handler but json,
# time and importlib, which the runtime's bootstrap has loaded anyway.
# Arguments: the handler's module, the function's name, the event.
_CHILD = """
import importlib, json, sys, time
started = time.perf_counter()
module = importlib.import_module(sys.argv[1])
imported = time.perf_counter()

class Context:
    function_name = sys.argv[2]
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + sys.argv[2]
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 10000

response = module.handler(json.loads(sys.argv[3]), Context())
served = time.perf_counter()
assert response.get("statusCode", 200) == 200, response  # a scheduled function's: no status
timings = {"import_ms": (imported - started) * 1000, "first_request_ms": (served - imported) * 1000}
print(json.dumps(timings), file=sys.stderr)
"""


def _event(function: str, run: int) -> dict[str, Any]:
    from local.http_api_event import http_api_event, iam_authorizer_context

    if function == "slots":
        return http_api_event("GET", "/slots", raw_query="date=2032-01-01")
    if function == "bookings":  # a fresh slot each run, so every first request books
        day = (date(2032, 1, 1) + timedelta(days=run)).isoformat()
        body = json.dumps({"user_id": "user_alice", "date": day, "time": "10:00"})
        headers = {"Content-Type": "application/json"}  # FastAPI reads no body without it
        return http_api_event("POST", "/bookings", body=body, headers=headers)
    if function == "catalogue":
        return http_api_event(
            "GET",
            "/shops/default/services",
            route_key="GET /shops/{shop_id}/services",
            path_parameters={"shop_id": "default"},
        )
    if function == "catalogue_admin":
        return http_api_event(
            "GET",
            "/shops/default/services/appointment",
            route_key="GET /shops/{shop_id}/services/{service_id}",
            path_parameters={"shop_id": "default", "service_id": "appointment"},
            authorizer=iam_authorizer_context(),
        )
    if function in SCHEDULED:  # one pass over an empty outbox or queue, then back
        return {"until_drained": True}
    if function == "users":
        return http_api_event(
            "GET",
            "/users/user_alice",
            route_key="GET /users/{user_id}",
            path_parameters={"user_id": "user_alice"},
            authorizer=iam_authorizer_context(),
        )
    return http_api_event("GET", "/health")


def _timed_process(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 (our interpreter, our script)
        args, cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode:
        raise RuntimeError(f"{args[0]} {args[-3:-1]} failed:\n{result.stderr}")
    return elapsed, result.stderr


def _imports(code: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """Every import running `code` makes: name, cumulative ms, nesting depth (`-X importtime`)."""
    _, stderr = _timed_process([sys.executable, "-X", "importtime", "-c", code], env)
    rows: list[dict[str, Any]] = []
    for line in stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue  # not an import line, or the header
        depth = (len(fields[2]) - len(fields[2].lstrip()) - 1) // 2  # two spaces a level
        name = fields[2].strip()
        rows.append({"module": name, "cumulative_ms": int(fields[1]) / 1000, "depth": depth})
    return rows


def top_imports(function: str, env: dict[str, str], count: int = 8) -> list[dict[str, Any]]:
    """The slowest imports under the handler, by cumulative ms; `floor_too` if its floor pays it.

    Those of the interpreter's own start (site, encodings) are left out: the
    bare interpreter subtracted from every cold start pays them.
    """
    started = {row["module"] for row in _imports("pass", env)}
    floor = {row["module"] for row in _imports(f"import bench.floor.{function}", env)}
    rows = [
        {**row, "floor_too": row["module"] in floor}
        for row in _imports(f"import functions.{function}.app", env)
        if row["depth"] <= 2
        and row["module"] not in started
        and not row["module"].startswith("functions")
    ]
    return sorted(rows, key=lambda row: float(row["cumulative_ms"]), reverse=True)[:count]


def copy_sources_only(folder: Path) -> None:
    """The layer's packages as a layer without bytecode would hold them: sources only.

    Lambda's /opt is read-only, so such a layer is compiled in memory at every
    cold start; this reproduces that to show what shipping bytecode saves.
    """
    todo, seen = ["aws-lambda-powertools", "psycopg", "psycopg-binary", "pydantic"], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            files = metadata.files(name) or []
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a platform-only dependency (tzdata on Windows)
        for file in files:
            if "__pycache__" not in file.parts and file.suffix != ".pyc":
                target = folder / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file.locate(), target)
        todo += [re.split(r"[ ;<>=!~\[]", r)[0] for r in requirements if "extra ==" not in r]
    shutil.copytree(REPO / "layers/shared/python/appointments", folder / "appointments")


@dataclass(frozen=True)
class _Variant:
    """One way of serving a function: which interpreter imports which handler module."""

    python: str
    module: str


def _variants(function: str) -> dict[str, _Variant]:
    variants = {
        "ours": _Variant(sys.executable, f"functions.{function}.app"),
        "floor": _Variant(sys.executable, f"bench.floor.{function}"),
    }
    if PEERS_PYTHON.exists() and function not in SCHEDULED:  # one app serves every route
        variants["fastapi_mangum"] = _Variant(str(PEERS_PYTHON), "bench.peers.fastapi_app")
    return variants


def _cold_start(
    variant: _Variant, function: str, event: dict[str, Any], env: dict[str, str]
) -> tuple[float, dict[str, float]]:
    """One fresh process: its wall time, and its import and first-request times."""
    args = [variant.python, "-c", _CHILD, variant.module, function, json.dumps(event)]
    total, stderr = _timed_process(args, env)
    return total, json.loads(stderr.strip().splitlines()[-1])


def measure(database: BenchDatabase, runs: int) -> dict[str, Any]:
    env = {**_base_env(), **lambda_environment(database.url)}
    peers = [str(PEERS_PYTHON)] if PEERS_PYTHON.exists() else []
    bare: dict[str, list[float]] = {python: [] for python in [sys.executable, *peers]}
    samples: dict[tuple[str, str], list[tuple[float, dict[str, float]]]] = {}
    events = 0  # each process gets its own event: every first booking books
    for run in range(runs):
        for python in bare:
            bare[python].append(_timed_process([python, "-c", "pass"], env)[0])
        for function in FUNCTIONS:
            variants = list(_variants(function).items())
            shift = run % len(variants)  # who goes first changes from run to run
            for name, variant in variants[shift:] + variants[:shift]:
                events += 1
                if function in SCHEDULED:
                    _nothing_waiting(database)
                sample = _cold_start(variant, function, _event(function, events), env)
                samples.setdefault((function, name), []).append(sample)
    bare_median = {python: statistics.median(times) for python, times in bare.items()}
    results: dict[str, Any] = {
        "runs": runs,
        "baseline_interpreter_ms": spread(bare[sys.executable]),
    }
    if peers:
        results["baseline_peers_interpreter_ms"] = spread(bare[str(PEERS_PYTHON)])
    else:
        results["fastapi_mangum_skipped"] = "no .venv-bench-peers: make bench installs it"
    for function in FUNCTIONS:
        entries = {
            name: _entry(samples[function, name], bare_median[variant.python])
            for name, variant in _variants(function).items()
        }
        ours = entries.pop("ours")
        results[function] = {**ours, **entries, "top_imports": top_imports(function, env)}
    results["bookings_without_bytecode"] = {
        "cold_start_ms": _without_bytecode(runs, events, env, bare_median[sys.executable])
    }
    return results


def _nothing_waiting(database: BenchDatabase) -> None:
    """The outbox drained and no delivery due, as after the schedule's last run: the
    bookings' cold starts above write events, which no bus here could take."""
    with database.admin() as conn:
        conn.execute("UPDATE events SET published_at = now() WHERE published_at IS NULL")


def _entry(samples: list[tuple[float, dict[str, float]]], bare_ms: float) -> dict[str, Any]:
    totals = [total for total, _ in samples]
    return {
        "process_ms": spread(totals),
        "cold_start_ms": spread([total - bare_ms for total in totals]),
        "import_ms": spread([inside["import_ms"] for _, inside in samples]),
        "first_request_ms": spread([inside["first_request_ms"] for _, inside in samples]),
    }


def _without_bytecode(
    runs: int, events: int, env: dict[str, str], bare_ms: float
) -> dict[str, float]:
    """The bookings function's cold start from a copy of the layer's sources, no bytecode."""
    ours = _Variant(sys.executable, "functions.bookings.app")
    with tempfile.TemporaryDirectory(prefix="no-bytecode-") as folder:
        copy_sources_only(Path(folder))
        no_bytecode = {**env, "PYTHONPATH": folder, "PYTHONDONTWRITEBYTECODE": "1"}
        totals = [
            _cold_start(ours, "bookings", _event("bookings", events + run + 1), no_bytecode)[0]
            for run in range(runs)
        ]
    return spread([total - bare_ms for total in totals])


def _base_env() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
