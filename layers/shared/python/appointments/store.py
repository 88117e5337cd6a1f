"""Data access for taking a slot: one SQL statement per outcome, whatever the race.

The public functions (`booked_starts`, `book`) own everything a handler would
otherwise juggle: the warm connection, the retry after it died, the id a retry
must recognise, the Idempotency-Key's recorded answer. Underneath, each
function runs one statement with bound parameters on the connection it is
given (so tests and benchmarks can run them on any connection);
`book_slot_again`, for a retry only, may add a second.

A booking's later life (looking it up, cancelling it, listing a user's) is in
booking_records.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, time, timedelta

import psycopg

from appointments import database, deadline
from appointments.errors import DatabaseUnavailable


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


# What a request with an Idempotency-Key can come to, besides booking afresh.
@dataclass(frozen=True)
class Replayed:
    """The key was used before with this request: its first outcome, unchanged."""

    original: BookingOutcome


@dataclass(frozen=True)
class KeyReused:
    """The key was used before with another request."""


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's key, and the fingerprint of the request it came with."""

    key: str
    request_fingerprint: str


# A key's answer is replayed for this long after it was recorded; then the key
# may be used again, and the scheduled purge deletes it.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)

# The confirmed bookings of a day. Served by the partial unique index
# bookings_one_confirmed_per_slot, whose predicate this repeats.
_BOOKED_STARTS = """
    SELECT slot_time
    FROM bookings
    WHERE slot_date = %(day)s AND status = 'confirmed'
"""

# One round trip for every outcome, with or without an Idempotency-Key.
# - The insert happens only when the user exists. A DELETE of the user still
#   under way when it runs makes the foreign key's check wait, and fail if the
#   DELETE commits (book_slot answers "User not found"); a DELETE that starts
#   later waits for the booking instead. Locking the user row here would do the
#   same, but would make every refused booking a write, with a commit to flush.
# - ON CONFLICT DO NOTHING, on every unique index: the partial one on the
#   slot's confirmed bookings turns a race for the slot into a no-op for each
#   loser (and ignores cancelled ones, so a freed slot can be taken again); the
#   primary key's absorbs a retry that collides with its own first attempt,
#   still running on the server when the connection died.
# - `holder` is who holds the slot in this statement's snapshot: our own id
#   means an earlier attempt of this same request committed before its
#   connection died, and the retry must report that booking, not "Slot full".
# - With a key, the outcome is recorded in the same statement, hence the same
#   transaction, as the booking. Its insert has no ON CONFLICT on purpose: a
#   key already recorded (or being recorded by a request still running, which
#   it waits for) fails the whole statement, booking included, and the request
#   is answered from the recorded row instead (book, recorded_answer).
_BOOK_SLOT = """
    WITH inserted AS (
        INSERT INTO bookings (id, user_id, slot_date, slot_time)
        SELECT %(booking_id)s, users.id, %(day)s, %(start)s
        FROM users
        WHERE users.id = %(user_id)s
        ON CONFLICT DO NOTHING
        RETURNING id
    ),
    outcome AS (
        SELECT
            EXISTS (SELECT 1 FROM users WHERE id = %(user_id)s) AS user_exists,
            (SELECT id FROM inserted) AS inserted_id,
            (
                SELECT id FROM bookings
                WHERE slot_date = %(day)s AND slot_time = %(start)s AND status = 'confirmed'
            ) AS holder
    ),
    recorded AS (
        INSERT INTO idempotency_keys (user_id, key, request_fingerprint, outcome, attempt_id)
        SELECT
            %(user_id)s,
            %(key)s::text,
            %(fingerprint)s,
            CASE
                WHEN %(booking_id)s IN (inserted_id, holder) THEN 'booked'
                WHEN user_exists THEN 'slot_full'
                ELSE 'user_not_found'
            END,
            %(booking_id)s
        FROM outcome
        WHERE %(key)s::text IS NOT NULL
    )
    SELECT user_exists, inserted_id, holder FROM outcome
"""

# Primary key lookup, in a snapshot of its own (see book_slot_again).
_BOOKING_EXISTS = """
    SELECT EXISTS (SELECT 1 FROM bookings WHERE id = %(booking_id)s)
"""

# The recorded answer for a key, and whether it expired; an expired one is
# deleted so that the key can be recorded again. Expiry is read from the row
# itself, not from whether this DELETE removed it: the purge, or another
# request bringing the key, may be deleting it at the same moment.
_RECORDED_ANSWER = """
    WITH expired AS (
        DELETE FROM idempotency_keys
        WHERE user_id = %(user_id)s AND key = %(key)s AND created_at <= now() - %(ttl)s
    )
    SELECT request_fingerprint, outcome, attempt_id, created_at <= now() - %(ttl)s
    FROM idempotency_keys
    WHERE user_id = %(user_id)s AND key = %(key)s
"""

# One batch of the purge: the oldest expired keys, skipping any a booking
# has locked this instant (SKIP LOCKED), so that the purge never makes a
# booking wait, nor waits for one. Each batch is its own short transaction.
_PURGE_EXPIRED_KEYS = """
    DELETE FROM idempotency_keys
    WHERE ctid = ANY (ARRAY (
        SELECT ctid FROM idempotency_keys
        WHERE created_at <= now() - %(ttl)s
        ORDER BY created_at
        LIMIT %(batch)s
        FOR UPDATE SKIP LOCKED
    ))
"""
PURGE_BATCH = 1000

# A recorded key that keeps turning out expired or purged as soon as it is
# replaced would loop; after this many tries the request gives up.
_MAX_KEY_ATTEMPTS = 3


@dataclass(frozen=True)
class _KeyAlreadyRecorded:
    """book_slot's statement was refused: the key has a recorded answer."""


def booked_starts(day: date) -> list[time]:
    """Start times taken by confirmed bookings on `day`. A read: safe to repeat."""
    return database.run(lambda conn: select_booked_starts(conn, day))


def book(
    user_id: str, day: date, start: time, idempotency_key: IdempotencyKey | None = None
) -> BookingOutcome | Replayed | KeyReused:
    """Book the slot for the user: exactly once, even when the connection dies mid-way.

    With a key, exactly once across every request carrying it for 24 hours:
    the first one's outcome is recorded with it and replayed to the others.
    """
    booking_id = new_booking_id()  # chosen once, so that a retry can recognise its first attempt
    slot = (booking_id, user_id, day, start, idempotency_key)
    for _ in range(_MAX_KEY_ATTEMPTS):
        outcome = database.run(
            lambda conn: book_slot(conn, *slot), retry=lambda conn: book_slot_again(conn, *slot)
        )
        if not isinstance(outcome, _KeyAlreadyRecorded):
            return outcome
        assert idempotency_key is not None  # only a keyed statement is refused this way
        answer = database.run(
            lambda conn: recorded_answer(conn, user_id, idempotency_key, booking_id)
        )
        if answer is not None:
            return answer
        # The key had expired (now deleted) or was purged meanwhile: book afresh.
    raise DatabaseUnavailable("the idempotency key kept changing under this request")


def new_booking_id() -> str:
    """An unguessable id: 128 random bits, URL-safe."""
    return "booking_" + secrets.token_urlsafe(16)


def select_booked_starts(conn: psycopg.Connection, day: date) -> list[time]:
    rows = conn.execute(_BOOKED_STARTS, {"day": day}).fetchall()
    return [start for (start,) in rows]


def book_slot(
    conn: psycopg.Connection,
    booking_id: str,
    user_id: str,
    day: date,
    start: time,
    idempotency_key: IdempotencyKey | None = None,
) -> BookingOutcome | _KeyAlreadyRecorded:
    """Try to book the slot for the user under `booking_id`, recording the key's outcome."""
    params = {
        "booking_id": booking_id,
        "user_id": user_id,
        "day": day,
        "start": start,
        "key": idempotency_key.key if idempotency_key else None,
        "fingerprint": idempotency_key.request_fingerprint if idempotency_key else None,
    }
    try:
        row = conn.execute(_BOOK_SLOT, params).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        return UserNotFound()  # deleted while this insert waited for it (see _BOOK_SLOT)
    except psycopg.errors.UniqueViolation as error:
        if error.diag.constraint_name == "idempotency_keys_pkey":
            return _KeyAlreadyRecorded()
        raise
    assert row is not None  # a SELECT without FROM always yields one row
    user_exists, inserted_id, holder = row
    if not user_exists:
        return UserNotFound()
    if booking_id in (inserted_id, holder):
        return Booked(booking_id)
    return SlotFull()


def book_slot_again(
    conn: psycopg.Connection,
    booking_id: str,
    user_id: str,
    day: date,
    start: time,
    idempotency_key: IdempotencyKey | None = None,
) -> BookingOutcome | _KeyAlreadyRecorded:
    """book_slot for a retry after the connection died, when the first attempt may have won.

    If that attempt was still running on the server when the retry began, the
    retry's insert waits for it and then yields to it, but its snapshot is
    older than that commit: `holder` looks empty and the answer is "Slot
    full". A second statement, with a new snapshot, tells the two apart. Only
    a retry pays this extra round trip. (With a key, the first attempt's
    recorded key already refuses the retry, which is then answered from it.)
    """
    outcome = book_slot(conn, booking_id, user_id, day, start, idempotency_key)
    if isinstance(outcome, SlotFull):
        row = conn.execute(_BOOKING_EXISTS, {"booking_id": booking_id}).fetchone()
        if row and row[0]:
            return Booked(booking_id)
    return outcome


def recorded_answer(
    conn: psycopg.Connection, user_id: str, idempotency_key: IdempotencyKey, booking_id: str
) -> BookingOutcome | Replayed | KeyReused | None:
    """The recorded outcome for the user's key; None if there is none (any more).

    Recorded by this very request (`booking_id`: its first attempt committed,
    then its connection died), it is the request's own outcome, not a replay.
    """
    params = {"user_id": user_id, "key": idempotency_key.key, "ttl": IDEMPOTENCY_KEY_TTL}
    row = conn.execute(_RECORDED_ANSWER, params).fetchone()
    if row is None:
        return None
    fingerprint, outcome_name, attempt_id, expired = row
    if expired:
        return None
    if fingerprint != idempotency_key.request_fingerprint:
        return KeyReused()
    outcome = _outcome_named(outcome_name, attempt_id)
    return outcome if attempt_id == booking_id else Replayed(outcome)


def _outcome_named(name: str, attempt_id: str) -> BookingOutcome:
    # The names _BOOK_SLOT records (and a CHECK constraint allows).
    match name:
        case "booked":
            return Booked(attempt_id)
        case "slot_full":
            return SlotFull()
        case "user_not_found":
            return UserNotFound()
    raise ValueError(f"unknown recorded outcome {name!r}")


def purge_expired_keys() -> int:
    """Delete the keys past their 24 hours, a batch at a time; how many were deleted.

    Stops when a batch comes back short, or when the invocation is about to run
    out of time (the next scheduled run carries on).
    """
    purged = 0
    while (left := deadline.seconds_left()) is None or left > database.MIN_RETRY_S:
        deleted = database.run(delete_expired_keys)
        purged += deleted
        if deleted < PURGE_BATCH:
            break
    return purged


def delete_expired_keys(conn: psycopg.Connection) -> int:
    params = {"ttl": IDEMPOTENCY_KEY_TTL, "batch": PURGE_BATCH}
    return conn.execute(_PURGE_EXPIRED_KEYS, params).rowcount
