"""A hold after it was made (store.hold): look it up, confirm it, release it.

A hold is a row of bookings that began in status 'held' (hold_expires_at set,
db/migrations/0035); confirming it turns the same row into the booking, under
the same id. Each function is one statement, hence one round trip, and safe
to run again on a new connection if the first one died mid-way: the writes
always write (a status set to what it is already), so that a request waiting
on another's row lock reads the row as that one left it, and a retry finds
its own first attempt's work done and answers the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal

from appointments.data import database, store
from appointments.data.booking_records import booking_shop

# What a hold is to its client: live; lapsed (or found lapsed by a booking
# that wanted its block); released by DELETE; or confirmed into its booking
# (which may have been cancelled since).
State = Literal["held", "expired", "released", "confirmed"]


@dataclass(frozen=True)
class Hold:
    hold_id: str
    state: State
    expires_at: datetime
    shop_id: str
    service_id: str
    resource_id: str
    user_id: str
    day: date
    start: time
    starts_at: datetime
    ends_at: datetime
    # Another shop's zone, for showing its times (None: the default shop's, or
    # the shop was deleted since), as for bookings.
    shop_time_zone: str | None


# The row as a hold, its state worked out in the database, whose clock decides
# whether a hold has lapsed.
_COLUMNS = """
    id,
    CASE
        WHEN status = 'held' AND hold_expires_at > now() THEN 'held'
        WHEN status IN ('held', 'expired') THEN 'expired'
        WHEN status = 'released' THEN 'released'
        ELSE 'confirmed'
    END,
    hold_expires_at, shop_id, service_id, resource_id, user_id, slot_date, slot_time,
    lower(during), upper(during),
    (SELECT shops.time_zone FROM shops
     WHERE bookings.shop_id <> 'default' AND shops.shop_id = bookings.shop_id)
"""

# Rows that began as holds, the caller's own when signed in.
_THE_HOLD = """
    shop_id = %(shop_id)s AND id = %(hold_id)s AND hold_expires_at IS NOT NULL
    AND (%(owner)s::text IS NULL OR user_id = %(owner)s)
"""

_FIND = f"SELECT {_COLUMNS} FROM bookings WHERE {_THE_HOLD}"  # noqa: S608 (constants only)

# A live hold becomes its booking; any other row is written as it is and
# read back. The row keeps its resource and block, so no constraint can
# refuse it: never "Slot full" while the hold is live. A hold lapsed but not
# yet marked expired is left held (a booking that wants its block marks it).
_CONFIRMING = f"""
    UPDATE bookings
    SET status = CASE WHEN status = 'held' AND hold_expires_at > now() THEN 'confirmed'
                      ELSE status END
    WHERE {_THE_HOLD}
"""  # noqa: S608 (constants only)
_CONFIRM = f"{_CONFIRMING} RETURNING {_COLUMNS}"

# A hold, live or lapsed, is released: its block is free at once (the
# exclusion constraint counts held rows only). Anything else is left as it is.
_RELEASE = f"""
    UPDATE bookings
    SET status = CASE WHEN status = 'held' THEN 'released' ELSE status END
    WHERE {_THE_HOLD}
    RETURNING {_COLUMNS}
"""  # noqa: S608 (constants only)


# With an Idempotency-Key: the outcome recorded under the hold's owner in the
# same statement, as a booking's is ("booked" for its booking).
_CONFIRM_KEYED = f"""
    WITH changed AS (
        {_CONFIRMING}
        RETURNING {_COLUMNS},
            CASE WHEN status IN ('confirmed', 'cancelled') THEN 'booked'
                 WHEN status = 'released' THEN 'hold_released'
                 ELSE 'hold_expired' END AS key_outcome
    ),
    {store.RECORD_KEY}
    SELECT * FROM changed
"""  # noqa: S608 (constants only)

_STATE_OF_OUTCOME: dict[str, State] = {
    "booked": "confirmed",
    "hold_released": "released",
    "hold_expired": "expired",
}


@dataclass(frozen=True)
class ReplayedConfirmation:
    """What a confirmation with this Idempotency-Key came to before."""

    state: State


def find(hold_id: str, owner: str | None = None) -> Hold | None:
    """The hold; None if there is none, or it is not `owner`'s (None: anyone's)."""
    return _one(_FIND, hold_id, owner)


def confirm(
    hold_id: str, owner: str | None = None, idempotency_key: store.IdempotencyKey | None = None
) -> Hold | ReplayedConfirmation | store.KeyReused | None:
    """Confirm the hold if it is live: state "confirmed" then, its booking's id its own.

    With a key, exactly once across every request carrying it for 24 hours:
    the others get ReplayedConfirmation, or KeyReused.
    """
    if idempotency_key is None:
        return _one(_CONFIRM, hold_id, owner)
    shop_id = booking_shop(hold_id)
    params = {
        "shop_id": shop_id,
        "hold_id": hold_id,
        "target_id": hold_id,
        "owner": owner,
        "key": idempotency_key.key,
        "fingerprint": idempotency_key.request_fingerprint,
    }
    confirmed = store.change_once(
        lambda conn, attempt_id: conn.execute(
            _CONFIRM_KEYED, {**params, "attempt_id": attempt_id}
        ).fetchone(),
        shop_id,
        hold_id,
        owner,
        idempotency_key,
        _COLUMNS,
    )
    if isinstance(confirmed, store.KeyReused):
        return confirmed
    if isinstance(confirmed, store.RecordedChange):
        if confirmed.own:
            return _hold(confirmed.target)
        return ReplayedConfirmation(_STATE_OF_OUTCOME[confirmed.outcome])
    return _hold(confirmed[:-1]) if confirmed else None  # key_outcome left out


def release(hold_id: str, owner: str | None = None) -> Hold | None:
    """Release the hold if it is held: state "released" then, or what it was already."""
    return _one(_RELEASE, hold_id, owner)


def _one(statement: str, hold_id: str, owner: str | None) -> Hold | None:
    params = {"shop_id": booking_shop(hold_id), "hold_id": hold_id, "owner": owner}
    row = database.run(lambda conn: conn.execute(statement, params).fetchone())
    return _hold(row) if row else None


def _hold(row: tuple[Any, ...]) -> Hold:
    return Hold(*row)
