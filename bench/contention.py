"""Contention: N processes (Lambda containers) book as fast as they can, together.

"same slot": every process books the same sequence of slots, so each slot is
fought over by all of them; "distinct slots": each process has slots of its
own. Afterwards the table must hold exactly the bookings that were answered 200.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from bench.environment import (
    LONGEST_RUN_S,
    BenchDatabase,
    lambda_environment,
    percentile,
    quiet_handlers,
    spread,
)


def _slot(index: int) -> tuple[str, str]:
    day, hour = divmod(index, 8)
    return (
        f"{2050 + day // 336}-{1 + (day // 28) % 12:02d}-{1 + day % 28:02d}",
        f"{9 + hour:02d}:00",
    )


def _worker(
    env: dict[str, str], slots: list[int], release: Barrier, results: Queue[dict[str, Any]]
) -> None:
    import os

    os.environ.update(env)
    from appointments import database
    from functions.bookings.app import handler
    from local.http_api_event import http_api_event
    from local.lambda_context import LocalLambdaContext

    context = LocalLambdaContext("contention", timeout_seconds=LONGEST_RUN_S)
    events = []
    for index in slots:
        day, start = _slot(index)
        body = json.dumps({"user_id": "user_alice", "date": day, "time": start})
        events.append(http_api_event("POST", "/bookings", body=body))
    database.get_connection()
    latencies, booked = [], []
    release.wait(timeout=120)
    started = time.time()
    with quiet_handlers():
        for event in events:
            t0 = time.perf_counter()
            response = handler(event, context)
            latencies.append((time.perf_counter() - t0) * 1000)
            if response["statusCode"] == 200:
                booked.append(json.loads(response["body"])["booking_id"])
            elif response["statusCode"] != 400:
                booked.append(f"unexpected status {response['statusCode']}")
    results.put(
        {"started": started, "finished": time.time(), "latencies": latencies, "booked": booked}
    )


def _run(database: BenchDatabase, processes: int, attempts: int, same_slot: bool) -> dict[str, Any]:
    database.reset()
    spawn = multiprocessing.get_context("spawn")
    release, results = spawn.Barrier(processes), spawn.Queue()
    env = {**lambda_environment(database.url), "POWERTOOLS_LOG_LEVEL": "WARNING"}
    workers = []
    for p in range(processes):
        slots = list(range(attempts)) if same_slot else [p * attempts + i for i in range(attempts)]
        worker = spawn.Process(target=_worker, args=(env, slots, release, results))
        worker.start()
        workers.append(worker)
    reports = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = [ms for report in reports for ms in report["latencies"]]
    booked = [booking for report in reports for booking in report["booked"]]
    wall = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    with database.admin() as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM bookings")}
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM bookings GROUP BY slot_date, slot_time"
            " HAVING count(*) > 1) AS d"
        ).fetchone()
    expected_successes = attempts if same_slot else processes * attempts
    return {
        "requests": len(latencies),
        "throughput_rps": len(latencies) / wall,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "successes": len(booked),
        "expected_successes": expected_successes,
        "double_bookings": int(doubled[0]) if doubled else -1,
        "lost_bookings": len(set(booked) - stored),
        "unexplained_rows": len(stored - set(booked)),
    }


def measure(database: BenchDatabase, processes: int, attempts: int, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "processes": processes,
        "attempts_per_process": attempts,
        "runs": runs,
    }
    for mode, same_slot in (("same slot", True), ("distinct slots", False)):
        outcomes = [_run(database, processes, attempts, same_slot) for _ in range(runs)]
        results[mode] = {
            "throughput_rps": spread([o["throughput_rps"] for o in outcomes]),
            "p50_ms": spread([o["p50_ms"] for o in outcomes]),
            "p99_ms": spread([o["p99_ms"] for o in outcomes]),
            "requests_per_run": outcomes[0]["requests"],
            "successes_per_run": [o["successes"] for o in outcomes],
            "expected_successes": outcomes[0]["expected_successes"],
            "double_bookings": sum(o["double_bookings"] for o in outcomes),
            "lost_bookings": sum(o["lost_bookings"] for o in outcomes),
            "unexplained_rows": sum(o["unexplained_rows"] for o in outcomes),
        }
    return results
