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
    SELECT user_exists, booked_resource_id, catalogue_current, too_many_holds, hold_expires_at
    FROM book_slot_v4(
        %(shop_id)s, %(service_id)s, %(catalogue_version)s, %(resource_ids)s,
        %(booking_id)s, %(user_id)s,
        %(day)s, %(start)s, %(starts_at)s, %(ends_at)s, %(block_starts_at)s, %(block_ends_at)s,
        %(key)s, %(fingerprint)s, %(new_user_name)s, %(hold_seconds)s, %(hold_limit)s
    )
"""


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    body = json.loads(event["body"])
    day, start = date.fromisoformat(body["date"]), time.fromisoformat(body["time"])
    starts_at = datetime.combine(day, start, UTC)
    ends_at = starts_at + timedelta(hours=1)
    booking_id = "booking_" + secrets.token_urlsafe(16)
    params = {
        "booking_id": booking_id,
        "user_id": body["user_id"],
        "day": day,
        "start": start,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "block_starts_at": starts_at,
        "block_ends_at": ends_at,
        "shop_id": "default",
        "service_id": "appointment",
        "catalogue_version": None,
        "resource_ids": ["bay-1"],
        "key": None,
        "fingerprint": None,
        "new_user_name": None,
        "hold_seconds": None,
        "hold_limit": None,
    }
    try:
        row = _conn.execute(_BOOK_SLOT, params).fetchone()
        user_exists, booked_resource_id, *_ = row or (False, None, True)
    except psycopg.errors.ForeignKeyViolation:  # the user was deleted meanwhile
        user_exists, booked_resource_id = False, None
    if booked_resource_id is not None:
        status, answer = 200, {"booking_id": booking_id}
    else:
        status, answer = 400, {"error": "Slot full" if user_exists else "User not found"}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer),
    }
