"""The floor of POST /bookings: store._BOOK_SLOT for a slot of the default shop, no key."""

import json
import os
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg

# Opened at cold start and kept for warm invocations, as the real function keeps its own.
_conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)

# Copied from store._BOOK_SLOT.
_BOOK_SLOT = """
    SELECT user_exists, booked
    FROM book_slot_v2(
        %(booking_id)s, %(user_id)s, %(day)s, %(start)s, %(starts_at)s, %(ends_at)s,
        %(capacity)s, %(key)s, %(fingerprint)s, %(new_user_name)s
    )
"""


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    body = json.loads(event["body"])
    day, start = date.fromisoformat(body["date"]), time.fromisoformat(body["time"])
    starts_at = datetime.combine(day, start, UTC)
    booking_id = "booking_" + secrets.token_urlsafe(16)
    params = {
        "booking_id": booking_id,
        "user_id": body["user_id"],
        "day": day,
        "start": start,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=1),
        "capacity": 1,
        "key": None,
        "fingerprint": None,
        "new_user_name": None,
    }
    try:
        user_exists, booked = _conn.execute(_BOOK_SLOT, params).fetchone() or (False, False)
    except psycopg.errors.ForeignKeyViolation:  # the user was deleted meanwhile
        user_exists, booked = False, False
    if booked:
        status, answer = 200, {"booking_id": booking_id}
    else:
        status, answer = 400, {"error": "Slot full" if user_exists else "User not found"}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer),
    }
