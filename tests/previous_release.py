"""The statements of the release before holds (0dff36b) that this one changed,
verbatim, and the outcomes it read from them: the deploy tests that start from
an older schema run that release's code on it, as a deploy would."""

from __future__ import annotations

from datetime import datetime

import psycopg

from appointments.data import busy_bays, store

BOOK_SLOT = """
    SELECT user_exists, booked_resource_id, catalogue_current
    FROM book_slot_v3(
        %(shop_id)s, %(service_id)s, %(catalogue_version)s, %(resource_ids)s,
        %(booking_id)s, %(user_id)s,
        %(day)s, %(start)s, %(starts_at)s, %(ends_at)s, %(block_starts_at)s, %(block_ends_at)s,
        %(key)s, %(fingerprint)s, %(new_user_name)s
    )
"""

MOVE = """
    SELECT outcome,
           (moved).id, (moved).user_id, (moved).slot_date, (moved).slot_time,
           lower((moved).during), upper((moved).during), (moved).status, (moved).created_at,
           (moved).cancelled_at, (moved).shop_id, (moved).service_id, (moved).resource_id,
           (SELECT shops.time_zone FROM shops
            WHERE (moved).shop_id <> 'default' AND shops.shop_id = (moved).shop_id),
           (moved).version, (moved).moved_from
    FROM move_booking_v1(
        %(shop_id)s, %(booking_id)s, %(owner)s, %(versions)s, %(catalogue_version)s,
        %(resource_ids)s, %(day)s, %(start)s, %(starts_at)s, %(ends_at)s,
        %(block_starts_at)s, %(block_ends_at)s, %(moved_by)s
    )
"""

BUSY_BAYS = """
    SELECT resource_id, lower(during), upper(during)
    FROM bookings
    WHERE status = 'confirmed'
      AND catalogue_id_range(shop_id, shop_id, '[]')
          && catalogue_id_range('default', 'default', '[]')
      AND block && tstzrange(%(from)s, %(to)s)
      AND during && tstzrange(%(from)s, %(to)s)
"""


def book_slot(
    conn: psycopg.Connection,
    booking_id: str,
    request: store.SlotRequest,
    idempotency_key: store.IdempotencyKey | None = None,
) -> store.BookingOutcome | store.CatalogueChanged:
    """As store.book_slot was; a key already recorded raises its UniqueViolation."""
    params = store.book_slot_params(booking_id, request, idempotency_key)
    try:
        row = conn.execute(BOOK_SLOT, params).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        return store.UserNotFound()
    assert row is not None
    user_exists, booked_resource_id, catalogue_current = row
    if not catalogue_current:
        return store.CatalogueChanged()
    if booked_resource_id is not None:
        return store.Booked(booking_id)
    return store.SlotFull() if user_exists else store.UserNotFound()


def select_busy_bays(
    conn: psycopg.Connection, starts_at: datetime, ends_at: datetime
) -> list[busy_bays.BusyBay]:
    rows = conn.execute(BUSY_BAYS, {"from": starts_at, "to": ends_at}).fetchall()
    return [busy_bays.BusyBay(*row) for row in rows]


def cancel(conn: psycopg.Connection, booking_id: str) -> None:
    """A cancel as every release before the cut-off wrote it."""
    conn.execute(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = COALESCE(cancelled_at, now())"
        " WHERE id = %s",
        (booking_id,),
    )
