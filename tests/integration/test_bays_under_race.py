"""The booking function when the bays change under it: a cancel, a deleted user.

Each test holds a racer's booking uncommitted, so the request under test must
wait for it, then changes something else before letting the racer commit.
"""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Callable
from datetime import date, time

import psycopg
import pytest

from appointments.data import booking_records, store
from appointments.domain import shop

DAY = date(2030, 5, 6)
TEN = time(10)


def request(user_id: str, capacity: int = 2) -> store.SlotRequest:
    (slot,) = [s for s in shop.slots_on(shop.load_schedule({}), DAY) if s.start == TEN]
    return store.SlotRequest(user_id, DAY, slot.start, slot.starts_at, slot.ends_at, capacity)


def in_background(
    book: Callable[[], store.BookingOutcome | object],
) -> tuple[threading.Thread, list[object]]:
    answers: list[object] = []
    thread = threading.Thread(target=lambda: answers.append(book()))
    thread.start()
    return thread, answers


def wait_until_waiting_on_a_lock(db: psycopg.Connection, pid: int) -> None:
    for _ in range(500):
        row = db.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
        if row.fetchone() == ("Lock",):
            return
        clock.sleep(0.01)
    raise AssertionError("the booking never waited for the racer")


@pytest.fixture
def racer(database_url: str) -> psycopg.Connection:
    with psycopg.connect(database_url) as conn:  # a transaction left open until the test commits
        yield conn


def test_a_bay_freed_while_the_booking_waited_is_taken(
    db: psycopg.Connection, database_url: str, racer: psycopg.Connection
) -> None:
    assert store.book_slot(db, "held", request("user_bob")) == store.Booked("held")  # bay 1
    assert store.book_slot(racer, "racer", request("user_charlie")) == store.Booked(
        "racer"
    )  # bay 2, uncommitted
    with psycopg.connect(database_url, autocommit=True) as conn:
        pid = conn.info.backend_pid
        booking, answers = in_background(
            lambda: store.book_slot(conn, "mine", request("user_alice"))
        )
        wait_until_waiting_on_a_lock(db, pid)  # it saw bay 2 free, and waits for the racer
        booking_records.cancel_booking(db, "held")  # bay 1 is free now
        racer.commit()  # the racer keeps bay 2
        booking.join(10)

    assert answers == [store.Booked("mine")]
    confirmed = db.execute(
        "SELECT id, resource_id FROM bookings WHERE status = 'confirmed' ORDER BY resource_id"
    ).fetchall()
    assert confirmed == [("mine", "bay-1"), ("racer", "bay-2")]


def test_a_user_deleted_while_their_booking_waited_is_user_not_found(
    db: psycopg.Connection, database_url: str, racer: psycopg.Connection
) -> None:
    db.execute("INSERT INTO users (id, name) VALUES ('user_erin', 'Erin')")
    assert store.book_slot(racer, "racer", request("user_charlie")) == store.Booked(
        "racer"
    )  # bay 1, uncommitted
    with psycopg.connect(database_url, autocommit=True) as conn:
        pid = conn.info.backend_pid
        booking, answers = in_background(
            lambda: store.book_slot(conn, "mine", request("user_erin"))
        )
        wait_until_waiting_on_a_lock(db, pid)
        db.execute("DELETE FROM users WHERE id = 'user_erin'")
        racer.commit()
        booking.join(10)

    assert answers == [store.UserNotFound()]
    assert db.execute("SELECT id FROM bookings").fetchall() == [("racer",)]
