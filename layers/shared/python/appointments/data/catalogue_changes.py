"""The catalogue's administration: create, replace, read and delete a shop, one
of its resources or one of its services.

Each is one statement, hence one round trip, run again on a new connection if
the first one died mid-way: a replace with the same body is the same replace
(though a create retried so answers "replaced"), and a delete retried so
answers "not found". Every change sets the shop's catalogue_version anew in
the same statement, taking the shop's row: it waits for the bookings in
flight, and a booking after it reads the catalogue again (book_slot_v4,
db/migrations/0020). Deletes are refused while bookings of what would go are
still to come (db/migrations/0021).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from appointments.data import database


@dataclass(frozen=True)
class Shop:
    name: str
    time_zone: str
    opening_hours: str
    closed_dates: list[date]
    minimum_notice_minutes: int | None
    booking_horizon_days: int | None
    hold_seconds: int | None = None  # None: the template's HoldSeconds
    change_notice_minutes: int | None = None  # None: no change cut-off


@dataclass(frozen=True)
class TimeOff:
    time_off_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Resource:
    name: str
    opening_hours: str | None  # None: the shop's
    time_off: list[TimeOff]


@dataclass(frozen=True)
class Service:
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    step_minutes: int | None  # None: every duration
    resource_ids: list[str]


# What a write can come to. Expected outcomes are values, not exceptions.
# Plain classes rather than dataclasses: each dataclass is ~0.5 ms of the
# function's cold start, and these are only told apart by type and read.


class Saved:
    __slots__ = ("created",)

    def __init__(self, created: bool) -> None:
        self.created = created  # False: replaced


class ShopMissing:
    __slots__ = ()


class ResourcesMissing:
    """A service named resources the shop does not have: nothing was written."""

    __slots__ = ("resource_ids",)

    def __init__(self, resource_ids: list[str]) -> None:
        self.resource_ids = resource_ids


class Deleted:
    __slots__ = ()


class NotFound:
    __slots__ = ()


class StillBooked:
    """Confirmed bookings still to come would lose what they booked: nothing was deleted."""

    __slots__ = ("future_bookings",)

    def __init__(self, future_bookings: int) -> None:
        self.future_bookings = future_bookings


# xmax is 0 on a row version this statement inserted, and set on one it
# updated: whether the row was created, in the same statement (as users').
_SAVE_SHOP = """
    INSERT INTO shops (shop_id, name, time_zone, opening_hours, closed_dates,
                       minimum_notice_minutes, booking_horizon_days, hold_seconds,
                       change_notice_minutes)
    VALUES (%(shop_id)s, %(name)s, %(time_zone)s, %(opening_hours)s, %(closed_dates)s,
            %(minimum_notice_minutes)s, %(booking_horizon_days)s, %(hold_seconds)s,
            %(change_notice_minutes)s)
    ON CONFLICT (shop_id) DO UPDATE SET
        name = EXCLUDED.name,
        time_zone = EXCLUDED.time_zone,
        opening_hours = EXCLUDED.opening_hours,
        closed_dates = EXCLUDED.closed_dates,
        minimum_notice_minutes = EXCLUDED.minimum_notice_minutes,
        booking_horizon_days = EXCLUDED.booking_horizon_days,
        hold_seconds = EXCLUDED.hold_seconds,
        change_notice_minutes = EXCLUDED.change_notice_minutes,
        catalogue_version = nextval('catalogue_versions'),
        updated_at = now()
    RETURNING xmax = 0
"""

# Functions (db/migrations/0021): they read after taking the shop's row, so
# that concurrent changes of one shop follow each other.
_SAVE_RESOURCE = """
    SELECT shop_found, created
    FROM save_resource_v1(%(shop_id)s, %(resource_id)s, %(name)s, %(opening_hours)s,
                          %(time_off_ids)s, %(starts)s, %(ends)s)
"""
_SAVE_SERVICE = """
    SELECT shop_found, missing_resource_ids, created
    FROM save_service_v1(%(shop_id)s, %(service_id)s, %(name)s, %(duration_minutes)s,
                         %(buffer_before_minutes)s, %(buffer_after_minutes)s,
                         %(step_minutes)s, %(resource_ids)s)
"""

# No row: no shop; a row of NULLs: a shop without that resource.
_FIND_RESOURCE = """
    SELECT resources.name, resources.opening_hours,
           time_off.ids, time_off.starts, time_off.ends
    FROM shops
    LEFT JOIN resources
      ON resources.shop_id = shops.shop_id AND resources.resource_id = %(resource_id)s
    LEFT JOIN LATERAL (
        SELECT array_agg(time_off_id ORDER BY lower(during), time_off_id COLLATE "C"),
               array_agg(lower(during) ORDER BY lower(during), time_off_id COLLATE "C"),
               array_agg(upper(during) ORDER BY lower(during), time_off_id COLLATE "C")
        FROM resource_time_off
        WHERE resource_time_off.shop_id = resources.shop_id
          AND resource_time_off.resource_id = resources.resource_id
    ) AS time_off (ids, starts, ends) ON true
    WHERE shops.shop_id = %(shop_id)s
"""

_FIND_SERVICE = """
    SELECT services.name, services.duration_minutes, services.buffer_before_minutes,
           services.buffer_after_minutes, services.step_minutes,
           ARRAY(
               SELECT link.resource_id FROM service_resources AS link
               WHERE link.shop_id = services.shop_id AND link.service_id = services.service_id
               ORDER BY link.resource_id COLLATE "C"
           )
    FROM shops
    LEFT JOIN services
      ON services.shop_id = shops.shop_id AND services.service_id = %(service_id)s
    WHERE shops.shop_id = %(shop_id)s
"""

_DELETE_SHOP = "SELECT shop_found, shop_found, future_bookings FROM delete_shop_v1(%(shop_id)s)"
_DELETE_RESOURCE = """
    SELECT shop_found, item_found, future_bookings FROM delete_resource_v1(%(shop_id)s, %(id)s)
"""
_DELETE_SERVICE = """
    SELECT shop_found, item_found, future_bookings FROM delete_service_v1(%(shop_id)s, %(id)s)
"""


def save_shop(shop_id: str, shop: Shop) -> Saved:
    params = {"shop_id": shop_id, **vars(shop)}
    row = database.run(lambda conn: conn.execute(_SAVE_SHOP, params).fetchone())
    assert row is not None  # INSERT ... RETURNING always returns the row
    return Saved(bool(row[0]))


def save_resource(shop_id: str, resource_id: str, resource: Resource) -> Saved | ShopMissing:
    params = {
        "shop_id": shop_id,
        "resource_id": resource_id,
        "name": resource.name,
        "opening_hours": resource.opening_hours,
        "time_off_ids": [period.time_off_id for period in resource.time_off],
        "starts": [period.starts_at for period in resource.time_off],
        "ends": [period.ends_at for period in resource.time_off],
    }
    row = database.run(lambda conn: conn.execute(_SAVE_RESOURCE, params).fetchone())
    assert row is not None  # a function call: always one row
    shop_found, created = row
    return Saved(created) if shop_found else ShopMissing()


def save_service(
    shop_id: str, service_id: str, service: Service
) -> Saved | ShopMissing | ResourcesMissing:
    params = {"shop_id": shop_id, "service_id": service_id, **vars(service)}
    row = database.run(lambda conn: conn.execute(_SAVE_SERVICE, params).fetchone())
    assert row is not None  # a function call: always one row
    shop_found, missing, created = row
    if not shop_found:
        return ShopMissing()
    if missing:
        return ResourcesMissing(missing)
    return Saved(created)


def find_resource(shop_id: str, resource_id: str) -> Resource | NotFound | ShopMissing:
    row = database.run(
        lambda conn: conn.execute(
            _FIND_RESOURCE, {"shop_id": shop_id, "resource_id": resource_id}
        ).fetchone()
    )
    if row is None:
        return ShopMissing()
    name, opening_hours, ids, starts, ends = row
    if name is None:
        return NotFound()
    periods = zip(ids or [], starts or [], ends or [], strict=True)
    return Resource(name, opening_hours, [TimeOff(*period) for period in periods])


def find_service(shop_id: str, service_id: str) -> Service | NotFound | ShopMissing:
    row = database.run(
        lambda conn: conn.execute(
            _FIND_SERVICE, {"shop_id": shop_id, "service_id": service_id}
        ).fetchone()
    )
    if row is None:
        return ShopMissing()
    if row[0] is None:
        return NotFound()
    return Service(*row)


def delete_shop(shop_id: str) -> Deleted | StillBooked | ShopMissing:
    outcome = _deleted(_DELETE_SHOP, {"shop_id": shop_id})
    assert not isinstance(outcome, NotFound)  # the thing to find is the shop
    return outcome


def delete_resource(
    shop_id: str, resource_id: str
) -> Deleted | StillBooked | NotFound | ShopMissing:
    return _deleted(_DELETE_RESOURCE, {"shop_id": shop_id, "id": resource_id})


def delete_service(shop_id: str, service_id: str) -> Deleted | StillBooked | NotFound | ShopMissing:
    return _deleted(_DELETE_SERVICE, {"shop_id": shop_id, "id": service_id})


def _deleted(
    statement: str, params: dict[str, Any]
) -> Deleted | StillBooked | NotFound | ShopMissing:
    row = database.run(lambda conn: conn.execute(statement, params).fetchone())
    assert row is not None  # a function call: always one row
    shop_found, found, future_bookings = row
    if not shop_found:
        return ShopMissing()
    if not found:
        return NotFound()
    return StillBooked(future_bookings) if future_bookings else Deleted()
