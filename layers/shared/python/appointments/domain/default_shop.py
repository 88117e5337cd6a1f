"""The default shop: what the template's schedule parameters say, written by the migrate function.

With no configuration the service is one shop (id "default") with one service
("appointment", a slot long) on its bays (bay-1 ... bay-N for Capacity=N). The
parameters stay the one place it is configured: every migrate run writes it
from them, and whatever else was in it goes.
"""

from __future__ import annotations

import psycopg

from appointments.data import catalogue_records
from appointments.data.default_catalogue import DEFAULT_SHOP_ID, DEFAULT_SHOP_NAME
from appointments.domain import shop


def write_default_shop(conn: psycopg.Connection, schedule: shop.ShopSchedule) -> None:
    default = catalogue_records.Shop(
        shop_id=DEFAULT_SHOP_ID,
        name=DEFAULT_SHOP_NAME,
        time_zone=schedule.zone_name,
        opening_hours=shop.format_weekly_hours(schedule.weekly_hours),
        closed_dates=sorted(schedule.closed_dates),
        minimum_notice_minutes=schedule.minimum_notice_minutes,
        booking_horizon_days=schedule.booking_horizon_days,
    )
    catalogue_records.save_default_shop(
        conn, default, duration_minutes=schedule.slot_minutes, bay_count=schedule.capacity
    )
