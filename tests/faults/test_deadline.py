"""No request outlives its function: database work stops at the invocation's deadline.

Lambda kills an invocation at its timeout, and API Gateway then answers its own
non-JSON 500. Each test gives the handler a short timeout through its context
and checks that our JSON 503 comes back inside it.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from psycopg.conninfo import make_conninfo

from appointments.data import database
from appointments.platform import deadline, settings
from local.http_api_event import http_api_event
from local.lambda_context import LocalLambdaContext
from tests.conftest import load_function
from tests.faults.conftest import FaultServer, bookings_locked, rows
from tests.faults.test_connection_faults import kill_warm_connection

FUNCTION_TIMEOUT_S = 4  # its deadline (3 s) leaves room for a connect (database.MIN_RETRY_S)
SERVICE_UNAVAILABLE = (503, {"error": "Service unavailable"})


def book(
    time_: str = "10:00", timeout_s: int = FUNCTION_TIMEOUT_S
) -> tuple[tuple[int, Any], float]:
    """POST /bookings with a `timeout_s` context: (status, body) and seconds taken."""
    event = http_api_event(
        "POST",
        "/bookings",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"user_id": "user_alice", "date": "2030-06-01", "time": time_}),
    )
    context = LocalLambdaContext("bookings", timeout_seconds=timeout_s)
    started = time.monotonic()
    response = load_function("bookings").handler(event, context)
    return (response["statusCode"], json.loads(response["body"])), time.monotonic() - started


@pytest.fixture
def no_statement_timeout(fault_db: FaultServer, monkeypatch: pytest.MonkeyPatch) -> FaultServer:
    """The handlers' sessions without statement_timeout: only the deadline stops them."""
    url = make_conninfo(fault_db.url, options="-c statement_timeout=0")
    monkeypatch.setenv("DATABASE_URL", url)
    settings.get_settings.cache_clear()
    database.close()
    return fault_db


def test_a_statement_still_waiting_at_the_deadline_is_cancelled_and_answered_503(
    no_statement_timeout: FaultServer,
) -> None:
    assert book("09:00")[0][0] == 200  # warm: connected before the lock

    with bookings_locked(no_statement_timeout):
        answer, took = book("10:00")

    assert answer == SERVICE_UNAVAILABLE
    assert took < FUNCTION_TIMEOUT_S - deadline.ANSWER_MARGIN_S / 2
    assert [slot for _, _, slot in rows(no_statement_timeout)] == ["09:00"]
    # The connection survived the cancel: the next request needs no reconnect.
    pid = database.get_connection().info.backend_pid
    assert book("10:00")[0][0] == 200
    assert database.get_connection().info.backend_pid == pid


def test_a_deadline_further_off_than_the_statement_timeout_still_cuts_the_statement(
    no_statement_timeout: FaultServer,
) -> None:
    """The database's statement_timeout may not be ours (a role's own, none stored), and
    a pooler's queue is outside it: the deadline is kept whatever the session says."""
    timeout_s = 7  # its deadline, 6 s, is further off than the 5 s statement_timeout
    assert book("09:00", timeout_s)[0][0] == 200

    with bookings_locked(no_statement_timeout):
        answer, took = book("10:00", timeout_s)

    assert answer == SERVICE_UNAVAILABLE
    assert took < timeout_s - deadline.ANSWER_MARGIN_S / 2


def test_a_retry_after_a_dead_connection_stops_at_the_deadline(
    no_statement_timeout: FaultServer,
) -> None:
    kill_warm_connection(no_statement_timeout)  # the retry reconnects, then waits on the lock

    with bookings_locked(no_statement_timeout):
        answer, took = book()

    assert answer == SERVICE_UNAVAILABLE
    assert took < FUNCTION_TIMEOUT_S - deadline.ANSWER_MARGIN_S / 2


def test_a_retry_with_no_time_left_is_not_started(
    fault_db: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kill_warm_connection(fault_db)
    monkeypatch.setattr(database, "MIN_RETRY_S", FUNCTION_TIMEOUT_S + 1.0)
    attempts: list[int] = []
    monkeypatch.setattr(database, "get_connection", counting(database.get_connection, attempts))

    answer, _ = book()

    assert answer == SERVICE_UNAVAILABLE
    assert len(attempts) == 1  # no reconnect for a retry that could not finish
    assert rows(fault_db) == []


def test_connecting_to_a_silent_database_gives_up_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The connect timeout (5 s here) is longer than the function has: the deadline wins."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # handshakes complete; nobody ever answers
        monkeypatch.setenv(
            "DATABASE_URL", f"postgresql://app@127.0.0.1:{silent.getsockname()[1]}/db"
        )
        monkeypatch.setenv("DB_CONNECT_TIMEOUT", "5")
        settings.get_settings.cache_clear()
        database.close()
        try:
            answer, took = book()
        finally:
            settings.get_settings.cache_clear()
            database.close()

    assert answer == SERVICE_UNAVAILABLE
    assert took < FUNCTION_TIMEOUT_S


def counting(function: Any, calls: list[int]) -> Any:
    def counted() -> Any:
        calls.append(1)
        return function()

    return counted
