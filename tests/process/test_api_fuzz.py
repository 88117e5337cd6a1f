"""Schemathesis fuzzes every operation of openapi.json against `make dev`'s server.

Each run generates requests from the document (its examples, the boundaries
of each schema, then random valid and invalid data, a bounded number per
operation) and checks every answer: no 5xx, and a documented status, content
type, headers and body. Twice: with sign-in off (the default), then on, with a
token from the local issuer; the /users requests are SigV4-signed both times
(api_fuzz_hooks.py), so every function is reached. The counts are printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local import dev_issuer
from local.openapi import DOCUMENT_PATH
from tests.conftest import EXAMPLES_RUN
from tests.process.local_server import LocalServer, start_local_server

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# Per operation and phase: about 2,000 requests a run, some 20 s on 2 cores.
MAX_EXAMPLES = 60
# Stateful testing needs links between operations, which the document has none of.
PHASES = "examples,coverage,fuzzing"
RUN_TIMEOUT_SECONDS = 120


@dataclass
class FuzzRun:
    """What one schemathesis run did, from its JSON and NDJSON reports."""

    exit_code: int
    output: str
    seed: int
    operations: int
    test_cases: int
    failures: list[dict[str, Any]]
    check_runs: Counter[str] = field(default_factory=Counter)
    check_failures: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def summary(self, title: str) -> str:
        lines = [
            f"schemathesis, {title}: {self.operations} operations,"
            f" {self.test_cases} test cases, seed {self.seed}",
            f"  {'check':<30} {'runs':>6} {'failures':>8}",
        ]
        for check in CHECKS:
            runs, failed = self.check_runs[check], self.check_failures[check]
            lines.append(f"  {check:<30} {runs:>6} {failed:>8}")
        # Each operation's answers, including the coverage phase's undeclared
        # methods (TRACE /health): API Gateway's 404 for a route it lacks.
        lines.append("  statuses answered (undeclared methods included):")
        for label, counts in sorted(self.statuses.items()):
            answered = " ".join(f"{status}×{n}" for status, n in sorted(counts.items()))
            lines.append(f"  {label:<30} {answered}")
        return "\n".join(lines)


def run_schemathesis(server: LocalServer, reports: Path, env: dict[str, str]) -> FuzzRun:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(DOCUMENT_PATH),
        "--url",
        server.base_url,
        "--checks",
        ",".join(CHECKS),
        "--phases",
        PHASES,
        "--max-examples",
        str(MAX_EXAMPLES),
        # One thread: CPython before 3.11.8 can fail ast.parse in two threads at
        # once ("AST constructor recursion depth mismatch", gh-106905), which
        # hypothesis calls to describe schemathesis' filters.
        "--workers",
        "1",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(reports / "run.json"),
        "--report-ndjson-path",
        str(reports / "events.ndjson"),
        "--no-color",
    ]
    hooks = {"SCHEMATHESIS_HOOKS": "tests.process.api_fuzz_hooks"}
    result = subprocess.run(
        command,
        # Its cache (.schemathesis/) goes here, not into the checkout; the
        # hooks module is found through the virtualenv's path to the repository.
        cwd=reports,
        env={**os.environ, **hooks, **env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    output = result.stdout + result.stderr
    report_path = reports / "run.json"
    assert report_path.exists(), f"schemathesis wrote no report:\n{output}"
    report = json.loads(report_path.read_text())
    run = FuzzRun(
        exit_code=result.returncode,
        output=output,
        seed=report["seed"],
        operations=report["operations"]["tested"],
        test_cases=report["test_cases"]["generated"],
        failures=report["failures"] + report["errors"],
    )
    count_checks(run, reports / "events.ndjson")
    return run


def count_checks(run: FuzzRun, events: Path) -> None:
    """Each check's runs and failures, and the statuses each operation answered."""
    for line in events.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if finished is None:
            continue
        recorder = finished["recorder"]
        for results in recorder.get("checks", {}).values():
            for result in results:
                run.check_runs[result["name"]] += 1
                if result["status"] == "failure":
                    run.check_failures[result["name"]] += 1
        statuses = run.statuses.setdefault(recorder["label"], Counter())
        for interaction in recorder.get("interactions", {}).values():
            if interaction.get("response"):
                statuses[interaction["response"]["status_code"]] += 1


def fuzz(server: LocalServer, tmp_path: Path, title: str, env: dict[str, str]) -> FuzzRun:
    run = run_schemathesis(server, tmp_path, env)
    EXAMPLES_RUN[f"schemathesis test cases, {title}"] = run.test_cases
    return run


def assert_conforms(run: FuzzRun) -> None:
    assert run.operations == len(json_operations()), run.output
    assert sum(run.check_failures.values()) == 0, run.output
    assert (run.failures, run.exit_code) == ([], 0), run.output


def json_operations() -> list[str]:
    document = json.loads(DOCUMENT_PATH.read_text())
    return [f"{method} {path}" for path, item in document["paths"].items() for method in item]


def local_server(tmp_path: Path, jwt_issuer: str) -> Iterator[LocalServer]:
    """make dev on a data folder of its own; JWT_ISSUER as given, whatever the shell says."""
    running = start_local_server(
        tmp_path / "server.log",
        "--data-dir",
        str(tmp_path / "pgdata"),
        env={"JWT_ISSUER": jwt_issuer},
    )
    yield running
    running.interrupt()


@pytest.fixture
def server_signed_out(tmp_path: Path) -> Iterator[LocalServer]:
    yield from local_server(tmp_path, "")


@pytest.fixture
def server_signed_in(tmp_path: Path) -> Iterator[LocalServer]:
    yield from local_server(tmp_path, dev_issuer.LOCAL_ISSUER)


def test_every_operation_answers_as_documented_with_sign_in_off(
    server_signed_out: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What schemathesis reads is what make dev serves.
    served = server_signed_out.request("GET", "/openapi.json")
    assert served.body == DOCUMENT_PATH.read_bytes()
    run = fuzz(server_signed_out, tmp_path, "sign-in off", {})
    with capsys.disabled():
        print("\n" + run.summary("sign-in off"))
    assert_conforms(run)


def test_every_operation_answers_as_documented_with_sign_in_on(
    server_signed_in: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = dev_issuer.issue_token(
        "user_alice",
        issuer=dev_issuer.issuer_url(server_signed_in.port),
        audience=dev_issuer.audience({}),
        scopes=[dev_issuer.BASE_SCOPE],
    )
    run = fuzz(server_signed_in, tmp_path, "sign-in on", {"FUZZ_BEARER_TOKEN": token})
    with capsys.disabled():
        print("\n" + run.summary("sign-in on"))
    assert_conforms(run)
