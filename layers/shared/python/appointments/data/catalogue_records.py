"""The catalogue: shops, their services and resources (db/migrations/0015).

Each read is one statement, hence one round trip, which also tells a shop with
nothing in it from no shop at all. The default shop is written by the migrate
function from the template's schedule parameters (domain/default_shop.py, then
save_default_shop here): those parameters stay the one place it is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

from appointments.data import database
from appointments.data.default_catalogue import (
    DEFAULT_SERVICE_ID,
    DEFAULT_SERVICE_NAME,
    default_bay_ids,
)


@dataclass(frozen=True)
class Shop:
    shop_id: str
    name: str
    time_zone: str
    opening_hours: str
    closed_dates: list[date]
    minimum_notice_minutes: int | None
    booking_horizon_days: int | None
    hold_seconds: int | None = None  # None: the template's HoldSeconds
    change_notice_minutes: int | None = None  # None: no change cut-off


@dataclass(frozen=True)
class Service:
    service_id: str
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    step_minutes: int  # NULL in the table is every duration: resolved here
    resource_ids: list[str]


@dataclass(frozen=True)
class Resource:
    resource_id: str
    name: str
    opening_hours: str  # its own, or else its shop's


_FIND_SHOP = """
    SELECT shop_id, name, time_zone, opening_hours, closed_dates,
           minimum_notice_minutes, booking_horizon_days, hold_seconds, change_notice_minutes
    FROM shops WHERE shop_id = %(shop_id)s
"""

# The shop joined first: no row is no shop, one row of NULLs a shop without any.
# Ids sort byte by byte (COLLATE "C"): the same order on every database.
_LIST_SERVICES = """
    SELECT services.service_id, services.name, services.duration_minutes,
           services.buffer_before_minutes, services.buffer_after_minutes,
           coalesce(services.step_minutes, services.duration_minutes),
           ARRAY(
               SELECT eligible.resource_id FROM service_resources AS eligible
               WHERE eligible.shop_id = services.shop_id
                 AND eligible.service_id = services.service_id
               ORDER BY eligible.resource_id COLLATE "C"
           )
    FROM shops LEFT JOIN services ON services.shop_id = shops.shop_id
    WHERE shops.shop_id = %(shop_id)s
    ORDER BY services.service_id COLLATE "C"
"""

_LIST_RESOURCES = """
    SELECT resources.resource_id, resources.name,
           coalesce(resources.opening_hours, shops.opening_hours)
    FROM shops LEFT JOIN resources ON resources.shop_id = shops.shop_id
    WHERE shops.shop_id = %(shop_id)s
    ORDER BY resources.resource_id COLLATE "C"
"""


def find_shop(shop_id: str) -> Shop | None:
    return database.run(lambda conn: select_shop(conn, shop_id))


def list_services(shop_id: str) -> list[Service] | None:
    """The shop's services, by id; None when there is no such shop."""
    return database.run(lambda conn: select_services(conn, shop_id))


def list_resources(shop_id: str) -> list[Resource] | None:
    """The shop's resources, by id; None when there is no such shop."""
    return database.run(lambda conn: select_resources(conn, shop_id))


def select_shop(conn: psycopg.Connection, shop_id: str) -> Shop | None:
    row = conn.execute(_FIND_SHOP, {"shop_id": shop_id}).fetchone()
    return Shop(*row) if row else None


def select_services(conn: psycopg.Connection, shop_id: str) -> list[Service] | None:
    rows = conn.execute(_LIST_SERVICES, {"shop_id": shop_id}).fetchall()
    if not rows:
        return None
    return [Service(*row) for row in rows if row[0] is not None]


def select_resources(conn: psycopg.Connection, shop_id: str) -> list[Resource] | None:
    rows = conn.execute(_LIST_RESOURCES, {"shop_id": shop_id}).fetchall()
    if not rows:
        return None
    return [Resource(*row) for row in rows if row[0] is not None]


# --- The default shop, written by the migrate function -----------------------

_SAVE_DEFAULT_SHOP = """
    INSERT INTO shops (shop_id, name, time_zone, opening_hours, closed_dates,
                       minimum_notice_minutes, booking_horizon_days)
    VALUES (%(shop_id)s, %(name)s, %(time_zone)s, %(opening_hours)s, %(closed_dates)s,
            %(minimum_notice_minutes)s, %(booking_horizon_days)s)
    ON CONFLICT (shop_id) DO UPDATE SET
        name = EXCLUDED.name,
        time_zone = EXCLUDED.time_zone,
        opening_hours = EXCLUDED.opening_hours,
        closed_dates = EXCLUDED.closed_dates,
        minimum_notice_minutes = EXCLUDED.minimum_notice_minutes,
        booking_horizon_days = EXCLUDED.booking_horizon_days,
        updated_at = now()
    WHERE (shops.name, shops.time_zone, shops.opening_hours, shops.closed_dates,
           shops.minimum_notice_minutes, shops.booking_horizon_days)
          IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.time_zone, EXCLUDED.opening_hours, EXCLUDED.closed_dates,
           EXCLUDED.minimum_notice_minutes, EXCLUDED.booking_horizon_days)
"""

# One length, every bay, starts every slot: today's /slots grid.
_SAVE_DEFAULT_SERVICE = """
    INSERT INTO services (shop_id, service_id, name, duration_minutes)
    VALUES (%(shop_id)s, %(service_id)s, %(name)s, %(duration_minutes)s)
    ON CONFLICT (shop_id, service_id) DO UPDATE SET
        name = EXCLUDED.name,
        duration_minutes = EXCLUDED.duration_minutes,
        buffer_before_minutes = 0,
        buffer_after_minutes = 0,
        step_minutes = NULL
    WHERE (services.name, services.duration_minutes, services.buffer_before_minutes,
           services.buffer_after_minutes, services.step_minutes)
          IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.duration_minutes, 0, 0, NULL::integer)
"""

_SAVE_BAYS = """
    INSERT INTO resources (shop_id, resource_id, name)
    SELECT %(shop_id)s, bay.resource_id, bay.name
    FROM unnest(%(resource_ids)s::text[], %(names)s::text[]) AS bay (resource_id, name)
    ON CONFLICT (shop_id, resource_id) DO UPDATE SET name = EXCLUDED.name, opening_hours = NULL
    WHERE (resources.name, resources.opening_hours) IS DISTINCT FROM (EXCLUDED.name, NULL::text)
"""

_LINK_BAYS = """
    INSERT INTO service_resources (shop_id, service_id, resource_id)
    SELECT %(shop_id)s, %(service_id)s, unnest(%(resource_ids)s::text[])
    ON CONFLICT DO NOTHING
"""

# The default shop is the template's alone: other services and resources go,
# and their links and time off with them (a booking names its resource but
# holds no key to it: its history stays). Time off on the bays themselves stays.
_DROP_OTHER_SERVICES = """
    DELETE FROM services WHERE shop_id = %(shop_id)s AND service_id <> %(service_id)s
"""
_DROP_OTHER_RESOURCES = """
    DELETE FROM resources
    WHERE shop_id = %(shop_id)s AND NOT resource_id = ANY(%(resource_ids)s::text[])
"""


# Every change to a shop's catalogue gives it a new version: a booking made
# from what it read before the change is then refused by its own statement.
_NEW_CATALOGUE_VERSION = """
    UPDATE shops SET catalogue_version = nextval('catalogue_versions') WHERE shop_id = %(shop_id)s
"""


def save_default_shop(
    conn: psycopg.Connection, default: Shop, *, duration_minutes: int, bay_count: int
) -> None:
    """Make the default shop `default`, with one service of `duration_minutes` on
    bays bay-1 ... bay-N, and nothing else; in one transaction. Running it again
    changes nothing.
    """
    ids = {
        "shop_id": default.shop_id,
        "service_id": DEFAULT_SERVICE_ID,
        "resource_ids": default_bay_ids(bay_count),
    }
    service = {**ids, "name": DEFAULT_SERVICE_NAME, "duration_minutes": duration_minutes}
    bays = {**ids, "names": [f"Bay {number}" for number in range(1, bay_count + 1)]}
    with conn.transaction():
        changed = sum(
            conn.execute(statement, params).rowcount
            for statement, params in [
                (_SAVE_DEFAULT_SHOP, vars(default)),
                (_SAVE_DEFAULT_SERVICE, service),
                (_SAVE_BAYS, bays),
                (_LINK_BAYS, ids),
                (_DROP_OTHER_SERVICES, ids),
                (_DROP_OTHER_RESOURCES, ids),
            ]
        )
        if changed:
            conn.execute(_NEW_CATALOGUE_VERSION, ids)
