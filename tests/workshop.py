"""A workshop for the shop routes' tests, written with SQL: shop "north", two bays
and a mechanic, Ana, who works afternoons.

oil-change: 30 minutes, 10 of clean-up, on either bay.
full-service: 2 hours every hour, 15 minutes of set-up, on bay-1 or Ana.

The `workshop` fixture (tests/conftest.py) writes it, and sets
"now" to BEFORE_OPENING on its Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

MONDAY, TUESDAY = "2030-06-03", "2030-06-04"  # Lisbon in summer: UTC+01:00
BEFORE_OPENING = datetime(2030, 6, 3, 7, tzinfo=UTC)


def write_workshop(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO shops (shop_id, name, time_zone, opening_hours, closed_dates)"
        " VALUES ('north', 'North', 'Europe/Lisbon', 'Mon-Fri 09:00-17:00', '{2030-06-05}')"
    )
    db.execute(
        "INSERT INTO resources (shop_id, resource_id, name, opening_hours) VALUES"
        " ('north', 'bay-1', 'Bay 1', NULL), ('north', 'bay-2', 'Bay 2', NULL),"
        " ('north', 'ana', 'Ana', 'Mon-Fri 12:00-16:00')"
    )
    db.execute(
        "INSERT INTO services (shop_id, service_id, name, duration_minutes,"
        " buffer_before_minutes, buffer_after_minutes, step_minutes) VALUES"
        " ('north', 'oil-change', 'Oil change', 30, 0, 10, NULL),"
        " ('north', 'full-service', 'Full service', 120, 15, 0, 60)"
    )
    db.execute(
        "INSERT INTO service_resources (shop_id, service_id, resource_id) VALUES"
        " ('north', 'oil-change', 'bay-1'), ('north', 'oil-change', 'bay-2'),"
        " ('north', 'full-service', 'bay-1'), ('north', 'full-service', 'ana')"
    )


def remove_workshop(db: psycopg.Connection) -> None:
    db.execute("DELETE FROM services WHERE shop_id = 'north'")
    db.execute("DELETE FROM resources WHERE shop_id = 'north'")
    db.execute("DELETE FROM shops WHERE shop_id = 'north'")


def hold(db: psycopg.Connection, resource_id: str, block: tuple[str, str]) -> None:
    """A confirmed booking of shop north keeping `resource_id` busy over `block` (Lisbon times)."""
    starts_at, ends_at = (f"{MONDAY} {moment}+01" for moment in block)
    db.execute(
        "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, shop_id, service_id,"
        " resource_id, block)"
        " VALUES (%(id)s, 'user_alice', %(day)s, %(start)s::timestamptz::time,"
        " tstzrange(%(start)s, %(end)s), 'north', 'oil-change', %(resource)s,"
        " tstzrange(%(start)s, %(end)s))",
        {
            "id": f"north.booking_{resource_id}_{block[0]}",
            "day": MONDAY,
            "start": starts_at,
            "end": ends_at,
            "resource": resource_id,
        },
    )
