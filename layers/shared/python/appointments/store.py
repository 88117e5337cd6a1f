"""Data access: the database conversation of each request, one SQL statement at a time.

The public functions (`booked_starts`, `book`) own everything a handler would
otherwise juggle: the warm connection, the retry after it died, the id a retry
must recognise. Underneath, `select_booked_starts` and `book_slot` each run one
statement with bound parameters on the connection they are given (so tests and
benchmarks can run them on any connection); `book_slot_again`, for a retry
only, may add a second.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, time

import psycopg

from appointments import database


# What booking a slot can come to. Expected outcomes are values, not exceptions.
@dataclass(frozen=True)
class Booked:
    booking_id: str


@dataclass(frozen=True)
class SlotFull:
    pass


@dataclass(frozen=True)
class UserNotFound:
    pass


BookingOutcome = Booked | SlotFull | UserNotFound


# Served by the unique index bookings_one_per_slot (slot_date, slot_time).
_BOOKED_STARTS = """
    SELECT slot_time
    FROM bookings
    WHERE slot_date = %(day)s
"""

# One round trip for every outcome.
# - The insert happens only when the user exists. A DELETE of the user still
#   under way when it runs makes the foreign key's check wait, and fail if the
#   DELETE commits (book_slot answers "User not found"); a DELETE that starts
#   later waits for the booking instead. Locking the user row here would do the
#   same, but would make every refused booking a write, with a commit to flush.
# - ON CONFLICT DO NOTHING, on every unique index (whichever is added later
#   joins them: its conflicts too would read as "Slot full"): the slot's
#   (bookings_one_per_slot) turns a race for the slot into a no-op for each
#   loser; the primary key's absorbs a retry that collides with its own first
#   attempt, still running on the server when the connection died.
# - `holder` is who holds the slot in this statement's snapshot: our own id
#   means an earlier attempt of this same request committed before its
#   connection died, and the retry must report that booking, not "Slot full".
_BOOK_SLOT = """
    WITH inserted AS (
        INSERT INTO bookings (id, user_id, slot_date, slot_time)
        SELECT %(booking_id)s, users.id, %(day)s, %(start)s
        FROM users
        WHERE users.id = %(user_id)s
        ON CONFLICT DO NOTHING
        RETURNING id
    )
    SELECT
        EXISTS (SELECT 1 FROM users WHERE id = %(user_id)s) AS user_exists,
        (SELECT id FROM inserted) AS inserted_id,
        (SELECT id FROM bookings WHERE slot_date = %(day)s AND slot_time = %(start)s) AS holder
"""

# Primary key lookup, in a snapshot of its own (see book_slot_again).
_BOOKING_EXISTS = """
    SELECT EXISTS (SELECT 1 FROM bookings WHERE id = %(booking_id)s)
"""


def booked_starts(day: date) -> list[time]:
    """Start times already booked on `day`. A read: safe to repeat after a dead connection."""
    return database.run(lambda conn: select_booked_starts(conn, day))


def book(user_id: str, day: date, start: time) -> BookingOutcome:
    """Book the slot for the user: exactly once, even when the connection dies mid-way."""
    booking_id = new_booking_id()  # chosen once, so that a retry can recognise its first attempt
    return database.run(
        lambda conn: book_slot(conn, booking_id, user_id, day, start),
        retry=lambda conn: book_slot_again(conn, booking_id, user_id, day, start),
    )


def new_booking_id() -> str:
    """An unguessable id: 128 random bits, URL-safe."""
    return "booking_" + secrets.token_urlsafe(16)


def select_booked_starts(conn: psycopg.Connection, day: date) -> list[time]:
    rows = conn.execute(_BOOKED_STARTS, {"day": day}).fetchall()
    return [start for (start,) in rows]


def book_slot(
    conn: psycopg.Connection, booking_id: str, user_id: str, day: date, start: time
) -> BookingOutcome:
    """Try to book the slot for the user under `booking_id`."""
    params = {"booking_id": booking_id, "user_id": user_id, "day": day, "start": start}
    try:
        row = conn.execute(_BOOK_SLOT, params).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        return UserNotFound()  # deleted while this insert waited for it (see _BOOK_SLOT)
    assert row is not None  # a SELECT without FROM always yields one row
    user_exists, inserted_id, holder = row
    if not user_exists:
        return UserNotFound()
    if booking_id in (inserted_id, holder):
        return Booked(booking_id)
    return SlotFull()


def book_slot_again(
    conn: psycopg.Connection, booking_id: str, user_id: str, day: date, start: time
) -> BookingOutcome:
    """book_slot for a retry after the connection died, when the first attempt may have won.

    If that attempt was still running on the server when the retry began, the
    retry's insert waits for it and then yields to it, but its snapshot is
    older than that commit: `holder` looks empty and the answer is "Slot
    full". A second statement, with a new snapshot, tells the two apart. Only
    a retry pays this extra round trip.
    """
    outcome = book_slot(conn, booking_id, user_id, day, start)
    if isinstance(outcome, SlotFull):
        row = conn.execute(_BOOKING_EXISTS, {"booking_id": booking_id}).fetchone()
        if row and row[0]:
            return Booked(booking_id)
    return outcome
