"""Warm latency: the real handler, in-process, called with real events on a warm container.

Each route is timed over many calls; the baseline is the same SQL sent raw with
psycopg on the same connection, so the difference is what the handler adds
(event parsing, validation, routing, logging, metrics, response building).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bench.environment import (
    LONGEST_RUN_S,
    BenchDatabase,
    apply_lambda_environment,
    percentile,
    quiet_handlers,
    spread,
)


def _timings(call: Callable[[int], Any], calls: int, first: int = 0) -> list[float]:
    samples = []
    for i in range(first, first + calls):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(database: BenchDatabase, calls: int, runs: int) -> dict[str, Any]:
    apply_lambda_environment(database.url)
    from appointments import database as warm_connection
    from appointments import store
    from functions.bookings.app import handler as bookings
    from functions.health.app import handler as health
    from functions.slots.app import handler as slots
    from local.http_api_event import http_api_event
    from local.lambda_context import LocalLambdaContext

    context = LocalLambdaContext("bench", timeout_seconds=LONGEST_RUN_S)

    def day(i: int, offset: int) -> str:  # a distinct date per call, so every booking succeeds
        return f"{2040 + offset + i // 336}-{1 + (i // 28) % 12:02d}-{1 + i % 28:02d}"

    def booking(user: str, date: str, time_: str = "10:00") -> dict[str, Any]:
        body = json.dumps({"user_id": user, "date": date, "time": time_})
        return http_api_event("POST", "/bookings", body=body)

    slots_event = http_api_event("GET", "/slots", raw_query="date=2039-01-01")
    health_event = http_api_event("GET", "/health")
    taken = booking("user_bob", "2039-01-01")

    def raw(sql: str, params: dict[str, Any]) -> Any:
        return warm_connection.get_connection().execute(sql, params).fetchall()

    routes: dict[str, tuple[Callable[[int], Any], Callable[[int], Any] | None]] = {
        "GET /health": (lambda i: health(health_event, context), None),
        "GET /slots": (
            lambda i: slots(slots_event, context),
            lambda i: raw(store._BOOKED_STARTS, {"day": "2039-01-01"}),
        ),
        "POST /bookings (booked)": (
            lambda i: bookings(booking("user_alice", day(i, 0)), context),
            lambda i: raw(
                store._BOOK_SLOT, _params(store.new_booking_id(), "user_alice", day(i, 100))
            ),
        ),
        "POST /bookings (Slot full)": (
            lambda i: bookings(taken, context),
            lambda i: raw(
                store._BOOK_SLOT, _params(store.new_booking_id(), "user_alice", "2039-01-01")
            ),
        ),
        "POST /bookings (User not found)": (
            lambda i: bookings(booking("user_nobody", "2039-01-02"), context),
            lambda i: raw(
                store._BOOK_SLOT, _params(store.new_booking_id(), "user_nobody", "2039-01-02")
            ),
        ),
    }
    results: dict[str, Any] = {"calls_per_run": calls, "runs": runs}
    with quiet_handlers():
        bookings(taken, context)  # takes the slot the Slot-full cases hit
        for route, (through_handler, baseline) in routes.items():
            p50s, p99s, base50s, base99s = [], [], [], []
            for _ in range(runs):
                database.reset()
                bookings(taken, context)
                _timings(through_handler, 100, first=calls)  # warm-up on other slots, not counted
                handled = _timings(through_handler, calls)
                p50s.append(percentile(handled, 0.50))
                p99s.append(percentile(handled, 0.99))
                if baseline:
                    raw_times = _timings(baseline, calls)
                    base50s.append(percentile(raw_times, 0.50))
                    base99s.append(percentile(raw_times, 0.99))
            entry: dict[str, Any] = {"p50_ms": spread(p50s), "p99_ms": spread(p99s)}
            if base50s:
                entry["raw_sql_p50_ms"] = spread(base50s)
                entry["raw_sql_p99_ms"] = spread(base99s)
                overhead = entry["p50_ms"]["median"] - entry["raw_sql_p50_ms"]["median"]
                entry["overhead_p50_ms"] = round(overhead, 3)
                entry["ratio_p50"] = round(
                    entry["p50_ms"]["median"] / entry["raw_sql_p50_ms"]["median"], 2
                )
            else:
                entry["overhead_p50_ms"] = entry["p50_ms"]["median"]  # no SQL: all of it is handler
            results[route] = entry
    return results


def _params(booking_id: str, user: str, date: str) -> dict[str, Any]:
    return {"booking_id": booking_id, "user_id": user, "day": date, "start": "10:00"}
