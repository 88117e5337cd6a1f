"""Round trips per request, counted by the server: statement logging, per backend.

psycopg sends each statement as one Parse/Bind/Execute/Sync exchange, which the
server logs once (`execute <unnamed>: ...`, or `statement: ...` for the simple
protocol). Counting those lines for the handler's backend during one warm
invocation is counting its round trips.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from bench.environment import LONGEST_RUN_S, quiet_handlers

_STATEMENT = re.compile(r"\[(\d+)\].*LOG:\s+(statement|execute [^:]*):")


def statements_during(log_path: Path, action: Callable[[], Any], exclude_pid: int) -> int:
    """Statements any backend but `exclude_pid` logged while `action` ran."""
    offset = log_path.stat().st_size
    action()
    time.sleep(0.05)  # backends write their log lines before answering; this is slack
    with log_path.open("rb") as log:
        log.seek(offset)
        new_lines = log.read().decode("utf-8", "replace").splitlines()
    return sum(
        1 for line in new_lines if (m := _STATEMENT.search(line)) and int(m[1]) != exclude_pid
    )


class StatementLogging:
    """log_statement = 'all' for as long as the block runs (superuser, server-wide)."""

    def __init__(self, admin: psycopg.Connection) -> None:
        self.admin = admin

    def __enter__(self) -> StatementLogging:
        self.admin.execute("ALTER SYSTEM SET log_statement = 'all'")
        self.admin.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)  # backends pick the new setting up between statements
        return self

    def __exit__(self, *_: object) -> None:
        self.admin.execute("ALTER SYSTEM RESET log_statement")
        self.admin.execute("SELECT pg_reload_conf()")


def count_per_route(database_url: str, log_path: Path) -> dict[str, int]:
    """Round trips of one warm invocation of each route and outcome."""
    from functions.bookings.app import handler as bookings
    from functions.health.app import handler as health
    from functions.slots.app import handler as slots
    from local.http_api_event import http_api_event
    from local.lambda_context import LocalLambdaContext

    context = LocalLambdaContext("round-trips", timeout_seconds=LONGEST_RUN_S)

    def book(user: str, date: str) -> Callable[[], Any]:
        body = json.dumps({"user_id": user, "date": date, "time": "10:00"})
        return lambda: bookings(http_api_event("POST", "/bookings", body=body), context)

    requests: dict[str, Callable[[], Any]] = {
        "GET /health": lambda: health(http_api_event("GET", "/health"), context),
        "GET /slots": lambda: slots(
            http_api_event("GET", "/slots", raw_query="date=2038-01-01"), context
        ),
        "POST /bookings (booked)": book("user_alice", "2038-01-01"),
        "POST /bookings (Slot full)": book("user_bob", "2038-01-01"),
        "POST /bookings (User not found)": book("user_nobody", "2038-01-02"),
        "POST /bookings (invalid body)": book("user_alice", "2038-02-30"),
    }
    with (
        psycopg.connect(database_url, autocommit=True) as admin,
        StatementLogging(admin),
        quiet_handlers(),
    ):
        requests["GET /slots"]()  # open the warm connection before counting
        admin_pid = admin.info.backend_pid
        return {
            name: statements_during(log_path, request, admin_pid)
            for name, request in requests.items()
        }
