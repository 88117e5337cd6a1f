"""Moves under contention, each request from its own process (a container of its
own) through the real handler, released together by a barrier: the database
alone decides. After every run, no two confirmed blocks overlap on a resource.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import Invoke
from tests.process.lifecycle_worker import delete_booking, reschedule_booking
from tests.process.test_lifecycle_races import WORKERS, book, send_at_once

# Sixteen one-hour slots of the default schedule over two days (09:00-17:00).
SIXTEEN_SLOTS = [
    (day, f"{hour:02d}:00") for day in ("2030-03-11", "2030-03-12") for hour in range(9, 17)
]

OVERLAPS = """
    SELECT a.id, b.id FROM bookings AS a JOIN bookings AS b
      ON a.shop_id = b.shop_id AND a.resource_id = b.resource_id AND a.id < b.id
     AND a.block && b.block
    WHERE a.status = 'confirmed' AND b.status = 'confirmed'
"""


def state(db: psycopg.Connection, booking_id: str) -> tuple[str, str, str, int, int]:
    """Its day, start, status, version, and how many moves it remembers."""
    row = db.execute(
        "SELECT to_char(slot_date, 'YYYY-MM-DD'), to_char(slot_time, 'HH24:MI'), status,"
        " version, coalesce(jsonb_array_length(moved_from), 0) FROM bookings WHERE id = %s",
        (booking_id,),
    ).fetchone()
    assert row is not None
    return row  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def no_overlap_afterwards(db: psycopg.Connection) -> Iterator[None]:
    yield
    assert db.execute(OVERLAPS).fetchall() == []


@pytest.mark.slow
def test_sixteen_moves_at_one_version_move_it_once(
    database_url: str, db: psycopg.Connection, invoke: Invoke
) -> None:
    booking_id = book(invoke, "user_alice", "2030-03-13", "09:00")

    answers = send_at_once(
        database_url,
        [
            reschedule_booking(booking_id, day, start, if_match='"1"')
            for day, start in SIXTEEN_SLOTS
        ],
    )

    statuses = Counter(a["status"] for a in answers)
    assert statuses == {200: 1, 412: WORKERS - 1}, statuses
    [won] = [a for a in answers if a["status"] == 200]
    asked = json.loads(won["request"]["body"])
    assert (won["body"]["date"], won["body"]["time"]) == (asked["date"], asked["time"])
    assert state(db, booking_id) == (won["body"]["date"], won["body"]["time"], "confirmed", 2, 1)


@pytest.mark.slow
def test_sixteen_moves_without_if_match_each_move_it_in_turn(
    database_url: str, db: psycopg.Connection, invoke: Invoke
) -> None:
    booking_id = book(invoke, "user_alice", "2030-03-13", "09:00")

    answers = send_at_once(
        database_url, [reschedule_booking(booking_id, day, start) for day, start in SIXTEEN_SLOTS]
    )

    assert {a["status"] for a in answers} == {200}
    # Each saw the booking after the moves before it: versions 2..17, one each.
    versions = sorted(int(a["headers"]["etag"].strip('"')) for a in answers)
    assert versions == list(range(2, WORKERS + 2))
    last = max(answers, key=lambda a: int(a["headers"]["etag"].strip('"')))
    assert state(db, booking_id) == (
        last["body"]["date"],
        last["body"]["time"],
        "confirmed",
        WORKERS + 1,
        WORKERS,
    )


@pytest.mark.slow
def test_a_move_racing_a_cancel_never_leaves_a_cancelled_booking_confirmed(
    database_url: str, db: psycopg.Connection, invoke: Invoke
) -> None:
    pairs = WORKERS // 2
    bookings = [book(invoke, "user_alice", "2030-03-13", f"{9 + n:02d}:00") for n in range(pairs)]
    requests = [
        request
        for n, booking_id in enumerate(bookings)
        for request in (
            reschedule_booking(booking_id, "2030-03-14", f"{9 + n:02d}:00"),
            delete_booking(booking_id),
        )
    ]

    answers = send_at_once(database_url, requests)

    by_booking: dict[str, list[int]] = {booking_id: [] for booking_id in bookings}
    for answer in answers:
        booking_id = answer["request"]["path_parameters"]["booking_id"]
        by_booking[booking_id].append(answer["status"])
    for booking_id, statuses in by_booking.items():
        day, _, status, version, moves = state(db, booking_id)
        # Cancelled either way: moved first (then 200, 200) or not at all (409).
        assert status == "cancelled"
        if moves:
            assert (sorted(statuses), day, version) == ([200, 200], "2030-03-14", 3)
        else:
            assert (sorted(statuses), day, version) == ([200, 409], "2030-03-13", 2)


@pytest.mark.slow
def test_two_bookings_swapping_slots_at_once_are_answered_and_left_as_they_were(
    database_url: str, db: psycopg.Connection, invoke: Invoke
) -> None:
    """One bay: each move wants the other's block. However the two interleave, even
    each waiting for the other (a deadlock the server breaks), both are answered
    Slot full, and both bookings stay."""
    pairs = WORKERS // 2
    day = "2030-03-15"
    pairs_of_bookings = [
        (
            book(invoke, "user_alice", day, f"{9 + 2 * n:02d}:00"),
            book(invoke, "user_bob", day, f"{10 + 2 * n:02d}:00"),
        )
        for n in range(pairs // 2)
    ]
    requests = [
        request
        for n, (early, late) in enumerate(pairs_of_bookings)
        for request in (
            reschedule_booking(early, day, f"{10 + 2 * n:02d}:00", if_match='"1"'),
            reschedule_booking(late, day, f"{9 + 2 * n:02d}:00", if_match='"1"'),
        )
    ]

    answers = send_at_once(database_url, requests)

    assert [(a["status"], a["body"]) for a in answers] == [(400, {"error": "Slot full"})] * len(
        requests
    )
    for n, (early, late) in enumerate(pairs_of_bookings):
        assert state(db, early) == (day, f"{9 + 2 * n:02d}:00", "confirmed", 1, 0)
        assert state(db, late) == (day, f"{10 + 2 * n:02d}:00", "confirmed", 1, 0)


@pytest.mark.slow
def test_sixteen_bookings_moved_into_one_free_slot_at_once_leave_exactly_one_there(
    database_url: str, db: psycopg.Connection, invoke: Invoke
) -> None:
    """Each move finds the slot free, and their updates meet in 0019's constraint, each
    waiting for the others' (an exclusion check waits for a conflicting row in flight, so
    two can wait for each other: the server fails one, which the move catches)."""
    target_day, target = "2030-03-18", "12:00"
    bookings = [book(invoke, "user_alice", day, start) for day, start in SIXTEEN_SLOTS]

    answers = send_at_once(
        database_url, [reschedule_booking(b, target_day, target) for b in bookings]
    )

    statuses = Counter(a["status"] for a in answers)
    assert statuses == {200: 1, 400: WORKERS - 1}, statuses
    assert {json.dumps(a["body"]) for a in answers if a["status"] == 400} == {
        json.dumps({"error": "Slot full"})
    }
    [won] = [a["body"]["booking_id"] for a in answers if a["status"] == 200]
    for booking_id, (day, start) in zip(bookings, SIXTEEN_SLOTS, strict=True):
        expected = (target_day, target, 2, 1) if booking_id == won else (day, start, 1, 0)
        got = state(db, booking_id)
        assert (got[0], got[1], got[3], got[4]) == expected
