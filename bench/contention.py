"""Contention: N processes (Lambda containers) book as fast as they can, together.

"same slot": every process books the same sequence of slots, so each slot is
fought over by all of them; "distinct slots": each process has slots of its
own; "same slot, Capacity=3": as "same slot", in containers whose shop has
three bays (CAPACITY=3 in their environment when they import the handler), so
three bookings win each slot; "a shop's service": as "same slot", for a
service with buffers on a shop's two bays. Afterwards the table must hold
exactly the bookings that were answered 200, no slot more than its capacity,
and no two confirmed blocks of one resource overlapping.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
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

# The shop's bays in the third run: each slot raced for is won by this many.
CAPACITY = 3
CAPACITY_MODE = f"same slot, Capacity={CAPACITY}"
# The fourth: a service of a shop of its own (POST /shops/{id}/bookings), 45
# minutes with 5 of set-up and 10 of clean-up, on two bays: each start raced
# for is won once on each bay, and then the last free bay is fought over.
SHOP_MODE = "same slot, a shop's service on 2 bays, with buffers"
_SHOP = "bench-race"
_SHOP_BAYS = 2
# Written for _SHOP, whose id it repeats.
_CREATE_SHOP = [
    "DELETE FROM services WHERE shop_id = 'bench-race'",
    "DELETE FROM resources WHERE shop_id = 'bench-race'",
    "DELETE FROM shops WHERE shop_id = 'bench-race'",
    "INSERT INTO shops (shop_id, name, time_zone, opening_hours)"
    " VALUES ('bench-race', 'Race', 'UTC', 'Daily 09:00-17:00')",
    "INSERT INTO resources (shop_id, resource_id, name)"
    " VALUES ('bench-race', 'bay-1', 'Bay 1'), ('bench-race', 'bay-2', 'Bay 2')",
    "INSERT INTO services (shop_id, service_id, name, duration_minutes,"
    " buffer_before_minutes, buffer_after_minutes, step_minutes)"
    " VALUES ('bench-race', 'tune', 'Tune', 45, 5, 10, 60)",
    "INSERT INTO service_resources (shop_id, service_id, resource_id)"
    " VALUES ('bench-race', 'tune', 'bay-1'), ('bench-race', 'tune', 'bay-2')",
]


def _slot(index: int) -> tuple[str, str]:
    day, hour = divmod(index, 8)
    return (
        f"{2050 + day // 336}-{1 + (day // 28) % 12:02d}-{1 + day % 28:02d}",
        f"{9 + hour:02d}:00",
    )


def _worker(
    env: dict[str, str],
    slots: list[int],
    at_shop: bool,
    release: Barrier,
    results: Queue[dict[str, Any]],
) -> None:
    import os

    os.environ.update(env)
    import functions.bookings.app as bookings_function
    from appointments.data import database
    from functions.bookings.app import handler
    from local.http_api_event import http_api_event
    from local.lambda_context import LocalLambdaContext

    context = LocalLambdaContext("contention", timeout_seconds=LONGEST_RUN_S)
    events = []
    for index in slots:
        day, start = _slot(index)
        booking = {"user_id": "user_alice", "date": day, "time": start}
        if at_shop:
            events.append(
                http_api_event(
                    "POST",
                    f"/shops/{_SHOP}/bookings",
                    route_key="POST /shops/{shop_id}/bookings",
                    path_parameters={"shop_id": _SHOP},
                    body=json.dumps({**booking, "service_id": "tune"}),
                )
            )
        else:
            events.append(http_api_event("POST", "/bookings", body=json.dumps(booking)))
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
        {
            "started": started,
            "finished": time.time(),
            "latencies": latencies,
            "booked": booked,
            "capacity": bookings_function.SCHEDULE.capacity,  # as this container read it
        }
    )


# Slots holding more confirmed bookings than the shop has bays; and pairs of
# confirmed bookings of one resource whose blocks overlap, which the exclusion
# constraint forbids: checked from the table all the same.
_CONFIRMED_PER_SLOT = """
    SELECT slot_date::text, to_char(slot_time, 'HH24:MI'), count(*)
    FROM bookings WHERE status = 'confirmed' GROUP BY slot_date, slot_time
"""
_ONE_BAY_OVERLAPPING = """
    SELECT count(*) FROM bookings AS a JOIN bookings AS b
        ON a.id < b.id AND a.shop_id = b.shop_id AND a.resource_id = b.resource_id
       AND a.block && b.block
    WHERE a.status = 'confirmed' AND b.status = 'confirmed'
"""


def _run(
    database: BenchDatabase,
    processes: int,
    attempts: int,
    same_slot: bool,
    capacity: int = 1,
    at_shop: bool = False,
) -> dict[str, Any]:
    """A race; `capacity` is the default shop's bays, or with `at_shop` the winners
    of each slot at _SHOP, whose containers read the default shop's one bay."""
    database.reset()
    if at_shop:
        with database.admin() as conn:
            for statement in _CREATE_SHOP:
                conn.execute(statement)
    spawn = multiprocessing.get_context("spawn")
    release, results = spawn.Barrier(processes), spawn.Queue()
    env = {
        **lambda_environment(database.url),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        # Read by each container as it imports the handler.
        "CAPACITY": "1" if at_shop else str(capacity),
    }
    workers = []
    for p in range(processes):
        slots = list(range(attempts)) if same_slot else [p * attempts + i for i in range(attempts)]
        worker = spawn.Process(target=_worker, args=(env, slots, at_shop, release, results))
        worker.start()
        workers.append(worker)
    reports = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join()
    if read := {report["capacity"] for report in reports} - {1 if at_shop else capacity}:
        raise RuntimeError(f"containers read CAPACITY {read}, not {capacity}")
    latencies = [ms for report in reports for ms in report["latencies"]]
    booked = [booking for report in reports for booking in report["booked"]]
    wall = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    with database.admin() as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM bookings")}
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM bookings GROUP BY slot_date, slot_time"
            " HAVING count(*) > 1) AS d"
        ).fetchone()
        per_slot = {(day, start): n for day, start, n in conn.execute(_CONFIRMED_PER_SLOT)}
        (one_bay_overlapping,) = conn.execute(_ONE_BAY_OVERLAPPING).fetchone() or (-1,)
    raced = [_slot(index) for index in range(attempts)] if same_slot else []
    expected_successes = attempts * capacity if same_slot else processes * attempts
    return {
        "requests": len(latencies),
        "throughput_rps": len(latencies) / wall,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "successes": len(booked),
        "expected_successes": expected_successes,
        "double_bookings": int(doubled[0]) if doubled else -1,  # one-bay shops: slots over 1
        "lost_bookings": len(set(booked) - stored),
        "unexplained_rows": len(stored - set(booked)),
        "over_capacity_slots": sum(1 for n in per_slot.values() if n > capacity),
        "one_bay_overlapping_pairs": int(one_bay_overlapping),
        # How many slots ended with how many confirmed bookings, of those raced for.
        "bookings_per_raced_slot": dict(Counter(per_slot.get(slot, 0) for slot in raced)),
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
            **_summary(outcomes),
            "double_bookings": sum(o["double_bookings"] for o in outcomes),
        }
    for mode, capacity, at_shop in (
        (CAPACITY_MODE, CAPACITY, False),
        (SHOP_MODE, _SHOP_BAYS, True),
    ):
        outcomes = [
            _run(database, processes, attempts, True, capacity, at_shop) for _ in range(runs)
        ]
        results[mode] = {
            **_summary(outcomes),
            "capacity": capacity,
            "over_capacity_slots": sum(o["over_capacity_slots"] for o in outcomes),
            "one_bay_overlapping_pairs": sum(o["one_bay_overlapping_pairs"] for o in outcomes),
            "bookings_per_raced_slot": [
                {str(n): slots for n, slots in sorted(o["bookings_per_raced_slot"].items())}
                for o in outcomes
            ],
        }
    return results


def _summary(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """What every mode reports over its runs."""
    return {
        "throughput_rps": spread([o["throughput_rps"] for o in outcomes]),
        "p50_ms": spread([o["p50_ms"] for o in outcomes]),
        "p99_ms": spread([o["p99_ms"] for o in outcomes]),
        "requests_per_run": outcomes[0]["requests"],
        "successes_per_run": [o["successes"] for o in outcomes],
        "expected_successes": outcomes[0]["expected_successes"],
        "lost_bookings": sum(o["lost_bookings"] for o in outcomes),
        "unexplained_rows": sum(o["unexplained_rows"] for o in outcomes),
    }
