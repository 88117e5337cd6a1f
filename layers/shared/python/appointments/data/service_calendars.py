"""Everything that decides when a shop's service can be booked over a span, read
in one statement: the shop's rules, the service, the resources that perform it
with their hours, and what keeps them busy (confirmed bookings' blocks, time off).
Availability reads it for its range; a booking for its day, without bookings.

One round trip whatever the span and however many resources; no row is no
shop, and a shop without the service says so, so that the caller can tell the
client which one it got wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import psycopg

from appointments.data import database


@dataclass(frozen=True)
class ShopRules:
    time_zone: str
    opening_hours: str
    closed_dates: list[date]
    minimum_notice_minutes: int | None
    booking_horizon_days: int | None
    catalogue_version: int  # what a booking made from this read names (book_slot_v4)


@dataclass(frozen=True)
class ServiceTimes:
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    step_minutes: int


@dataclass(frozen=True)
class EligibleResource:
    resource_id: str
    opening_hours: str | None  # None: the shop's


# A resource kept busy from one instant to another (POSIX seconds, an
# unbounded side infinite): a confirmed booking's block, or time off.
Busy = tuple[str, float, float]


@dataclass(frozen=True)
class ServiceCalendar:
    shop: ShopRules
    service: ServiceTimes | None  # None: the shop has no such service
    resources: list[EligibleResource]  # those that perform it (only the one asked for, if any)
    resource_exists: bool  # the resource asked for is the shop's (True when none was asked for)
    busy: list[Busy]  # of those resources, overlapping the span and its buffers


# One row, from a function (0024) so that the server keeps its plan: see there.
_SERVICE_CALENDAR = """
    SELECT * FROM service_calendar_v1(
        %(shop_id)s, %(service_id)s, %(resource_id)s, %(from)s, %(to)s, %(with_bookings)s
    )
"""


# A shop's days begin between 14 hours before and 12 hours after midnight UTC
# (UTC+14:00 to UTC-12:00): a span this much wider holds every shop's days
# before its zone is known, in the same statement that reads the zone.
_EARLIEST_OFFSET, _LATEST_OFFSET = timedelta(hours=14), timedelta(hours=12)

# A booking's read of one day, kept by a warm container for the next booking
# of that day (see find_service_day); a few days of a few services.
_DAYS_KEPT = 64
_kept_days: dict[tuple[str, str, str | None, date], ServiceCalendar] = {}


def find_service_calendar(
    shop_id: str,
    service_id: str,
    resource_id: str | None,
    first: date,
    last: date,
) -> ServiceCalendar | None:
    """The service's calendar over the days from `first` to `last` in any zone;
    None if there is no such shop."""
    starts_at, ends_at = every_zones_days(first, last)
    return database.run(
        lambda conn: select_service_calendar(
            conn, shop_id, service_id, resource_id, starts_at, ends_at
        )
    )


def find_service_day(
    shop_id: str, service_id: str, resource_id: str | None, day: date, *, fresh: bool
) -> tuple[ServiceCalendar | None, bool]:
    """The service's calendar of `day` for a booking, and whether it was read just now.

    Its busy intervals are time off only: the booking's own statement skips
    the resources that bookings keep busy, and its exclusion constraint
    decides races. What is left changes only with the catalogue, so unless
    `fresh`, a warm container answers from the day it read before. Whatever
    it then decides must be confirmed by the database: a booking's statement
    checks that the catalogue version it carries is still the shop's, and a
    refusal is decided again on a fresh read.
    """
    key = (shop_id, service_id, resource_id, day)
    if not fresh and (kept := _kept_days.get(key)) is not None:
        return kept, False
    starts_at, ends_at = every_zones_days(day, day)
    calendar = database.run(
        lambda conn: select_service_calendar(
            conn, shop_id, service_id, resource_id, starts_at, ends_at, with_bookings=False
        )
    )
    _kept_days.pop(key, None)
    # Only a day that can be booked from: what names no shop, service or
    # resource is asked again (a shop made meanwhile is found at once).
    if calendar is not None and calendar.service is not None and calendar.resource_exists:
        if len(_kept_days) >= _DAYS_KEPT:
            del _kept_days[next(iter(_kept_days))]  # the oldest read
        _kept_days[key] = calendar
    return calendar, True


def every_zones_days(first: date, last: date) -> tuple[datetime, datetime]:
    """From the first day's start to the last day's end in any zone, within datetime's range."""
    opens = datetime.combine(first, time.min, UTC)
    closes = datetime.combine(last, time.max, UTC)
    lowest, highest = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    return (
        opens - min(_EARLIEST_OFFSET, opens - lowest),
        closes + min(_LATEST_OFFSET, highest - closes),
    )


def select_service_calendar(
    conn: psycopg.Connection,
    shop_id: str,
    service_id: str,
    resource_id: str | None,
    starts_at: datetime,
    ends_at: datetime,
    *,
    with_bookings: bool = True,
) -> ServiceCalendar | None:
    params = {
        "shop_id": shop_id,
        "service_id": service_id,
        "resource_id": resource_id,
        "from": starts_at,
        "to": ends_at,
        "with_bookings": with_bookings,
    }
    # Binary: arrays of floats and dates cross without text in between.
    row = conn.execute(_SERVICE_CALENDAR, params, binary=True).fetchone()
    if row is None:
        return None
    shop = ShopRules(*row[0:6])
    service = ServiceTimes(*row[6:10]) if row[6] is not None else None
    resource_ids, hours, resource_exists, held_ids, starts, ends = row[10:16]
    return ServiceCalendar(
        shop=shop,
        service=service,
        resources=[
            EligibleResource(*pair) for pair in zip(resource_ids or [], hours or [], strict=True)
        ],
        resource_exists=resource_exists,
        busy=list(zip(held_ids or [], starts or [], ends or [], strict=True)),
    )
