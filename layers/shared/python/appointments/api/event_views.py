"""How an event leaves the service: a CloudEvents 1.0 envelope (JSON format)
whose data is its subject as the API shows it after the change.

Hand-written: the envelope is ten keys, and the `cloudevents` package would
add its import to the relay's cold start for a dict.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

from appointments.api.booking_views import booking_body
from appointments.api.hold_views import hold_body
from appointments.data.booking_records import Booking
from appointments.data.hold_records import Hold
from appointments.data.outbox import OutboxEvent
from appointments.domain.schedule import rfc3339_utc
from appointments.domain.shop import zone_named

# The CloudEvents `source` of every event, and EventBridge's Source.
SOURCE = "appointments"


def cloud_event(event: OutboxEvent) -> dict[str, Any]:
    """The event as consumers get it. `sequence` orders one subject's events
    (it grows, with gaps; compare as strings); `id` is what to dedupe by."""
    return {
        "specversion": "1.0",
        "id": str(event.id),
        "source": SOURCE,
        "type": event.type,
        "subject": event.subject_id,
        "time": rfc3339_utc(event.occurred_at),
        "datacontenttype": "application/json",
        "sequence": f"{event.position:020d}",
        "shopid": event.shop_id,
        "data": subject_body(event),
    }


def event_json(event: OutboxEvent) -> str:
    """The CloudEvent as it is sent: EventBridge's Detail, and a webhook's body."""
    return json.dumps(cloud_event(event), separators=(",", ":"))


def subject_body(event: OutboxEvent) -> dict[str, Any]:
    """A hold's events show the hold, a booking's the booking, with its version, and a
    webhook's the subscription (never its secret)."""
    row = event.subject
    if event.type.startswith("webhook."):
        moments = ("failing_since", "disabled_at")
        return {
            **row,
            **{
                name: rfc3339_utc(datetime.fromisoformat(row[name])) if row[name] else None
                for name in moments
            },
        }
    zone = zone_named(event.shop_time_zone) if event.shop_time_zone else UTC
    if event.type.startswith("hold."):
        return hold_body(_hold(row, event.shop_time_zone), zone)
    return {"version": row["version"], **booking_body(_booking(row, event.shop_time_zone), zone)}


def _booking(row: dict[str, Any], shop_time_zone: str | None) -> Booking:
    return Booking(
        booking_id=row["id"],
        user_id=row["user_id"],
        day=date.fromisoformat(row["date"]),
        start=time.fromisoformat(row["time"]),
        starts_at=datetime.fromisoformat(row["starts_at"]),
        ends_at=datetime.fromisoformat(row["ends_at"]),
        status=row["status"],
        created_at=datetime.fromisoformat(row["created_at"]),
        cancelled_at=_moment(row["cancelled_at"]),
        shop_id=row["shop_id"],
        service_id=row["service_id"],
        resource_id=row["resource_id"],
        shop_time_zone=shop_time_zone,
        version=row["version"],
        moved_from=row["moved_from"],
    )


def _hold(row: dict[str, Any], shop_time_zone: str | None) -> Hold:
    return Hold(
        hold_id=row["id"],
        state=row["status"],  # held, released or confirmed: what its events are of
        expires_at=datetime.fromisoformat(row["hold_expires_at"]),
        shop_id=row["shop_id"],
        service_id=row["service_id"],
        resource_id=row["resource_id"],
        user_id=row["user_id"],
        day=date.fromisoformat(row["date"]),
        start=time.fromisoformat(row["time"]),
        starts_at=datetime.fromisoformat(row["starts_at"]),
        ends_at=datetime.fromisoformat(row["ends_at"]),
        shop_time_zone=shop_time_zone,
    )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None
