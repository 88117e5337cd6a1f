"""Everything that decides when a shop's service can be booked over a span, read
in one statement: the shop's rules, the service, the resources that perform it
with their hours, and what keeps them busy (confirmed bookings' blocks, time off).

One round trip whatever the span and however many resources; no row is no
shop, and a shop without the service says so, so that the caller can tell the
client which one it got wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from appointments.data import database


@dataclass(frozen=True)
class ShopRules:
    time_zone: str
    opening_hours: str
    closed_dates: list[date]
    minimum_notice_minutes: int | None
    booking_horizon_days: int | None
    catalogue_version: int  # what a booking made from this read names (book_slot_v3)


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


# The span is widened by the service's buffers: a start near its edge blocks
# its resource from `buffer before` earlier to `buffer after` later. Bookings
# are found through the GiST index of their exclusion constraint (0019), whose
# predicate and shop expression this repeats; time off through its key.
# Ids sort byte by byte (COLLATE "C"): the same order on every database.
# What keeps resources busy comes as POSIX seconds (float8), which neither
# side has to format or parse as timestamps: a month of a busy shop is
# thousands of them.
_SERVICE_CALENDAR = """
    SELECT shops.time_zone, shops.opening_hours, shops.closed_dates,
           shops.minimum_notice_minutes, shops.booking_horizon_days, shops.catalogue_version,
           services.duration_minutes, services.buffer_before_minutes,
           services.buffer_after_minutes,
           coalesce(services.step_minutes, services.duration_minutes),
           eligible.resource_ids, eligible.opening_hours,
           %(resource_id)s::text IS NULL OR EXISTS (
               SELECT 1 FROM resources
               WHERE resources.shop_id = shops.shop_id AND resources.resource_id = %(resource_id)s
           ),
           held.resource_ids, held.starts, held.ends
    FROM shops
    LEFT JOIN services
      ON services.shop_id = shops.shop_id AND services.service_id = %(service_id)s
    LEFT JOIN LATERAL (
        SELECT array_agg(resources.resource_id ORDER BY resources.resource_id COLLATE "C"),
               array_agg(resources.opening_hours ORDER BY resources.resource_id COLLATE "C")
        FROM service_resources AS link
        JOIN resources
          ON resources.shop_id = link.shop_id AND resources.resource_id = link.resource_id
        WHERE link.shop_id = services.shop_id AND link.service_id = services.service_id
          AND (%(resource_id)s::text IS NULL OR link.resource_id = %(resource_id)s)
    ) AS eligible (resource_ids, opening_hours) ON true
    LEFT JOIN LATERAL (
        SELECT tstzrange(
            %(from)s - make_interval(mins => services.buffer_before_minutes),
            %(to)s + make_interval(mins => services.buffer_after_minutes)
        )
    ) AS widened (span) ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(busy.resource_id),
               array_agg(coalesce(date_part('epoch', lower(busy.busy_over)), '-infinity')),
               array_agg(coalesce(date_part('epoch', upper(busy.busy_over)), 'infinity'))
        FROM (
            SELECT bookings.resource_id, bookings.block
            FROM bookings
            WHERE bookings.status = 'confirmed'
              AND catalogue_id_range(bookings.shop_id, bookings.shop_id, '[]')
                  && catalogue_id_range(shops.shop_id, shops.shop_id, '[]')
              AND bookings.block && widened.span
              AND bookings.resource_id = ANY (eligible.resource_ids)
            UNION ALL
            SELECT time_off.resource_id, time_off.during
            FROM resource_time_off AS time_off
            WHERE time_off.shop_id = shops.shop_id
              AND time_off.resource_id = ANY (eligible.resource_ids)
              AND time_off.during && widened.span
        ) AS busy (resource_id, busy_over)
    ) AS held (resource_ids, starts, ends) ON true
    WHERE shops.shop_id = %(shop_id)s
"""


def find_service_calendar(
    shop_id: str,
    service_id: str,
    resource_id: str | None,
    starts_at: datetime,
    ends_at: datetime,
) -> ServiceCalendar | None:
    """The service's calendar over [starts_at, ends_at); None if there is no such shop."""
    return database.run(
        lambda conn: select_service_calendar(
            conn, shop_id, service_id, resource_id, starts_at, ends_at
        )
    )


def select_service_calendar(
    conn: psycopg.Connection,
    shop_id: str,
    service_id: str,
    resource_id: str | None,
    starts_at: datetime,
    ends_at: datetime,
) -> ServiceCalendar | None:
    params = {
        "shop_id": shop_id,
        "service_id": service_id,
        "resource_id": resource_id,
        "from": starts_at,
        "to": ends_at,
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
