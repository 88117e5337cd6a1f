"""Data access for taking a slot: one SQL statement per outcome, whatever the race.

The public functions (`book`, `hold`, `change_once`) own everything a handler
would otherwise juggle: the warm connection, the retry after it died, the id a
retry must recognise, the Idempotency-Key's recorded answer. Underneath, each function runs one
statement with bound parameters on the connection it is given (so tests and
benchmarks can run them on any connection).

A booking's later life (looking it up, cancelling it, listing a user's) is in
booking_records; the bays busy over an interval, which /slots reads, in
busy_bays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple, TypeVar

import psycopg

from appointments.data import database
from appointments.data.default_catalogue import (
    DEFAULT_SERVICE_ID,
    DEFAULT_SHOP_ID,
    default_bay_ids,
)
from appointments.errors import DatabaseUnavailable


@dataclass(frozen=True)
class SlotRequest:
    """A user asking for a resource in one slot: its wall-clock start and its interval.

    As it stands, a request of the default shop's one service on its bays
    1..capacity; a service of another shop names its own resources, and the
    block its buffers widen the interval to.
    """

    user_id: str
    day: date
    start: time
    starts_at: datetime
    ends_at: datetime
    capacity: int  # bays 1..capacity may take it, unless resource_ids says otherwise
    # A signed-in caller booking for themselves: the name they become a user
    # under if this is their first booking. None: the user must exist.
    new_user_name: str | None = None
    shop_id: str = DEFAULT_SHOP_ID
    service_id: str = DEFAULT_SERVICE_ID
    resource_ids: tuple[str, ...] | None = None  # the ones to try, in order
    block: tuple[datetime, datetime] | None = None  # None: the interval itself
    # The shop's catalogue_version the resources and block were worked out
    # from, checked by the booking statement; None: no check (the default shop).
    catalogue_version: int | None = None

    def candidates(self) -> list[str]:
        if self.resource_ids is not None:
            return list(self.resource_ids)
        return default_bay_ids(self.capacity)


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


@dataclass(frozen=True)
class CatalogueChanged:
    """The shop's catalogue changed since the request read it: nothing was written."""


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


# What holding a slot can come to, besides SlotFull, UserNotFound and
# CatalogueChanged.
@dataclass(frozen=True)
class Held:
    """The slot is held until expires_at on resource_id; hold_id is its booking's id to be."""

    hold_id: str
    resource_id: str
    expires_at: datetime


@dataclass(frozen=True)
class TooManyHolds:
    """The user holds as many live slots at the shop as they may: nothing was written."""


HoldOutcome = Held | SlotFull | UserNotFound | TooManyHolds


class HoldTerms(NamedTuple):
    """How long a hold lives, and how many live holds a user may have at one shop."""

    seconds: int
    limit: int


# A key's answer is replayed for this long after it was recorded; then the key
# may be used again, and the scheduled purge deletes it.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


# One round trip for every outcome, with or without an Idempotency-Key: the
# function book_slot_v4 (db/migrations/0039, book_slot_v3 of 0020 that also
# holds) makes a signed-in caller a user
# if they are not one yet, tries the resources free in its snapshot in turn,
# recognises a booking an earlier attempt of this same request committed, and
# records the key's outcome in the same transaction.
# - A DELETE of the user still under way makes the foreign key's check wait,
#   and fail if it commits: "User not found" (book_slot). Locking the user row
#   would do the same, but make every refused booking a write to flush.
# - A key already recorded, or being recorded by a request still running
#   (which this one waits for), fails the whole statement, booking included,
#   and the request is answered from the recorded row (book, recorded_answer).
_BOOK_SLOT = """
    SELECT user_exists, booked_resource_id, catalogue_current, too_many_holds, hold_expires_at
    FROM book_slot_v4(
        %(shop_id)s, %(service_id)s, %(catalogue_version)s, %(resource_ids)s,
        %(booking_id)s, %(user_id)s,
        %(day)s, %(start)s, %(starts_at)s, %(ends_at)s, %(block_starts_at)s, %(block_ends_at)s,
        %(key)s, %(fingerprint)s, %(new_user_name)s, %(hold_seconds)s, %(hold_limit)s
    )
"""

# The recorded answer for a user's key at a shop, and whether it expired.
_PEEK_RECORDED_ANSWER = """
    SELECT request_fingerprint, outcome, attempt_id, created_at <= now() - %(ttl)s
    FROM idempotency_keys
    WHERE shop_id = %(shop_id)s AND user_id = %(user_id)s AND key = %(key)s
"""

# The same, for a request about to record the key again: an expired answer is
# deleted in the same statement so that the key can be recorded anew. Expiry
# is read from the row itself, not from whether this DELETE removed it: the
# purge, or another request bringing the key, may be deleting it at the same
# moment.
_RECORDED_ANSWER = """
    WITH expired AS (
        DELETE FROM idempotency_keys
        WHERE shop_id = %(shop_id)s AND user_id = %(user_id)s AND key = %(key)s
          AND created_at <= now() - %(ttl)s
    )
    SELECT request_fingerprint, outcome, attempt_id, created_at <= now() - %(ttl)s
    FROM idempotency_keys
    WHERE shop_id = %(shop_id)s AND user_id = %(user_id)s AND key = %(key)s
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

# What a key already recorded violates: its primary key, or while the
# migrations of 0028-0030 run, the unique index that becomes it.
_KEY_CONSTRAINTS = frozenset({"idempotency_keys_pkey", "idempotency_keys_by_shop_user_and_key"})

# A recorded key that keeps turning out expired or purged as soon as it is
# replaced would loop; after this many tries the request gives up.
_MAX_KEY_ATTEMPTS = 3


@dataclass(frozen=True)
class _KeyAlreadyRecorded:
    """book_slot's statement was refused: the key has a recorded answer."""


def book(
    request: SlotRequest, idempotency_key: IdempotencyKey | None = None
) -> BookingOutcome | CatalogueChanged | Replayed | KeyReused:
    """Book a resource for the user: exactly once, even when the connection dies mid-way.

    With a key, exactly once across every request carrying it for 24 hours:
    the first one's outcome is recorded with it and replayed to the others.
    CatalogueChanged only for a request naming a catalogue version (the
    default shop's name none): nothing was written, the key not recorded.
    """
    # Chosen once, so that a retry can recognise its first attempt.
    booking_id = new_booking_id(request.shop_id)
    for _ in range(_MAX_KEY_ATTEMPTS):
        # Run again as it is after a dead connection: the function recognises
        # a booking its first attempt committed under the same id.
        outcome = database.run(lambda conn: book_slot(conn, booking_id, request, idempotency_key))
        if not isinstance(outcome, _KeyAlreadyRecorded):
            return outcome
        assert idempotency_key is not None  # only a keyed statement is refused this way
        answer = database.run(
            lambda conn: recorded_answer(
                conn, request.shop_id, request.user_id, idempotency_key, booking_id
            )
        )
        if answer is not None:
            return answer
        # The key had expired (now deleted) or was purged meanwhile: book afresh.
    raise DatabaseUnavailable("the idempotency key kept changing under this request")


def replay(
    shop_id: str, user_id: str, idempotency_key: IdempotencyKey
) -> BookingOutcome | Replayed | KeyReused | None:
    """The answer recorded for the user's key at the shop, if any: for a request refused
    before booking.

    A retry of a booking whose answer was lost may arrive after the slot
    stopped being bookable (its notice passed, the hours changed): it is still
    owed the first answer. (Having made no attempt, this request gets no
    BookingOutcome of its own back.)
    """
    # Only reads: a refused request writes nothing, an expired key included.
    return database.run(
        lambda conn: recorded_answer(conn, shop_id, user_id, idempotency_key, delete_expired=False)
    )


def hold(request: SlotRequest, terms: HoldTerms) -> HoldOutcome | CatalogueChanged:
    """Hold a resource for the user, exactly once (as book), for terms.seconds."""
    hold_id = new_booking_id(request.shop_id)
    return database.run(lambda conn: hold_slot(conn, hold_id, request, terms))


# --- A key on a change of a booking or a hold (a move, a confirmation) ---------------


@dataclass(frozen=True)
class RecordedChange:
    """What a key recorded for a change of a booking or hold: the outcome, and the
    target as it is now (the row's columns the caller asked for). `own`: recorded by
    this very request (its first attempt committed, then its connection died), so its
    own outcome, not a replay."""

    outcome: str
    target: tuple[object, ...]
    own: bool = False


def recorded_change_statement(columns: str) -> str:
    """The statement that reads the answer a key recorded for a change of booking or
    hold %(target_id)s: recorded under its owner, at its shop, with the target's
    `columns` beside. An expired answer is deleted in the same statement, so that the
    key can be recorded anew (as _RECORDED_ANSWER)."""
    return f"""
        WITH target AS (
            SELECT {columns}, bookings.user_id AS key_owner FROM bookings
            WHERE bookings.shop_id = %(shop_id)s AND bookings.id = %(target_id)s
              AND (%(owner)s::text IS NULL OR bookings.user_id = %(owner)s)
        ),
        expired AS (
            DELETE FROM idempotency_keys AS k USING target
            WHERE k.shop_id = %(shop_id)s AND k.user_id = target.key_owner AND k.key = %(key)s
              AND k.created_at <= now() - %(ttl)s
        )
        SELECT k.request_fingerprint, k.outcome, k.created_at <= now() - %(ttl)s,
               k.attempt_id, target.*
        FROM idempotency_keys AS k JOIN target ON k.user_id = target.key_owner
        WHERE k.shop_id = %(shop_id)s AND k.key = %(key)s
    """  # noqa: S608 (constants only)


# Records a change's outcome under the key, in the change's own statement:
# appended to a WITH whose CTE `changed` returns the target's owner (user_id)
# and the outcome's name (key_outcome); nothing is recorded for a target not
# found (no row). The attempt id is the request's own (change_once), so that a
# retry of it can tell its own record from another request's. A key recorded
# already fails the whole statement, change included, with a unique violation
# (as _BOOK_SLOT).
RECORD_KEY = """
    recorded AS (
        INSERT INTO idempotency_keys
            (shop_id, user_id, key, request_fingerprint, outcome, attempt_id)
        SELECT %(shop_id)s, changed.user_id, %(key)s, %(fingerprint)s, changed.key_outcome,
               %(attempt_id)s
        FROM changed WHERE changed.key_outcome IS NOT NULL
    )
"""

Outcome = TypeVar("Outcome")


def change_once(
    change: Callable[[psycopg.Connection, str], Outcome],
    shop_id: str,
    target_id: str,
    owner: str | None,
    idempotency_key: IdempotencyKey,
    columns: str,
) -> Outcome | RecordedChange | KeyReused:
    """Run a change that records its outcome under the key (`change` is given the
    request's attempt id to record); a key recorded already (by this request's earlier
    attempt, or another request) answers from its record."""
    import secrets  # as new_booking_id: only a route that changes pays for it

    attempt_id = secrets.token_urlsafe(16)  # chosen once: a retry is the same attempt
    for _ in range(_MAX_KEY_ATTEMPTS):
        try:
            return database.run(lambda conn: change(conn, attempt_id))
        except psycopg.errors.UniqueViolation as error:
            if error.diag.constraint_name not in _KEY_CONSTRAINTS:
                raise
        recorded = recorded_change(shop_id, target_id, owner, idempotency_key, columns, attempt_id)
        if recorded is not None:
            return recorded
        # The key had expired (now deleted) or was purged meanwhile: change afresh.
    raise DatabaseUnavailable("the idempotency key kept changing under this request")


def recorded_change(
    shop_id: str,
    target_id: str,
    owner: str | None,
    idempotency_key: IdempotencyKey,
    columns: str,
    attempt_id: str | None = None,
) -> RecordedChange | KeyReused | None:
    """What the key recorded for a change of the booking or hold, if anything (still);
    `owner`'s only, if not None (a signed-in caller sees only their own)."""
    params = {
        "shop_id": shop_id,
        "target_id": target_id,
        "owner": owner,
        "key": idempotency_key.key,
        "ttl": IDEMPOTENCY_KEY_TTL,
    }
    statement = recorded_change_statement(columns)
    row = database.run(lambda conn: conn.execute(statement, params).fetchone())
    if row is None or row[2]:
        return None  # none, or expired (and deleted)
    fingerprint, outcome, _, recorded_by, *target = row
    if fingerprint != idempotency_key.request_fingerprint:
        return KeyReused()
    own = recorded_by == attempt_id
    return RecordedChange(outcome, tuple(target[:-1]), own)  # key_owner left out


def new_booking_id(shop_id: str = DEFAULT_SHOP_ID) -> str:
    """An unguessable id: 128 random bits, URL-safe; after "<shop_id>." for a shop other
    than the default one, so that a lookup by id knows its shop (booking_records.booking_shop).
    """
    # Imported here: secrets pulls in hashlib and OpenSSL (~3 ms of a cold
    # start), which the functions that only read bookings never need.
    import secrets

    booking_id = "booking_" + secrets.token_urlsafe(16)
    return booking_id if shop_id == DEFAULT_SHOP_ID else f"{shop_id}.{booking_id}"


def book_slot(
    conn: psycopg.Connection,
    booking_id: str,
    request: SlotRequest,
    idempotency_key: IdempotencyKey | None = None,
) -> BookingOutcome | CatalogueChanged | _KeyAlreadyRecorded:
    """Try to book a resource for the slot under `booking_id`, recording the key's outcome."""
    params = book_slot_params(booking_id, request, idempotency_key)
    try:
        row = conn.execute(_BOOK_SLOT, params).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        return UserNotFound()  # deleted while this insert waited for it (see _BOOK_SLOT)
    except psycopg.errors.UniqueViolation as error:
        if error.diag.constraint_name in _KEY_CONSTRAINTS:
            return _KeyAlreadyRecorded()
        raise
    assert row is not None  # the function always returns one row
    user_exists, booked_resource_id, catalogue_current, _, _ = row
    if not catalogue_current:
        return CatalogueChanged()
    if booked_resource_id is not None:
        return Booked(booking_id)
    return SlotFull() if user_exists else UserNotFound()


def hold_slot(
    conn: psycopg.Connection, hold_id: str, request: SlotRequest, terms: HoldTerms
) -> HoldOutcome | CatalogueChanged:
    """Try to hold a resource for the slot under `hold_id`."""
    params = book_slot_params(hold_id, request, hold=terms)
    try:
        row = conn.execute(_BOOK_SLOT, params).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        return UserNotFound()  # deleted while this insert waited for it (see _BOOK_SLOT)
    assert row is not None  # the function always returns one row
    user_exists, held_resource_id, catalogue_current, too_many_holds, expires_at = row
    if not catalogue_current:
        return CatalogueChanged()
    if too_many_holds:
        return TooManyHolds()
    if held_resource_id is not None:
        return Held(hold_id, held_resource_id, expires_at)
    return SlotFull() if user_exists else UserNotFound()


def book_slot_params(
    booking_id: str,
    request: SlotRequest,
    idempotency_key: IdempotencyKey | None = None,
    hold: HoldTerms | None = None,
) -> dict[str, object]:
    """_BOOK_SLOT's parameters (the bench sends the statement raw with them)."""
    block_starts_at, block_ends_at = request.block or (request.starts_at, request.ends_at)
    return {
        "shop_id": request.shop_id,
        "service_id": request.service_id,
        "catalogue_version": request.catalogue_version,
        "resource_ids": request.candidates(),
        "booking_id": booking_id,
        "user_id": request.user_id,
        "day": request.day,
        "start": request.start,
        "starts_at": request.starts_at,
        "ends_at": request.ends_at,
        "block_starts_at": block_starts_at,
        "block_ends_at": block_ends_at,
        "key": idempotency_key.key if idempotency_key else None,
        "fingerprint": idempotency_key.request_fingerprint if idempotency_key else None,
        "new_user_name": request.new_user_name,
        "hold_seconds": hold.seconds if hold else None,
        "hold_limit": hold.limit if hold else None,
    }


def recorded_answer(
    conn: psycopg.Connection,
    shop_id: str,
    user_id: str,
    idempotency_key: IdempotencyKey,
    booking_id: str | None = None,
    *,
    delete_expired: bool = True,
) -> BookingOutcome | Replayed | KeyReused | None:
    """The recorded outcome for the user's key at the shop; None if there is none (any more).

    Recorded by this very request (`booking_id`, the id of its attempt: the
    first one committed, then its connection died), it is the request's own
    outcome, not a replay. An expired answer is deleted unless `delete_expired`
    is False (a request that will not record the key again).
    """
    statement = _RECORDED_ANSWER if delete_expired else _PEEK_RECORDED_ANSWER
    params = {
        "shop_id": shop_id,
        "user_id": user_id,
        "key": idempotency_key.key,
        "ttl": IDEMPOTENCY_KEY_TTL,
    }
    row = conn.execute(statement, params).fetchone()
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
    """Delete the keys past their 24 hours, a batch at a time; how many were deleted."""
    return database.run_in_batches(delete_expired_keys, PURGE_BATCH)


def delete_expired_keys(conn: psycopg.Connection) -> int:
    params = {"ttl": IDEMPOTENCY_KEY_TTL, "batch": PURGE_BATCH}
    return conn.execute(_PURGE_EXPIRED_KEYS, params).rowcount
