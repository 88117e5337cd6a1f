"""The JSON a hold is shown as: where and when it holds, until when, and (read
back) what became of it. Times as a booking's: the interval with its shop's
offset, the expiry in UTC like every other timestamp of the API."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any

from appointments.data.default_catalogue import DEFAULT_SHOP_ID
from appointments.data.hold_records import Hold
from appointments.data.store import Held, SlotRequest
from appointments.domain.schedule import rfc3339_in, rfc3339_utc
from appointments.domain.shop import zone_named


def held_body(request: SlotRequest, held: Held) -> dict[str, Any]:
    """A new hold, from what was asked and what the database answered."""
    zone = request.starts_at.tzinfo or UTC  # the slot's, in its shop's zone
    return {
        "hold_id": held.hold_id,
        "expires_at": rfc3339_utc(held.expires_at),
        "shop_id": request.shop_id,
        "service_id": request.service_id,
        "resource_id": held.resource_id,
        "date": request.day.isoformat(),
        "time": request.start.strftime("%H:%M"),
        "starts_at": rfc3339_in(request.starts_at, zone),
        "ends_at": rfc3339_in(request.ends_at, zone),
    }


def hold_body(hold: Hold, default_zone: tzinfo) -> dict[str, Any]:
    """A hold read back: as made, with its state, and its booking's id once confirmed."""
    if hold.shop_id == DEFAULT_SHOP_ID:
        zone = default_zone
    else:
        zone = zone_named(hold.shop_time_zone) if hold.shop_time_zone else UTC
    body: dict[str, Any] = {
        "hold_id": hold.hold_id,
        "expires_at": rfc3339_utc(hold.expires_at),
        "shop_id": hold.shop_id,
        "service_id": hold.service_id,
        "resource_id": hold.resource_id,
        "date": hold.day.isoformat(),
        "time": hold.start.strftime("%H:%M"),
        "starts_at": rfc3339_in(hold.starts_at, zone),
        "ends_at": rfc3339_in(hold.ends_at, zone),
        "user_id": hold.user_id,
        "status": hold.state,
    }
    if hold.state == "confirmed":
        body["booking_id"] = hold.hold_id  # the booking is the hold's row, under its id
    return body
