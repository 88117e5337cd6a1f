"""Through `make dev`: wrk drives a booking mix against the local server on loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.environment import REPO, BenchDatabase, spread


def find_wrk() -> str | None:
    """wrk, installed from Debian's packages if missing and we may (root with apt)."""
    if wrk := shutil.which("wrk"):
        return wrk
    if shutil.which("apt-get") and os.geteuid() == 0:
        command = ["apt-get", "install", "-y", "-q", "wrk"]
        subprocess.run(command, capture_output=True, check=False)  # noqa: S603
    return shutil.which("wrk")


def measure(database: BenchDatabase, seconds: int, runs: int, workers: int) -> dict[str, Any]:
    wrk = find_wrk()
    if not wrk:
        return {"skipped": "wrk is not installed (apt-get install wrk, or brew install wrk)"}
    from bench.soak import start_server
    from local.dev_server import free_port

    outcomes = []
    for run in range(runs):
        database.reset()
        port = free_port()
        log = Path(database.log_path.parent.parent) / f"http-load-{run}.log"
        server = start_server(database.url, port, workers, log)
        try:
            result = subprocess.run(  # noqa: S603
                [
                    wrk,
                    "-t2",
                    "-c8",
                    f"-d{seconds}s",
                    "--latency",
                    "-s",
                    str(REPO / "bench" / "booking_mix.lua"),
                    f"http://127.0.0.1:{port}",
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds + 60,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        outcome = json.loads(result.stdout.strip().splitlines()[-1])
        # The local server logs "HH:MM:SS METHOD PATH STATUS ..." per request.
        outcome["server_5xx"] = len(re.findall(r"^\S+ [A-Z]+ \S+ 5\d\d ", log.read_text(), re.M))
        outcomes.append(outcome)
    return {
        "tool": "wrk -t2 -c8 (10% health, 50% slots, 40% bookings)",
        "seconds_per_run": seconds,
        "runs": runs,
        "workers": workers,
        "requests_per_second": spread([o["requests"] / o["duration_s"] for o in outcomes]),
        "p50_ms": spread([o["p50_ms"] for o in outcomes]),
        "p99_ms": spread([o["p99_ms"] for o in outcomes]),
        "non_2xx_per_run": [o["non_2xx"] for o in outcomes],  # mostly "Slot full" (400)
        "socket_errors": sum(o["socket_errors"] for o in outcomes),
        "server_5xx": sum(o["server_5xx"] for o in outcomes),
        "python": sys.version.split()[0],
    }
