"""FastAPI + Mangum: the five functions' routes as one app, the same SQL as the floor.

What a Python team would write instead: pydantic for the body, psycopg with a
module-level connection, the default shop. Runs only in .venv-bench-peers
(bench/peers/requirements.txt), which .venv lacks: mypy skips this file.
"""
# mypy: ignore-errors

import os
import secrets
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from mangum import Mangum
from pydantic import BaseModel

conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)

# Copied from store, user_records, catalogue_records and catalogue_changes, as the
# floor copies them.
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
_BOOK_SLOT = """
    SELECT user_exists, booked_resource_id, catalogue_current, too_many_holds, hold_expires_at
    FROM book_slot_v4(
        %(shop_id)s, %(service_id)s, %(catalogue_version)s, %(resource_ids)s,
        %(booking_id)s, %(user_id)s,
        %(day)s, %(start)s, %(starts_at)s, %(ends_at)s, %(block_starts_at)s, %(block_ends_at)s,
        %(key)s, %(fingerprint)s, %(new_user_name)s, %(hold_seconds)s, %(hold_limit)s
    )
"""
_FIND = "SELECT id, name, created_at FROM users WHERE id = %(user_id)s"
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
app = FastAPI()
SLOT = timedelta(hours=1)


class BookingRequest(BaseModel):
    user_id: str
    date: date
    time: time


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/slots")
def slots(date: date) -> dict[str, list[str]]:
    opens = datetime(date.year, date.month, date.day, 9, tzinfo=UTC)
    starts = [opens + n * SLOT for n in range(8)]
    busy = conn.execute(_BUSY_BAYS, {"from": starts[0], "to": starts[-1] + SLOT}).fetchall()
    free = [
        start.strftime("%H:%M")
        for start in starts
        if not any(lower < start + SLOT and start < upper for _, lower, upper in busy)
    ]
    return {"available_times": free}


@app.post("/bookings")
def book(request: BookingRequest) -> JSONResponse:
    starts_at = datetime.combine(request.date, request.time, UTC)
    booking_id = "booking_" + secrets.token_urlsafe(16)
    params = {
        "booking_id": booking_id,
        "user_id": request.user_id,
        "day": request.date,
        "start": request.time,
        "starts_at": starts_at,
        "ends_at": starts_at + SLOT,
        "block_starts_at": starts_at,
        "block_ends_at": starts_at + SLOT,
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
        user_exists, booked_resource_id, *_ = conn.execute(_BOOK_SLOT, params).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        user_exists, booked_resource_id = False, None
    if booked_resource_id is not None:
        return JSONResponse({"booking_id": booking_id})
    return JSONResponse({"error": "Slot full" if user_exists else "User not found"}, 400)


@app.get("/shops/{shop_id}/services")
def services(shop_id: str) -> JSONResponse:
    rows = conn.execute(_LIST_SERVICES, {"shop_id": shop_id}).fetchall()
    if not rows:
        return JSONResponse({"error": "Shop not found"}, 404)
    fields = ("service_id", "name", "duration_minutes", "buffer_before_minutes")
    fields += ("buffer_after_minutes", "step_minutes", "resource_ids")
    services = [dict(zip(fields, row, strict=True)) for row in rows if row[0] is not None]
    return JSONResponse({"services": services})


@app.get("/shops/{shop_id}/services/{service_id}")
def service(shop_id: str, service_id: str) -> JSONResponse:
    ids = {"shop_id": shop_id, "service_id": service_id}
    row = conn.execute(_FIND_SERVICE, ids).fetchone()
    if row is None:
        return JSONResponse({"error": "Shop not found"}, 404)
    if row[0] is None:
        return JSONResponse({"error": "Service not found"}, 404)
    fields = ("name", "duration_minutes", "buffer_before_minutes", "buffer_after_minutes")
    fields += ("step_minutes", "resource_ids")
    return JSONResponse({**ids, **dict(zip(fields, row, strict=True))})


@app.get("/users/{user_id}")
def user(user_id: str) -> JSONResponse:
    row = conn.execute(_FIND, {"user_id": user_id}).fetchone()
    if row is None:
        return JSONResponse({"error": "User not found"}, 404)
    user_id, name, created_at = row
    at = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return JSONResponse({"user_id": user_id, "name": name, "created_at": at})


handler = Mangum(app, lifespan="off")
