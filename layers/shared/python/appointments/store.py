"""Data access: one SQL statement per function, parameters always bound.

Each function takes the connection as its first argument so it can be passed to
``database.run`` and tested against any connection.
"""

from __future__ import annotations

import secrets
from datetime import date, time

import psycopg

from appointments.schedule import Booked, BookingOutcome, SlotFull, UserNotFound

# Served by the unique index bookings_one_per_slot (slot_date, slot_time).
_BOOKED_STARTS = """
    SELECT slot_time
    FROM bookings
    WHERE slot_date = %(day)s
"""

# One round trip for every outcome. The insert only happens when the user
# exists; the unique index bookings_one_per_slot turns a race for the slot into
# ON CONFLICT DO NOTHING for every loser. `holder` names who holds the slot as
# seen by this statement's snapshot: if it is our own id, an earlier attempt of
# this same request committed before its connection died, and the retry must
# report that booking, not "Slot full".
_BOOK_SLOT = """
    WITH inserted AS (
        INSERT INTO bookings (id, user_id, slot_date, slot_time)
        SELECT %(booking_id)s, users.id, %(day)s, %(start)s
        FROM users
        WHERE users.id = %(user_id)s
        ON CONFLICT ON CONSTRAINT bookings_one_per_slot DO NOTHING
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


def new_booking_id() -> str:
    """An unguessable id: 128 random bits, URL-safe."""
    return "booking_" + secrets.token_urlsafe(16)


def booked_starts(conn: psycopg.Connection, day: date) -> list[time]:
    """Start times already booked on `day`."""
    rows = conn.execute(_BOOKED_STARTS, {"day": day}).fetchall()
    return [start for (start,) in rows]


def book_slot(
    conn: psycopg.Connection, booking_id: str, user_id: str, day: date, start: time
) -> BookingOutcome:
    """Try to book the slot for the user under `booking_id`."""
    params = {"booking_id": booking_id, "user_id": user_id, "day": day, "start": start}
    row = conn.execute(_BOOK_SLOT, params).fetchone()
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
