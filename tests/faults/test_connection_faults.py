"""Connections that die, a database that goes away, and statements that hang."""

from __future__ import annotations

import datetime
import json
import socket
import threading
import time
from typing import Any

import psycopg
import pytest

from appointments.data import database, store
from appointments.platform import settings
from tests.conftest import Invoke, Printed
from tests.faults.conftest import (
    STATEMENT_TIMEOUT_MS,
    FaultServer,
    bookings_locked,
    rows,
    slot_request,
)

CONNECT_TIMEOUT_S = 5  # DB_CONNECT_TIMEOUT, the template's default


def booking(time_: str = "10:00", user: str = "user_alice") -> str:
    return json.dumps({"user_id": user, "date": "2030-06-01", "time": time_})


def kill_warm_connection(fault: FaultServer) -> int:
    """pg_terminate_backend on the handler's connection, as a failover or idle reaper would."""
    pid = database.get_connection().info.backend_pid
    with fault.admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    return pid


def test_a_read_after_the_connection_was_killed_succeeds_transparently(
    fault_db: FaultServer, invoke: Invoke
) -> None:
    assert invoke("slots", "GET", "/slots", raw_query="date=2030-06-01")["statusCode"] == 200
    old_pid = kill_warm_connection(fault_db)

    response = invoke("slots", "GET", "/slots", raw_query="date=2030-06-01")

    assert response["statusCode"] == 200
    assert len(response["json"]["available_times"]) == 8
    assert database.get_connection().info.backend_pid != old_pid


def test_a_write_after_the_connection_was_killed_books_exactly_once(
    fault_db: FaultServer, invoke: Invoke
) -> None:
    invoke("slots", "GET", "/slots", raw_query="date=2030-06-01")  # warm up
    kill_warm_connection(fault_db)

    response = invoke("bookings", "POST", "/bookings", body=booking())

    assert response["statusCode"] == 200
    assert rows(fault_db) == [(response["json"]["booking_id"], "2030-06-01", "10:00")]


def test_a_booking_committed_just_before_the_connection_died_is_reported_as_booked(
    fault_db: FaultServer, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insert commits, the link dies before the answer: the retry must not say Slot full."""
    real_book_slot = store.book_slot
    attempts: list[str] = []

    def commit_then_lose_the_connection(
        conn: psycopg.Connection, booking_id: str, *args: Any
    ) -> Any:
        attempts.append(booking_id)
        outcome = real_book_slot(conn, booking_id, *args)
        if len(attempts) == 1:
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")  # raises: link gone
        return outcome

    monkeypatch.setattr(store, "book_slot", commit_then_lose_the_connection)
    response = invoke("bookings", "POST", "/bookings", body=booking("11:00"))

    assert len(attempts) == 2 and attempts[0] == attempts[1]  # retried with the same id
    assert (response["statusCode"], response["json"]) == (200, {"booking_id": attempts[0]})
    assert rows(fault_db) == [(attempts[0], "2030-06-01", "11:00")]


def test_a_stopped_database_is_a_quick_503_and_the_same_process_recovers(
    fault_db: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    assert invoke("slots", "GET", "/slots", raw_query="date=2030-06-01")["statusCode"] == 200
    fault_db.stop()
    try:
        for request in (
            lambda: invoke("slots", "GET", "/slots", raw_query="date=2030-06-01"),
            lambda: invoke("bookings", "POST", "/bookings", body=booking("12:00")),
            lambda: invoke("slots", "GET", "/slots", raw_query="date=2030-06-02"),
        ):
            started = time.monotonic()
            response = request()
            assert time.monotonic() - started < CONNECT_TIMEOUT_S
            assert (response["statusCode"], response["json"]) == (
                503,
                {"error": "Service unavailable"},
            )
    finally:
        fault_db.start()

    warnings = [r for r in stdout_json() if r.get("level") == "WARNING"]
    # The first request found its warm connection dead and said it would retry.
    retried = [w for w in warnings if w["message"].startswith("database connection lost")]
    unavailable = [w for w in warnings if w["message"] == "cannot connect to the database"]
    assert (len(retried), len(unavailable), len(warnings)) == (1, 3, 4)
    assert all("cause" in w and "password" not in json.dumps(w) for w in warnings)

    # Same process, same module state: it reconnects by itself.
    recovered = invoke("bookings", "POST", "/bookings", body=booking("12:00"))
    assert recovered["statusCode"] == 200
    assert rows(fault_db) == [(recovered["json"]["booking_id"], "2030-06-01", "12:00")]


def test_a_statement_stuck_behind_a_lock_times_out_as_503_and_books_nothing(
    fault_db: FaultServer, invoke: Invoke
) -> None:
    invoke(
        "slots", "GET", "/slots", raw_query="date=2030-06-01"
    )  # warm: the timeout is per session
    with fault_db.admin() as locker, locker.transaction():
        locker.execute("LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        stuck = invoke("bookings", "POST", "/bookings", body=booking("13:00"))
        waited = time.monotonic() - started

    assert (stuck["statusCode"], stuck["json"]) == (503, {"error": "Service unavailable"})
    assert STATEMENT_TIMEOUT_MS / 1000 <= waited < STATEMENT_TIMEOUT_MS / 1000 + 2
    assert rows(fault_db) == []
    # The connection is still good, and the slot is still free.
    retried = invoke("bookings", "POST", "/bookings", body=booking("13:00"))
    assert retried["statusCode"] == 200


def test_slots_are_bounded_by_the_statement_timeout_too(
    fault_db: FaultServer, invoke: Invoke
) -> None:
    with bookings_locked(fault_db, hold_s=10):
        response = invoke("slots", "GET", "/slots", raw_query="date=2030-06-01")
    assert response["statusCode"] == 503


@pytest.mark.parametrize("capacity", [1, 2])
def test_a_retry_racing_its_own_unfinished_first_attempt_still_reports_the_booking(
    fault_db: FaultServer, capacity: int
) -> None:
    """The first attempt's transaction is still open on the server when the retry starts.

    The retry's insert waits for it, then yields; the snapshot it chose its bay
    in predates that commit, so the function must look again before answering:
    Booked, not Slot full. With a second bay free, the retry must not take it
    under the same id either: one booking, one bay.
    """
    request = slot_request("user_alice", datetime.date(2030, 6, 1), datetime.time(14), capacity)
    outcome: list[Any] = []
    with fault_db.admin() as first_attempt, fault_db.admin() as retry_connection:
        first_attempt.execute("BEGIN")
        assert store.book_slot(first_attempt, "booking_same", request) == store.Booked(
            "booking_same"
        )
        retrying = threading.Thread(
            target=lambda: outcome.append(
                store.book_slot(retry_connection, "booking_same", request)
            )
        )
        retrying.start()
        wait_until_blocked_on_a_lock(first_attempt, retry_connection.info.backend_pid)
        first_attempt.execute("COMMIT")
        retrying.join(timeout=10)
    assert outcome == [store.Booked("booking_same")]
    assert rows(fault_db) == [("booking_same", "2030-06-01", "14:00")]
    assert bays(fault_db) == ["bay-1"]


def test_a_retry_after_its_first_attempt_committed_reports_the_booking(
    fault_db: FaultServer,
) -> None:
    """The function itself recognises its own id: no second statement, no second booking."""
    request = slot_request("user_alice", datetime.date(2030, 6, 1), datetime.time(15), capacity=2)
    with fault_db.admin() as first_attempt, fault_db.admin() as retry_connection:
        assert store.book_slot(first_attempt, "booking_same", request) == store.Booked(
            "booking_same"
        )
        assert store.book_slot(retry_connection, "booking_same", request) == store.Booked(
            "booking_same"
        )
    assert rows(fault_db) == [("booking_same", "2030-06-01", "15:00")]
    assert bays(fault_db) == ["bay-1"]  # bay-2 was free, and stays free


def bays(fault: FaultServer) -> list[str]:
    with fault.admin() as conn:
        rows = conn.execute("SELECT resource_id FROM bookings ORDER BY resource_id")
        return [bay for (bay,) in rows]


def wait_until_blocked_on_a_lock(admin: psycopg.Connection, pid: int) -> None:
    for _ in range(100):
        row = admin.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
        if row.fetchone() == ("Lock",):
            return
        time.sleep(0.02)
    raise AssertionError("the retry never waited on the first attempt")


def test_a_database_that_never_answers_is_a_503_once_the_connect_timeout_runs_out(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer that takes the TCP connection and then says nothing (a hung proxy, a black hole)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever answers
        port = silent.getsockname()[1]
        monkeypatch.setenv("DATABASE_URL", f"postgresql://app:pw@127.0.0.1:{port}/db")
        monkeypatch.setenv("DB_CONNECT_TIMEOUT", "2")
        settings.get_settings.cache_clear()
        database.close()
        try:
            started = time.monotonic()
            response = invoke("slots", "GET", "/slots", raw_query="date=2030-06-01")
            waited = time.monotonic() - started
        finally:
            settings.get_settings.cache_clear()
            database.close()

    assert (response["statusCode"], response["json"]) == (503, {"error": "Service unavailable"})
    assert 2 <= waited < 4
