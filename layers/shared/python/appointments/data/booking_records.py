"""A booking after it was made: look it up, cancel it, list a user's.

Each public function is one statement, hence one round trip, on the warm
connection, and safe to run again on a new connection if the first one died
mid-way: reads trivially, and a cancel because it keeps the first
cancellation's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Literal

import psycopg

from appointments.data import database, store
from appointments.data.default_catalogue import DEFAULT_SERVICE_ID, DEFAULT_SHOP_ID

Status = Literal["confirmed", "cancelled"]


@dataclass(frozen=True)
class Booking:
    booking_id: str
    user_id: str
    day: date
    start: time
    starts_at: datetime
    ends_at: datetime
    status: Status
    created_at: datetime
    cancelled_at: datetime | None
    shop_id: str = DEFAULT_SHOP_ID
    service_id: str = DEFAULT_SERVICE_ID
    resource_id: str | None = None
    # Another shop's zone, for showing its times (None: the shop was deleted
    # since); the default shop's is the schedule's, read at cold start.
    shop_time_zone: str | None = None
    # 1 when made, one more on every change (0031's trigger counts them).
    version: int = 1
    # Where it moved from, oldest first (0032): JSON objects as the database
    # wrote them; None: never moved.
    moved_from: list[dict[str, Any]] | None = None


@dataclass(frozen=True, order=True)
class Position:
    """Where a page of a user's bookings ends: the next page starts after it.

    Ordered as the list is (no booking id is empty, so an empty one comes
    before every booking at its day and time).
    """

    day: date
    start: time
    booking_id: str


# Before every booking: where the first page starts.
START: Final = Position(date.min, time.min, "")


@dataclass(frozen=True)
class ListQuery:
    user_id: str
    statuses: tuple[Status, ...] = ("confirmed",)
    first_day: date = date.min
    last_day: date = date.max
    after: Position = START
    limit: int = 50
    shop_id: str | None = None  # None: every shop's


@dataclass(frozen=True)
class Page:
    bookings: list[Booking]
    next_page_after: Position | None  # None on the last page


# Every statement returns these columns, in the order of Booking's fields.
# A shop's zone is looked up for other shops' bookings only: the default
# shop's comes from the schedule.
_COLUMNS = """
    id, user_id, slot_date, slot_time, lower(during), upper(during),
    status, created_at, cancelled_at, shop_id, service_id, resource_id,
    (SELECT shops.time_zone FROM shops
     WHERE bookings.shop_id <> 'default' AND shops.shop_id = bookings.shop_id),
    version, moved_from
"""

# By the shop the booking id names (booking_shop), then the id: the shop
# first, for the day bookings are distributed by shop. Every statement here
# sees bookings only, never holds (hold_records): _IS_A_BOOKING.
_IS_A_BOOKING = "status IN ('confirmed', 'cancelled')"
_FIND = f"""
    SELECT {_COLUMNS}
    FROM bookings
    WHERE shop_id = %(shop_id)s AND id = %(booking_id)s
      AND (%(owner)s::text IS NULL OR user_id = %(owner)s)
      AND {_IS_A_BOOKING}
"""  # noqa: S608 (constants only)

# Always writes, even when already cancelled: a cancel waiting on another's
# row lock re-reads the row once that one commits, and COALESCE then keeps
# the first cancellation's time. Reading the status in a separate step would
# answer from a snapshot taken before that commit ("confirmed"). The bay is
# free when this commits: the exclusion constraint counts confirmed bookings
# and holds only.
#
# With the versions an If-Match names, the booking is cancelled only at one of
# them, checked on the row as it is when the update gets it (after a change
# it waited for); or found cancelled by the change from one of them (a
# cancelled booking changes no more): the change asked for is made already,
# by this request's own first attempt or another's (RFC 9110 13.1.1 allows
# the 2xx). Otherwise the booking as this statement's snapshot saw it comes
# back marked unchanged: 412.
#
# The change cut-off likewise: a confirmed booking that starts sooner than the
# cut-off (%(change_notice)s, the default shop's from the template, or else
# its shop's change_notice_minutes) is not cancelled, unless %(exempt)s (an
# admin); a booking cancelled already answers as before. Either refusal comes
# back as the booking unchanged, with whether it was the cut-off: the version
# asked for is checked first (as a move does), and without one the cut-off is
# the only refusal. Read on the row as the update found it: a locking read
# (`latest`) returns the row as a change it waited for left it, not as this
# statement's snapshot, which predates that change. It runs after the update
# (the UNION ALL's first branch reads `cancelled` to its end first), so that
# two cancels never each hold a share lock the other's update waits for.
_TOO_SOON = """
    NOT %(exempt)s AND status = 'confirmed'
    AND lower(during) < now() + make_interval(mins => coalesce(
        %(change_notice)s::integer,
        (SELECT shops.change_notice_minutes FROM shops WHERE shops.shop_id = bookings.shop_id)
    ))
"""
_CANCEL = f"""
    WITH cancelled AS (
        UPDATE bookings
        SET status = 'cancelled', cancelled_at = COALESCE(cancelled_at, now())
        WHERE shop_id = %(shop_id)s AND id = %(booking_id)s
          AND (%(owner)s::text IS NULL OR user_id = %(owner)s)
          AND {_IS_A_BOOKING}
          AND (%(versions)s::integer[] IS NULL
               OR version = ANY (%(versions)s::integer[])
               OR (status = 'cancelled' AND version - 1 = ANY (%(versions)s::integer[])))
          AND NOT coalesce({_TOO_SOON}, false)
        RETURNING {_COLUMNS}, false
    ),
    latest AS (
        SELECT {_COLUMNS},
               -- Not cancelled at a version asked for, or with none asked: the cut-off.
               (%(versions)s::integer[] IS NULL OR version = ANY (%(versions)s::integer[]))
        FROM bookings
        WHERE shop_id = %(shop_id)s AND id = %(booking_id)s
          AND (%(owner)s::text IS NULL OR user_id = %(owner)s)
          AND {_IS_A_BOOKING}
        FOR SHARE OF bookings
    )
    SELECT true, * FROM cancelled
    UNION ALL
    SELECT false, * FROM latest WHERE NOT EXISTS (SELECT 1 FROM cancelled)
"""  # noqa: S608 (constants only)

# A move, and the booking as it is then, in _COLUMNS' order (the function
# returns the row: a read beside it would see the statement's snapshot, from
# before the move).
_MOVE_CALL = """
    move_booking_v2(
        %(shop_id)s, %(booking_id)s, %(owner)s, %(versions)s, %(catalogue_version)s,
        %(resource_ids)s, %(day)s, %(start)s, %(starts_at)s, %(ends_at)s,
        %(block_starts_at)s, %(block_ends_at)s, %(moved_by)s, %(change_notice)s, %(exempt)s
    )
"""
_MOVED_COLUMNS = """
    outcome,
    (moved).id, (moved).user_id, (moved).slot_date, (moved).slot_time,
    lower((moved).during), upper((moved).during), (moved).status, (moved).created_at,
    (moved).cancelled_at, (moved).shop_id, (moved).service_id, (moved).resource_id,
    (SELECT shops.time_zone FROM shops
     WHERE (moved).shop_id <> 'default' AND shops.shop_id = (moved).shop_id),
    (moved).version, (moved).moved_from
"""
_MOVE = f"SELECT {_MOVED_COLUMNS} FROM {_MOVE_CALL}"  # noqa: S608 (constants only)
# With an Idempotency-Key: its outcome recorded in the same statement, under
# the booking's owner (a booking not found, or a catalogue changed under the
# move, which the caller retries, records nothing).
_MOVE_KEYED = f"""
    WITH changed AS (
        SELECT outcome, moved, (moved).user_id AS user_id,
               CASE WHEN outcome NOT IN ('not_found', 'catalogue_changed') THEN outcome END
                   AS key_outcome
        FROM {_MOVE_CALL}
    ),
    {store.RECORD_KEY}
    SELECT {_MOVED_COLUMNS} FROM changed
"""  # noqa: S608 (constants only)

# Whether the user exists and, if so, one page of their bookings plus one row,
# which says whether another page follows. Served by the index bookings_by_user
# (user_id, slot_date, slot_time, id), or for cancelled bookings alone by the
# partial bookings_cancelled_by_user: a range scan from the position (the
# later of the cursor and `from`: one row comparison, so the range starts
# there), in order, that stops after the page (for a user with fewer rows than
# a page the planner may fetch them all and sort them); never a scan of
# others' bookings. tests/integration/test_list_plan.py checks the plan.
_LIST = f"""
    SELECT known.user_exists, page.*
    FROM (SELECT EXISTS (SELECT 1 FROM users WHERE id = %(user_id)s) AS user_exists) AS known
    LEFT JOIN LATERAL (
        SELECT {_COLUMNS}
        FROM bookings
        WHERE user_id = %(user_id)s
          AND (slot_date, slot_time, id) > (%(after_day)s, %(after_start)s, %(after_id)s)
          AND slot_date <= %(last_day)s
          AND (%(shop_id)s::text IS NULL OR shop_id = %(shop_id)s)
          {{status_condition}}
        ORDER BY slot_date, slot_time, id
        LIMIT %(limit)s
    ) AS page ON known.user_exists
    ORDER BY page.slot_date, page.slot_time, page.id
"""  # noqa: S608 (constants only)
# Written into the statement, not bound: the planner sees the partial index's
# predicate even in a generic plan (psycopg prepares repeated statements).
_LIST_BY_STATUSES: Final[dict[tuple[Status, ...], str]] = {
    ("confirmed",): _LIST.format(status_condition="AND status = 'confirmed'"),
    ("cancelled",): _LIST.format(status_condition="AND status = 'cancelled'"),
    ("confirmed", "cancelled"): _LIST.format(status_condition=f"AND {_IS_A_BOOKING}"),
}


# A user's calendar feed: their bookings from FEED_SINCE ago on, the first
# FEED_LIMIT by start, if the token's hash is the user's (else no row: the same
# answer as no such user). Read through bookings_by_user.
FEED_SINCE = timedelta(days=30)
FEED_LIMIT = 500
_CALENDAR_FEED = f"""
    SELECT feed.*
    FROM users
    LEFT JOIN LATERAL (
        SELECT {_COLUMNS}
        FROM bookings
        WHERE user_id = users.id AND slot_date >= %(since)s AND {_IS_A_BOOKING}
        ORDER BY slot_date, slot_time, id
        LIMIT %(limit)s
    ) AS feed ON true
    WHERE users.id = %(user_id)s AND users.calendar_token_hash = %(token_hash)s
"""  # noqa: S608 (constants only)


def calendar_feed(user_id: str, token_hash: str, today: date) -> list[Booking] | None:
    """The user's bookings for their calendar feed; None unless `token_hash` is their
    feed token's (a wrong token and an unknown user look alike)."""
    params = {
        "user_id": user_id,
        "token_hash": token_hash,
        "since": today - FEED_SINCE,
        "limit": FEED_LIMIT,
    }
    rows = database.run(lambda conn: conn.execute(_CALENDAR_FEED, params).fetchall())
    if not rows:
        return None
    return [_booking(row) for row in rows if row[0] is not None]  # a user with none: one NULL row


def find(booking_id: str, owner: str | None = None) -> Booking | None:
    """The booking; None if there is none, or it is not `owner`'s.

    `owner` (a signed-in caller's own id) is checked in the same statement,
    so another user's booking is simply not found: its existence is not
    revealed. None: anyone's.
    """
    return database.run(lambda conn: select_booking(conn, booking_id, owner))


@dataclass(frozen=True)
class Changed:
    """The booking is at none of the versions the request named: nothing was done."""

    booking: Booking


@dataclass(frozen=True)
class TooLate:
    """The booking starts within its change cut-off: nothing was done."""


@dataclass(frozen=True)
class CutOff:
    """Who may still change a booking how close to its start.

    change_notice_minutes: the default shop's (ChangeNoticeMinutes); None: the
    booking's shop's own setting, if any. exempt: an admin, whom none binds.
    """

    change_notice_minutes: int | None = None
    exempt: bool = False


def cancel(
    booking_id: str,
    owner: str | None = None,
    versions: Sequence[int] | None = None,
    cut_off: CutOff = CutOff(),
) -> Booking | Changed | TooLate | None:
    """Cancel the booking (if not already) and return it; None as for find.

    With `versions` (an If-Match), only if it is at one of them: Changed
    otherwise. Within its cut-off: TooLate.
    """
    return database.run(lambda conn: cancel_booking(conn, booking_id, owner, versions, cut_off))


MoveOutcome = Literal["moved", "cancelled", "changed", "catalogue_changed", "slot_full", "too_late"]


@dataclass(frozen=True)
class ReplayedMove:
    """What a move with this Idempotency-Key came to before, and the booking now."""

    outcome: MoveOutcome
    booking: Booking


MoveAnswer = tuple[MoveOutcome, Booking] | ReplayedMove | store.KeyReused | None


@dataclass(frozen=True)
class Move:
    """Where a booking should go: a start, the resources that may take it in order
    (its own first, if among them), and the block it keeps them busy over."""

    day: date
    start: time
    starts_at: datetime
    ends_at: datetime
    resource_ids: tuple[str, ...]
    block: tuple[datetime, datetime]
    # The shop's catalogue_version this was worked out from; None: no check.
    catalogue_version: int | None = None


def move(
    booking_id: str,
    owner: str | None,
    versions: Sequence[int] | None,
    to: Move,
    moved_by: str | None,
    cut_off: CutOff = CutOff(),
    idempotency_key: store.IdempotencyKey | None = None,
) -> MoveAnswer:
    """Move the booking, in one statement: its outcome and the booking as it is then.

    None as for find. Safe to run again after a dead connection: a booking
    already where it is asked to go is "moved", from the version before too,
    even within its cut-off. With a key, exactly once across every request
    carrying it for 24 hours: the others get ReplayedMove (the first one's
    outcome, and the booking as it is now), or KeyReused.
    """
    params = move_params(booking_id, owner, versions, to, moved_by, cut_off)
    if idempotency_key is None:
        row = database.run(lambda conn: conn.execute(_MOVE, params).fetchone())
    else:
        keyed = {
            **params,
            "target_id": booking_id,
            "key": idempotency_key.key,
            "fingerprint": idempotency_key.request_fingerprint,
        }
        moved = store.change_once(
            lambda conn, attempt_id: conn.execute(
                _MOVE_KEYED, {**keyed, "attempt_id": attempt_id}
            ).fetchone(),
            params["shop_id"],
            booking_id,
            owner,
            idempotency_key,
            _COLUMNS,
        )
        if isinstance(moved, store.RecordedChange | store.KeyReused):
            return _replayed_move(moved)
        row = moved
    assert row is not None  # the function always returns one row
    if row[0] == "not_found":
        return None
    return row[0], _booking(row[1:])


def recorded_move(
    booking_id: str, owner: str | None, idempotency_key: store.IdempotencyKey
) -> MoveAnswer:
    """What a move of the booking with this key came to, if one was recorded: for a
    request refused before moving (its first answer may have been lost)."""
    recorded = store.recorded_change(
        booking_shop(booking_id), booking_id, owner, idempotency_key, _COLUMNS
    )
    return None if recorded is None else _replayed_move(recorded)


def _replayed_move(
    recorded: store.RecordedChange | store.KeyReused,
) -> tuple[MoveOutcome, Booking] | ReplayedMove | store.KeyReused:
    """A recorded move: this request's own (its first attempt's), or a replay."""
    if isinstance(recorded, store.KeyReused):
        return recorded
    outcome: MoveOutcome = recorded.outcome  # type: ignore[assignment]  # as _MOVE_KEYED wrote it
    if recorded.own:
        return outcome, _booking(recorded.target)
    return ReplayedMove(outcome, _booking(recorded.target))


def move_params(
    booking_id: str,
    owner: str | None,
    versions: Sequence[int] | None,
    to: Move,
    moved_by: str | None,
    cut_off: CutOff = CutOff(),
) -> dict[str, Any]:
    """_MOVE's parameters (the bench sends the statement raw with them)."""
    return {
        "shop_id": booking_shop(booking_id),
        "booking_id": booking_id,
        "owner": owner,
        "versions": list(versions) if versions is not None else None,
        "catalogue_version": to.catalogue_version,
        "resource_ids": list(to.resource_ids),
        "day": to.day,
        "start": to.start,
        "starts_at": to.starts_at,
        "ends_at": to.ends_at,
        "block_starts_at": to.block[0],
        "block_ends_at": to.block[1],
        "moved_by": moved_by,
        "change_notice": cut_off.change_notice_minutes,
        "exempt": cut_off.exempt,
    }


def list_for_user(query: ListQuery) -> Page | None:
    """One page of the user's bookings, oldest slot first; None if the user does not exist."""
    return database.run(lambda conn: select_page(conn, query))


def select_booking(
    conn: psycopg.Connection, booking_id: str, owner: str | None = None
) -> Booking | None:
    params = {"shop_id": booking_shop(booking_id), "booking_id": booking_id, "owner": owner}
    row = conn.execute(_FIND, params).fetchone()
    return _booking(row) if row else None


def cancel_booking(
    conn: psycopg.Connection,
    booking_id: str,
    owner: str | None = None,
    versions: Sequence[int] | None = None,
    cut_off: CutOff = CutOff(),
) -> Booking | Changed | TooLate | None:
    params = {
        "shop_id": booking_shop(booking_id),
        "booking_id": booking_id,
        "owner": owner,
        "versions": list(versions) if versions is not None else None,
        "change_notice": cut_off.change_notice_minutes,
        "exempt": cut_off.exempt,
    }
    row = conn.execute(_CANCEL, params).fetchone()
    if row is None:
        return None
    cancelled, booking, too_late = row[0], _booking(row[1:-1]), row[-1]
    if cancelled:
        return booking
    return TooLate() if too_late else Changed(booking)


def select_page(conn: psycopg.Connection, query: ListQuery) -> Page | None:
    # Before every booking of `from`'s day, if that is later than the cursor.
    after = max(query.after, Position(query.first_day, time.min, ""))
    params = {
        "user_id": query.user_id,
        "after_day": after.day,
        "after_start": after.start,
        "after_id": after.booking_id,
        "last_day": query.last_day,
        "limit": query.limit + 1,
        "shop_id": query.shop_id,
    }
    rows = conn.execute(_LIST_BY_STATUSES[query.statuses], params).fetchall()
    if not rows or not rows[0][0]:
        return None
    bookings = [_booking(row[1:]) for row in rows if row[1] is not None]
    if len(bookings) <= query.limit:
        return Page(bookings, next_page_after=None)
    last = bookings[query.limit - 1]
    return Page(bookings[: query.limit], Position(last.day, last.start, last.booking_id))


def booking_shop(booking_id: str) -> str:
    """The shop a booking id names: other shops' ids begin with theirs and a dot."""
    shop_id, dot, _ = booking_id.rpartition(".")
    return shop_id if dot else DEFAULT_SHOP_ID


def _booking(row: tuple[Any, ...]) -> Booking:
    return Booking(*row)
