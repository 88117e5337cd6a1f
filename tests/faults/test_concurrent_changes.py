"""Bookings whose world changes under them: a retry behind a rolled-back rival, a user deleted."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from appointments.data import store
from tests.conftest import bookings_in
from tests.faults.conftest import slot_request
from tests.faults.test_connection_faults import wait_until_blocked_on_a_lock

DAY, START = datetime.date(2030, 7, 1), datetime.time(10)
ALICE, BOB, DAVE = (
    slot_request(user, DAY, START) for user in ("user_alice", "user_bob", "user_dave")
)


def in_background(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run `call` in a thread; its result (or the exception it raised) lands in the list."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call())
        except Exception as error:
            result.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


# Whether the retry meets its first attempt on the primary key depends on which
# of the two wakes first. Without book_slot_v1's second look for its own id,
# about half the rounds answered Slot full (one run of 20 rounds, measured).
COLLISION_ROUNDS = 20


def test_a_retry_that_collides_with_its_own_first_attempt_on_the_id_reports_the_booking(
    db: psycopg.Connection, database_url: str
) -> None:
    """First attempt and retry both wait behind a rival booking of the bay, which rolls back.

    Both then insert the same booking id: when both pass the bay's check
    before either inserts, the retry meets its id on the primary key, yields,
    and must still answer Booked (book_slot_v1 looks for its id again).
    """
    for round_ in range(COLLISION_ROUNDS):
        db.execute("TRUNCATE bookings")
        # The first attempt's answer goes nowhere: its connection is dead.
        _, retry_outcome = first_attempt_and_retry_behind_a_rival(db, database_url)
        assert retry_outcome == [store.Booked("booking_same")], f"round {round_}"
        assert bookings_in(db) == [("booking_same", "user_alice", "2030-07-01", "10:00")]


def first_attempt_and_retry_behind_a_rival(
    db: psycopg.Connection, database_url: str
) -> tuple[list[Any], list[Any]]:
    with (
        psycopg.connect(database_url, autocommit=True) as rival,
        psycopg.connect(database_url, autocommit=True) as first_attempt,
        psycopg.connect(database_url, autocommit=True) as retry,
    ):
        rival.execute("BEGIN")
        assert store.book_slot(rival, "booking_rival", BOB) == store.Booked("booking_rival")
        first, first_outcome = in_background(
            lambda: store.book_slot(first_attempt, "booking_same", ALICE)
        )
        wait_until_blocked_on_a_lock(db, first_attempt.info.backend_pid)
        # A retry is the same call again, on a new connection.
        second, retry_outcome = in_background(lambda: store.book_slot(retry, "booking_same", ALICE))
        wait_until_blocked_on_a_lock(db, retry.info.backend_pid)
        rival.execute("ROLLBACK")
        first.join(10)
        second.join(10)
    return first_outcome, retry_outcome


def test_a_user_deleted_while_their_booking_waits_is_user_not_found(
    db: psycopg.Connection, database_url: str
) -> None:
    with (
        psycopg.connect(database_url, autocommit=True) as deleter,
        psycopg.connect(database_url, autocommit=True) as booker,
    ):
        deleter.execute("BEGIN")
        deleter.execute("DELETE FROM users WHERE id = 'user_dave'")
        booking, outcome = in_background(lambda: store.book_slot(booker, "booking_dave", DAVE))
        wait_until_blocked_on_a_lock(db, booker.info.backend_pid)
        deleter.execute("COMMIT")
        booking.join(10)

    assert outcome == [store.UserNotFound()]
    assert bookings_in(db) == []


def test_a_user_deleted_after_their_booking_began_keeps_the_booking(
    db: psycopg.Connection, database_url: str
) -> None:
    """The other order: the booking holds the user row, so the delete is the one refused."""
    with (
        psycopg.connect(database_url, autocommit=True) as booker,
        psycopg.connect(database_url, autocommit=True) as deleter,
    ):
        booker.execute("BEGIN")
        assert store.book_slot(booker, "booking_dave", DAVE) == store.Booked("booking_dave")
        deleting, outcome = in_background(
            lambda: deleter.execute("DELETE FROM users WHERE id = 'user_dave'")
        )
        wait_until_blocked_on_a_lock(db, deleter.info.backend_pid)
        booker.execute("COMMIT")
        deleting.join(10)

    assert isinstance(outcome[0], psycopg.errors.ForeignKeyViolation)
    assert bookings_in(db) == [("booking_dave", "user_dave", "2030-07-01", "10:00")]
