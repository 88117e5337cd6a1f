"""Cold start: a fresh interpreter imports a handler and serves its first request.

Measured from outside as whole-process wall time, minus the same for a bare
`python -c pass` (the baseline), and from inside as import and first-request
times. `-X importtime` names what the import spends its time on.
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
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.environment import REPO, BenchDatabase, lambda_environment, spread
from bench.report import FUNCTIONS

# Runs in the fresh interpreter: nothing imported before the handler but json,
# time and importlib, which the runtime's bootstrap has loaded anyway.
_CHILD = """
import importlib, json, sys, time
started = time.perf_counter()
module = importlib.import_module("functions." + sys.argv[1] + ".app")
imported = time.perf_counter()

class Context:
    function_name = sys.argv[1]
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + sys.argv[1]
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 10000

response = module.handler(json.loads(sys.argv[2]), Context())
served = time.perf_counter()
assert response["statusCode"] == 200, response
timings = {"import_ms": (imported - started) * 1000, "first_request_ms": (served - imported) * 1000}
print(json.dumps(timings), file=sys.stderr)
"""


def _event(function: str, run: int) -> dict[str, Any]:
    from local.http_api_event import http_api_event, iam_authorizer_context

    if function == "slots":
        return http_api_event("GET", "/slots", raw_query="date=2032-01-01")
    if function == "bookings":  # a fresh slot each run, so every first request books
        day = f"2032-{1 + run // 28:02d}-{1 + run % 28:02d}"
        body = json.dumps({"user_id": "user_alice", "date": day, "time": "10:00"})
        return http_api_event("POST", "/bookings", body=body)
    if function == "users":
        return http_api_event("GET", "/users/user_alice", authorizer=iam_authorizer_context())
    return http_api_event("GET", "/health")


def _timed_process(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 (our interpreter, our script)
        args, cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return (time.perf_counter() - started) * 1000, result.stderr


def top_imports(function: str, env: dict[str, str], count: int = 8) -> list[dict[str, Any]]:
    """The slowest imports under the handler, by cumulative microseconds."""
    _, stderr = _timed_process(
        [sys.executable, "-X", "importtime", "-c", f"import functions.{function}.app"], env
    )
    rows: list[dict[str, Any]] = []
    for line in stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue  # not an import line, or the header
        name = fields[2].strip()
        depth = (len(fields[2]) - len(fields[2].lstrip()) - 1) // 2  # two spaces a level
        if not name.startswith("functions") and depth <= 2:
            rows.append({"module": name, "cumulative_ms": int(fields[1]) / 1000, "depth": depth})
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


def measure(database: BenchDatabase, runs: int) -> dict[str, Any]:
    env = {**_base_env(), **lambda_environment(database.url)}
    bare = [_timed_process([sys.executable, "-c", "pass"], env)[0] for _ in range(runs)]
    results: dict[str, Any] = {"runs": runs, "baseline_interpreter_ms": spread(bare)}
    bare_median = statistics.median(bare)
    for function in FUNCTIONS:
        totals, imports, firsts = [], [], []
        for run in range(runs):
            event = json.dumps(_event(function, run))
            total, stderr = _timed_process([sys.executable, "-c", _CHILD, function, event], env)
            inside = json.loads(stderr.strip().splitlines()[-1])
            totals.append(total)
            imports.append(inside["import_ms"])
            firsts.append(inside["first_request_ms"])
        results[function] = {
            "process_ms": spread(totals),
            "cold_start_ms": spread([t - bare_median for t in totals]),
            "import_ms": spread(imports),
            "first_request_ms": spread(firsts),
            "top_imports": top_imports(function, env),
        }
    with tempfile.TemporaryDirectory(prefix="no-bytecode-") as folder:
        copy_sources_only(Path(folder))
        no_bytecode = {**env, "PYTHONPATH": folder, "PYTHONDONTWRITEBYTECODE": "1"}
        totals = [
            _timed_process(
                [
                    sys.executable,
                    "-c",
                    _CHILD,
                    "bookings",
                    json.dumps(_event("bookings", runs + run)),
                ],
                no_bytecode,
            )[0]
            for run in range(runs)
        ]
    results["bookings_without_bytecode"] = {
        "cold_start_ms": spread([t - bare_median for t in totals])
    }
    return results


def _base_env() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
