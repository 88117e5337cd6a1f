"""POWERTOOLS_METRICS_DISABLED (what `make dev` sets for its quiet console) prints no metric.

Powertools keeps the values added while metrics are off, and prints them as EMF
once a metric holds 100: a warm container that counts a metric per invocation
would print one every 100 invocations. Run in a process of its own, as a
container starts with its environment already set.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.process.local_server import REPO

WARM_INVOCATIONS = 250
# One warm container: the handler counts a business metric on each invocation.
_CONTAINER = f"""
from appointments.platform import observability

@observability.metrics.log_metrics
def handler(event, context):
    observability.count("SlotFull")

for _ in range({WARM_INVOCATIONS}):
    handler({{}}, None)
"""


def run_container(metrics_disabled: str | None) -> list[str]:
    """What the container printed on stdout, one entry per line."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "POWERTOOLS_METRICS_NAMESPACE": "Appointments",
        "POWERTOOLS_SERVICE_NAME": "appointments",
    }
    if metrics_disabled is not None:
        environment["POWERTOOLS_METRICS_DISABLED"] = metrics_disabled
    result = subprocess.run(
        [sys.executable, "-c", _CONTAINER],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def test_with_metrics_disabled_no_invocation_prints_a_metric() -> None:
    assert run_container("true") == []


@pytest.mark.parametrize("metrics_disabled", ["false", None])
def test_with_metrics_on_each_invocation_prints_its_count(metrics_disabled: str | None) -> None:
    printed = [json.loads(line) for line in run_container(metrics_disabled)]
    assert [record["SlotFull"] for record in printed] == [[1.0]] * WARM_INVOCATIONS
