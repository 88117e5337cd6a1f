"""The floor of GET /slots?date=YYYY-MM-DD: busy_bays.BUSY_BAYS over the day, the default
shop."""

import json
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

# Opened at cold start and kept for warm invocations, as the real function keeps its own.
_conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)

# Copied from busy_bays.BUSY_BAYS.
_BUSY_BAYS = """
    SELECT resource_id, lower(during), upper(during)
    FROM bookings
    WHERE status IN ('confirmed', 'held')
      AND (status = 'confirmed' OR hold_expires_at > now())
      AND catalogue_id_range(shop_id, shop_id, '[]')
          && catalogue_id_range('default', 'default', '[]')
      AND block && tstzrange(%(from)s, %(to)s)
      AND during && tstzrange(%(from)s, %(to)s)
"""

_SLOT = timedelta(hours=1)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    day = date.fromisoformat(event["queryStringParameters"]["date"])
    opens = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    starts = [opens + n * _SLOT for n in range(8)]
    busy = _conn.execute(_BUSY_BAYS, {"from": starts[0], "to": starts[-1] + _SLOT}).fetchall()
    # One bay: a slot is free when no confirmed booking or live hold overlaps it.
    free = [
        start.strftime("%H:%M")
        for start in starts
        if not any(lower < start + _SLOT and start < upper for _, lower, upper in busy)
    ]
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"available_times": free}),
    }
