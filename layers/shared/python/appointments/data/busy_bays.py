"""The default shop's bays busy over an interval: the one read of GET /slots and
/availability.

Kept apart from store, whose booking types the slots function never needs:
each dataclass defined at import is a fraction of a millisecond of its cold
start.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import psycopg

from appointments.data import database


class BusyBay(NamedTuple):
    """A bay of the default shop (resource bay-N) kept busy by a confirmed booking or a
    live hold over [starts_at, ends_at)."""

    resource_id: str
    starts_at: datetime
    ends_at: datetime


# The default shop's confirmed bookings and live holds overlapping an
# interval, by bay (its resource, "bay-N"); a lapsed hold keeps nothing busy.
# Served by the GiST index of the exclusion constraint
# bookings_one_hold_or_booking_per_resource_at_a_time (0038), whose predicate
# and shop expression this repeats; a booking's block holds its interval, so
# the block overlaps wherever the interval does.
BUSY_BAYS = """
    SELECT resource_id, lower(during), upper(during)
    FROM bookings
    WHERE status IN ('confirmed', 'held')
      AND (status = 'confirmed' OR hold_expires_at > now())
      AND catalogue_id_range(shop_id, shop_id, '[]')
          && catalogue_id_range('default', 'default', '[]')
      AND block && tstzrange(%(from)s, %(to)s)
      AND during && tstzrange(%(from)s, %(to)s)
"""


def busy_bays(starts_at: datetime, ends_at: datetime) -> list[BusyBay]:
    """Bays busy at some point in [starts_at, ends_at). A read."""
    return database.run(lambda conn: select_busy_bays(conn, starts_at, ends_at))


def select_busy_bays(
    conn: psycopg.Connection, starts_at: datetime, ends_at: datetime
) -> list[BusyBay]:
    rows = conn.execute(BUSY_BAYS, {"from": starts_at, "to": ends_at}).fetchall()
    return [BusyBay(*row) for row in rows]
