"""Cancels and keyed bookings whose connection dies mid-way: retried safely, exactly once.

The handler's connection is killed from outside (pg_terminate_backend) at two
moments: while its statement waits on a lock the test holds, so that nothing
it did commits; and after its transaction committed but before the answer
reached the handler. For the second, the server is made to wait for a
synchronous standby that does not exist: a commit is then written locally and
waits for the standby, and a backend terminated in that wait leaves its
transaction committed ("The transaction has already committed locally") while
the client only sees its connection close.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql

from appointments.api.booking_views import request_fingerprint
from appointments.api.models import parse_booking_request
from appointments.data import booking_records, database
from appointments.domain.schedule import rfc3339_utc
from local.http_api_event import http_api_event
from local.lambda_context import LocalLambdaContext
from tests.conftest import Invoke, Printed, insert_booking, load_function
from tests.faults.conftest import FaultServer
from tests.faults.test_concurrent_changes import in_background
from tests.faults.test_connection_faults import wait_until_blocked_on_a_lock
from tests.integration.test_holds import hold, on_hold
from tests.integration.test_reschedule import reschedule

DAY = "2030-08-01"
RETRYING = "database connection lost; retrying on a new connection"


@pytest.fixture
def fault(fault_db: FaultServer) -> FaultServer:
    """The fault server with the seed users, no bookings and no recorded keys."""
    with fault_db.admin() as admin:
        admin.execute("TRUNCATE idempotency_keys")
    return fault_db


def booking_body(start: str, user_id: str = "user_alice") -> str:
    return json.dumps({"user_id": user_id, "date": DAY, "time": start})


def post(invoke: Invoke, body: str, key: str) -> dict[str, Any]:
    return invoke(
        "bookings",
        "POST",
        "/bookings",
        body=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


def delete(invoke: Invoke, booking_id: str, if_match: str | None = None) -> dict[str, Any]:
    return invoke(
        "bookings",
        "DELETE",
        f"/bookings/{booking_id}",
        route_key="DELETE /bookings/{booking_id}",
        path_parameters={"booking_id": booking_id},
        headers={} if if_match is None else {"If-Match": if_match},
    )


def warm_backend(invoke: Invoke) -> int:
    """Warm the handler's connection (cancelling no booking: 404); its server process id."""
    assert delete(invoke, "booking_none")["statusCode"] == 404
    return database.get_connection().info.backend_pid


def terminate(admin: psycopg.Connection, pid: int) -> datetime:
    """pg_terminate_backend, as a failover or a proxy would; the server's clock at the kill."""
    row = admin.execute("SELECT pg_terminate_backend(%s), clock_timestamp()", (pid,)).fetchone()
    assert row is not None and row[0] is True
    return row[1]  # type: ignore[no-any-return]


def wait_for_event(admin: psycopg.Connection, pid: int, wait_event: str) -> datetime:
    """Until the backend waits on `wait_event`; the server's clock when it was seen waiting."""
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        row = admin.execute(
            "SELECT wait_event, clock_timestamp() FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        if row and row[0] == wait_event:
            return row[1]  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited on {wait_event}")


def set_standby(fault: FaultServer, admin: psycopg.Connection, names: str) -> None:
    admin.execute(
        sql.SQL("ALTER SYSTEM SET synchronous_standby_names = {}").format(sql.Literal(names))
    )
    admin.execute("SELECT pg_reload_conf()")
    # The postmaster re-reads its configuration, then signals its children:
    # a new session that sees the value was forked after both.
    for _ in range(250):
        with fault.admin() as probe:
            row = probe.execute("SHOW synchronous_standby_names").fetchone()
        if row == (names,):
            return
        time.sleep(0.02)
    raise AssertionError(f"synchronous_standby_names never became {names!r}")


@contextmanager
def commits_wait_for_a_missing_standby(fault: FaultServer) -> Iterator[psycopg.Connection]:
    """While the block runs, every commit that wrote something waits (SyncRep) for a standby.

    Leaving the block lets every waiting commit go (the checkpointer releases
    them when no standby is required any more).
    """
    with fault.admin() as admin:
        set_standby(fault, admin, "phantom_standby")
        try:
            yield admin
        finally:
            set_standby(fault, admin, "")


def answered_across_a_kill_at_commit(
    fault: FaultServer, pid: int, request: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Send `request`; kill its connection while its commit waits (so it committed);
    the one answer the client gets, after the handler's retry."""
    with commits_wait_for_a_missing_standby(fault) as admin:
        running, answers = in_background(request)
        wait_for_event(admin, pid, "SyncRep")
        terminate(admin, pid)
    running.join(10)
    (answer,) = answers
    return answer  # type: ignore[no-any-return]


def retries_logged(stdout_json: Printed) -> int:
    return sum(1 for record in stdout_json() if record.get("message") == RETRYING)


def booking_rows(fault: FaultServer, last: str = "cancelled_at") -> list[tuple[Any, ...]]:
    """(id, user, start, status, `last`) of every booking, oldest first."""
    with fault.admin() as admin:
        return admin.execute(
            sql.SQL(
                "SELECT id, user_id, to_char(slot_time, 'HH24:MI'), status, {}"
                " FROM bookings ORDER BY created_at"
            ).format(sql.Identifier(last))
        ).fetchall()


def key_rows(fault: FaultServer) -> list[tuple[Any, ...]]:
    with fault.admin() as admin:
        return admin.execute(
            "SELECT user_id, key, outcome, attempt_id FROM idempotency_keys ORDER BY key"
        ).fetchall()


def book(invoke: Invoke, start: str) -> str:
    answer = invoke("bookings", "POST", "/bookings", body=booking_body(start))
    assert answer["statusCode"] == 200
    return str(answer["json"]["booking_id"])


# --- cancel ---------------------------------------------------------------------------


def test_a_cancel_killed_while_it_waits_for_the_row_is_retried_and_cancels_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    booking_id = book(invoke, "09:00")
    pid = warm_backend(invoke)
    with fault.admin() as locker, fault.admin() as admin:
        locker.execute("BEGIN")
        locker.execute("SELECT 1 FROM bookings WHERE id = %s FOR UPDATE", (booking_id,))
        cancelling, answers = in_background(lambda: delete(invoke, booking_id))
        wait_until_blocked_on_a_lock(admin, pid)
        killed_at = terminate(admin, pid)
        locker.execute("ROLLBACK")
        cancelling.join(10)

    (answer,) = answers
    assert answer["statusCode"] == 200, answer
    assert (answer["json"]["booking_id"], answer["json"]["status"]) == (booking_id, "cancelled")
    [(_, _, _, status, cancelled_at)] = booking_rows(fault)
    # Cancelled by the retry (the killed attempt committed nothing), and answered as stored.
    assert status == "cancelled" and cancelled_at > killed_at
    assert answer["json"]["cancelled_at"] == rfc3339_utc(cancelled_at)
    assert retries_logged(stdout_json) == 1
    assert database.get_connection().info.backend_pid != pid


def test_a_cancel_that_committed_before_its_connection_was_killed_answers_its_own_time(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    """The retry runs the cancel again: it must keep, and answer, the first attempt's time."""
    booking_id = book(invoke, "10:00")
    pid = warm_backend(invoke)
    with commits_wait_for_a_missing_standby(fault) as admin:
        cancelling, answers = in_background(lambda: delete(invoke, booking_id))
        committed_by = wait_for_event(admin, pid, "SyncRep")
        # The retry's now() falls in a later second than the first attempt's,
        # so that even the answer (to the second) tells them apart.
        time.sleep(1.1)
        terminate(admin, pid)
    cancelling.join(10)

    (answer,) = answers
    assert answer["statusCode"] == 200, answer
    [(_, _, _, status, cancelled_at)] = booking_rows(fault)
    assert status == "cancelled"
    assert cancelled_at < committed_by  # the first attempt's time, not the retry's
    assert answer["json"]["cancelled_at"] == rfc3339_utc(cancelled_at)
    assert retries_logged(stdout_json) == 1
    # Asked again later, the same answer.
    again = delete(invoke, booking_id)
    assert (again["statusCode"], again["json"]) == (200, answer["json"])


@pytest.mark.parametrize("if_match", [None, '"1"'])
def test_a_cancel_committed_before_the_kill_is_kept_by_the_statement_itself(
    fault: FaultServer, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, if_match: str | None
) -> None:
    """The same, to the microsecond: the first attempt's own row, read before the kill.

    At a version (If-Match), the retry finds the booking cancelled by the
    change from it, its own: the cancel is made, not refused as changed.
    """
    booking_id = book(invoke, "11:00")
    real_cancel = booking_records.cancel_booking
    first_attempts: list[object] = []

    def cancel_then_lose_the_connection(conn: psycopg.Connection, *args: Any) -> Any:
        outcome = real_cancel(conn, *args)
        if not first_attempts:
            first_attempts.append(outcome)
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")  # raises: link gone
        return outcome

    monkeypatch.setattr(booking_records, "cancel_booking", cancel_then_lose_the_connection)
    answer = delete(invoke, booking_id, if_match)

    (first,) = first_attempts
    assert isinstance(first, booking_records.Booking) and first.cancelled_at is not None
    [(_, _, _, status, cancelled_at)] = booking_rows(fault)
    assert (status, cancelled_at) == ("cancelled", first.cancelled_at)
    assert (answer["statusCode"], answer["json"]["cancelled_at"]) == (
        200,
        rfc3339_utc(first.cancelled_at),
    )
    assert answer["headers"]["ETag"] == '"2"'
    with fault.admin() as admin:
        assert admin.execute("SELECT version FROM bookings").fetchone() == (2,)


# --- move -----------------------------------------------------------------------------


def move(invoke: Invoke, booking_id: str, start: str) -> dict[str, Any]:
    """A move of the booking to `start` on DAY, at version 1."""
    return reschedule(invoke, booking_id, {"date": DAY, "time": start}, '"1"')


def moves_of(fault: FaultServer) -> list[tuple[Any, ...]]:
    """(start, version, the starts it moved from) of every booking, oldest first."""
    with fault.admin() as admin:
        return admin.execute(
            "SELECT to_char(slot_time, 'HH24:MI'), version,"
            " (SELECT array_agg(m ->> 'time') FROM jsonb_array_elements(moved_from) AS m)"
            " FROM bookings ORDER BY created_at"
        ).fetchall()


def test_a_move_killed_while_it_waits_for_the_row_is_retried_and_moves_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    booking_id = book(invoke, "09:00")
    pid = warm_backend(invoke)
    with fault.admin() as locker, fault.admin() as admin:
        locker.execute("BEGIN")
        locker.execute("SELECT 1 FROM bookings WHERE id = %s FOR UPDATE", (booking_id,))
        moving, answers = in_background(lambda: move(invoke, booking_id, "13:00"))
        wait_until_blocked_on_a_lock(admin, pid)
        terminate(admin, pid)
        locker.execute("ROLLBACK")
        moving.join(10)

    (answer,) = answers
    assert (answer["statusCode"], answer["json"]["time"]) == (200, "13:00"), answer
    assert answer["headers"]["ETag"] == '"2"'
    assert moves_of(fault) == [("13:00", 2, ["09:00"])]
    assert retries_logged(stdout_json) == 1


def test_a_move_that_committed_before_its_connection_was_killed_is_answered_moved_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    """The retry, at the same If-Match, finds the booking moved there from that version:
    moved, not "Booking changed", and not moved again."""
    booking_id = book(invoke, "10:00")
    pid = warm_backend(invoke)
    answer = answered_across_a_kill_at_commit(fault, pid, lambda: move(invoke, booking_id, "14:00"))

    assert (answer["statusCode"], answer["json"]["time"]) == (200, "14:00"), answer
    assert [m["time"] for m in answer["json"]["moved_from"]] == ["10:00"]
    assert moves_of(fault) == [("14:00", 2, ["10:00"])]
    assert retries_logged(stdout_json) == 1


# --- keyed booking --------------------------------------------------------------------


@pytest.mark.parametrize("rival", ["rolls back", "is this request from another container"])
def test_a_keyed_booking_killed_while_it_waits_for_the_slot_is_answered_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed, rival: str
) -> None:
    """A rival holds the slot in an open transaction; the handler's connection dies waiting.

    The rival either rolls back (the retry books the slot), or is the same
    request with the same key, sent to another container, and commits (the
    retry answers with that request's booking).
    """
    body, key = booking_body("12:00"), "fault-key-c"
    pid = warm_backend(invoke)
    with fault.admin() as rival_conn, fault.admin() as admin:
        rival_conn.execute("BEGIN")
        if rival == "rolls back":
            insert_booking(rival_conn, "booking_rival", "user_bob", DAY, "12:00")
        else:
            fingerprint = request_fingerprint(parse_booking_request(body.encode()))
            insert_booking(rival_conn, "booking_rival", "user_alice", DAY, "12:00")
            rival_conn.execute(
                "INSERT INTO idempotency_keys"
                " (user_id, key, request_fingerprint, outcome, attempt_id)"
                " VALUES ('user_alice', %s, %s, 'booked', 'booking_rival')",
                (key, fingerprint),
            )
        booking, answers = in_background(lambda: post(invoke, body, key))
        wait_until_blocked_on_a_lock(admin, pid)
        terminate(admin, pid)
        rival_conn.execute("ROLLBACK" if rival == "rolls back" else "COMMIT")
        booking.join(10)

    (answer,) = answers
    assert answer["statusCode"] == 200, answer
    booking_id = answer["json"]["booking_id"]
    if rival == "rolls back":
        assert booking_id != "booking_rival"
        assert "Idempotent-Replayed" not in answer["headers"]
    else:
        assert booking_id == "booking_rival"
        assert answer["headers"]["Idempotent-Replayed"] == "true"
    assert [row[:4] for row in booking_rows(fault)] == [
        (booking_id, "user_alice", "12:00", "confirmed")
    ]
    assert key_rows(fault) == [("user_alice", key, "booked", booking_id)]
    assert retries_logged(stdout_json) == 1

    replay = post(invoke, body, key)
    assert (replay["statusCode"], replay["json"]) == (200, {"booking_id": booking_id})
    assert replay["headers"]["Idempotent-Replayed"] == "true"
    assert len(booking_rows(fault)) == 1 and len(key_rows(fault)) == 1


def test_a_keyed_booking_committed_before_its_connection_was_killed_is_answered_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    """The booking and its key commit, the answer is lost: the retry answers that booking."""
    body, key = booking_body("13:00"), "fault-key-d"
    pid = warm_backend(invoke)
    with commits_wait_for_a_missing_standby(fault) as admin:
        booking, answers = in_background(lambda: post(invoke, body, key))
        committed_by = wait_for_event(admin, pid, "SyncRep")
        terminate(admin, pid)
    booking.join(10)

    (answer,) = answers
    assert answer["statusCode"] == 200, answer
    booking_id = answer["json"]["booking_id"]
    [(*row, created_at)] = booking_rows(fault, "created_at")
    assert row == [booking_id, "user_alice", "13:00", "confirmed"]
    assert created_at < committed_by  # made by the first attempt, not by the retry
    assert key_rows(fault) == [("user_alice", key, "booked", booking_id)]
    assert retries_logged(stdout_json) == 1
    # Read from the key its own first attempt recorded: to the client, the first answer.
    assert "Idempotent-Replayed" not in answer["headers"]

    # The client, which never got that answer either, sends the request again.
    again = post(invoke, body, key)
    assert (again["statusCode"], again["json"]) == (200, answer["json"])
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert len(booking_rows(fault)) == 1 and len(key_rows(fault)) == 1


def test_a_keyed_booking_committed_by_an_invocation_that_then_failed_is_replayed_to_the_client(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    """Committed, then the connection died too near the deadline to retry: the client got a 503.

    Its retry with the key must get the booking the failed invocation made.
    Had the key been recorded apart from the booking, the booking would stand
    without it, and the retry would be told the slot is full (by itself).
    """
    body, key = booking_body("15:00"), "fault-key-d3"
    pid = warm_backend(invoke)
    event = http_api_event(
        "POST",
        "/bookings",
        body=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    # "Too near the deadline to retry", without a race against the clock: the
    # invocation has a minute, so neither its deadline nor the watchdog's
    # cancel at it (which would end the wait for the standby, and let the
    # statement succeed) comes during the test, however slow the machine; and
    # for this invocation only, a retry needs more time than that minute. The
    # kill can then come whenever the commit is seen waiting: the retry is
    # never started. (The next request reconnects, so the patch must not
    # outlive the invocation.)
    timeout_s = 60
    context = LocalLambdaContext(function_name="bookings", timeout_seconds=timeout_s)
    with pytest.MonkeyPatch.context() as patch, commits_wait_for_a_missing_standby(fault) as admin:
        patch.setattr(database, "MIN_RETRY_S", timeout_s + 60.0)
        booking, answers = in_background(lambda: load_function("bookings").handler(event, context))
        committed_by = wait_for_event(admin, pid, "SyncRep")
        terminate(admin, pid)
        booking.join(30)

    (failed,) = answers
    assert (failed["statusCode"], json.loads(failed["body"])) == (
        503,
        {"error": "Service unavailable"},
    )
    warnings = [r["message"] for r in stdout_json() if r.get("level") == "WARNING"]
    assert "connection lost, no time left to retry" in warnings
    [(booking_id, user_id, start, status, created_at)] = booking_rows(fault, "created_at")
    assert (user_id, start, status) == ("user_alice", "15:00", "confirmed")
    assert created_at < committed_by

    retried = post(invoke, body, key)
    assert (retried["statusCode"], retried["json"]) == (200, {"booking_id": booking_id})
    assert retried["headers"]["Idempotent-Replayed"] == "true"
    assert len(booking_rows(fault)) == 1
    assert key_rows(fault) == [("user_alice", key, "booked", booking_id)]


# --- hold -----------------------------------------------------------------------------


def hold_rows(fault: FaultServer) -> list[tuple[Any, ...]]:
    """(id, start, status, version) of every row, oldest first."""
    with fault.admin() as admin:
        return admin.execute(
            "SELECT id, to_char(slot_time, 'HH24:MI'), status, version FROM bookings"
            " ORDER BY created_at"
        ).fetchall()


def test_a_hold_that_committed_before_its_connection_was_killed_is_answered_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    """The retry, under the same id, finds the hold its first attempt committed: that
    hold, not "Slot full", and not a second one."""
    pid = warm_backend(invoke)
    answer = answered_across_a_kill_at_commit(
        fault, pid, lambda: hold(invoke, booking_body("11:00"))
    )

    assert answer["statusCode"] == 201, answer
    assert hold_rows(fault) == [(answer["json"]["hold_id"], "11:00", "held", 1)]
    assert retries_logged(stdout_json) == 1


def test_a_hold_killed_while_a_rival_holds_the_slot_is_retried_and_holds_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    pid = warm_backend(invoke)
    with fault.admin() as rival_conn, fault.admin() as admin:
        rival_conn.execute("BEGIN")
        insert_booking(rival_conn, "booking_rival", "user_bob", DAY, "12:00")
        holding, answers = in_background(lambda: hold(invoke, booking_body("12:00")))
        wait_until_blocked_on_a_lock(admin, pid)
        terminate(admin, pid)
        rival_conn.execute("ROLLBACK")
        holding.join(10)

    (answer,) = answers
    assert answer["statusCode"] == 201, answer
    assert hold_rows(fault) == [(answer["json"]["hold_id"], "12:00", "held", 1)]
    assert retries_logged(stdout_json) == 1


def test_a_confirmation_that_committed_before_its_connection_was_killed_books_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    hold_id = hold(invoke, booking_body("13:00"))["json"]["hold_id"]
    pid = warm_backend(invoke)
    answer = answered_across_a_kill_at_commit(
        fault, pid, lambda: on_hold(invoke, "POST", hold_id, "/confirm")
    )

    assert (answer["statusCode"], answer["json"]) == (200, {"booking_id": hold_id}), answer
    assert hold_rows(fault) == [(hold_id, "13:00", "confirmed", 1)]
    assert retries_logged(stdout_json) == 1


def test_a_confirmation_killed_while_it_waits_for_the_row_is_retried_and_books_once(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    hold_id = hold(invoke, booking_body("14:00"))["json"]["hold_id"]
    pid = warm_backend(invoke)
    with fault.admin() as locker, fault.admin() as admin:
        locker.execute("BEGIN")
        locker.execute("SELECT 1 FROM bookings WHERE id = %s FOR UPDATE", (hold_id,))
        confirming, answers = in_background(lambda: on_hold(invoke, "POST", hold_id, "/confirm"))
        wait_until_blocked_on_a_lock(admin, pid)
        terminate(admin, pid)
        locker.execute("ROLLBACK")
        confirming.join(10)

    (answer,) = answers
    assert (answer["statusCode"], answer["json"]) == (200, {"booking_id": hold_id}), answer
    assert hold_rows(fault) == [(hold_id, "14:00", "confirmed", 1)]
    assert retries_logged(stdout_json) == 1


def test_a_release_that_committed_before_its_connection_was_killed_answers_released(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    hold_id = hold(invoke, booking_body("15:00"))["json"]["hold_id"]
    pid = warm_backend(invoke)
    answer = answered_across_a_kill_at_commit(
        fault, pid, lambda: on_hold(invoke, "DELETE", hold_id)
    )

    assert (answer["statusCode"], answer["json"]["status"]) == (200, "released"), answer
    assert hold_rows(fault) == [(hold_id, "15:00", "released", 2)]
    assert retries_logged(stdout_json) == 1


def test_a_keyed_move_that_committed_before_its_connection_was_killed_is_its_own_answer(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    """The retry meets the key its own first attempt recorded: the move's answer, not a
    replay (no Idempotent-Replayed), and one move."""
    booking_id = book(invoke, "09:00")
    pid = warm_backend(invoke)

    answer = answered_across_a_kill_at_commit(
        fault,
        pid,
        lambda: reschedule(invoke, booking_id, {"date": DAY, "time": "16:00"}, key="fault-move"),
    )

    assert (answer["statusCode"], answer["json"]["time"]) == (200, "16:00"), answer
    assert "Idempotent-Replayed" not in answer["headers"]
    assert moves_of(fault) == [("16:00", 2, ["09:00"])]
    assert retries_logged(stdout_json) == 1


def test_a_keyed_confirmation_that_committed_before_its_connection_was_killed_is_its_own(
    fault: FaultServer, invoke: Invoke, stdout_json: Printed
) -> None:
    hold_id = hold(invoke, booking_body("16:00"))["json"]["hold_id"]
    pid = warm_backend(invoke)

    answer = answered_across_a_kill_at_commit(
        fault,
        pid,
        lambda: on_hold(
            invoke, "POST", hold_id, "/confirm", headers={"Idempotency-Key": "fault-confirm"}
        ),
    )

    assert (answer["statusCode"], answer["json"]) == (200, {"booking_id": hold_id}), answer
    assert "Idempotent-Replayed" not in answer["headers"]
    assert hold_rows(fault) == [(hold_id, "16:00", "confirmed", 1)]
    assert [row[:3] for row in key_rows(fault)] == [("user_alice", "fault-confirm", "booked")]
    assert retries_logged(stdout_json) == 1
