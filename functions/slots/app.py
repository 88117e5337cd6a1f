"""Free time: GET /slots?date=YYYY-MM-DD and GET /availability for the default
shop, and GET /shops/{shop_id}/availability for any shop's service."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from appointments import messages
from appointments.api.web import create_resolver, entrypoint
from appointments.domain import availability, schedule, shop
from appointments.errors import ClientError

if TYPE_CHECKING:  # imported by the shop route itself (see list_service_availability)
    from appointments.data import service_calendars
    from appointments.domain import service_availability

# Read once, at cold start: a malformed setting stops the function from starting.
SCHEDULE = shop.load_schedule(os.environ)
# The longest range an availability route answers: a month view.
MAX_AVAILABILITY_DAYS = 31
# Lambda answers at most 6 MB: a range whose answer would come near it (many
# resources, short steps, a month) is refused before it is written.
MAX_ANSWER_BYTES = 4_000_000
_START_BYTES = 140  # one start's JSON, resource ids aside

app = create_resolver()


@app.get("/slots")
def list_slots() -> Any:
    day = schedule.parse_date(app.request.query.get("date", ""))
    free = availability.free_on(SCHEDULE, day, shop.now())
    return {"available_times": [slot.label for slot in free]}


@app.get("/availability")
def list_availability() -> Any:
    first, last = _date_range(app.request.query)
    days = availability.days_between(SCHEDULE, first, last, shop.now())
    return {
        "time_zone": SCHEDULE.zone_name,
        "days": [
            {"date": day.isoformat(), "slots": [_slot_body(open_slot) for open_slot in slots]}
            for day, slots in days.items()
        ],
    }


@app.get("/shops/<shop_id>/availability")
def list_service_availability(shop_id: str) -> Any:
    # Imported here: a shop's calendar is ~4 ms of modules that /slots and
    # /availability, the default shop's routes, never use at a cold start.
    from appointments.api import catalogue_views
    from appointments.data import service_calendars
    from appointments.domain import service_availability
    from appointments.domain.catalogue import is_catalogue_id

    # The shop id as API Gateway decoded it: the router's argument is still percent-encoded.
    shop_id = str(app.request.path_parameters.get("shop_id", ""))
    if not is_catalogue_id(shop_id):
        raise catalogue_views.SHOP_NOT_FOUND

    query = app.request.query
    service_id = query.get("service_id")
    if not service_id:
        raise ClientError(messages.SERVICE_ID_REQUIRED)
    first, last = _date_range(query)
    resource_id = query.get("resource_id")
    calendar = service_calendars.find_service_calendar(
        shop_id,
        # An id no service or resource could have is looked up as one none has.
        service_id if is_catalogue_id(service_id) else "",
        None if resource_id is None else resource_id if is_catalogue_id(resource_id) else "",
        first,
        last,
    )
    service = catalogue_views.service_of(calendar, resource_id)
    assert calendar is not None  # service_of answered a missing shop
    days = service_availability.days_between(calendar, service, first, last, shop.now())
    if _answer_bytes(days, calendar) > MAX_ANSWER_BYTES:
        raise ClientError(messages.ANSWER_TOO_LONG)
    return {
        "shop_id": shop_id,
        "service_id": service_id,
        "time_zone": calendar.shop.time_zone,
        "days": [
            {
                "date": day.isoformat(),
                "slots": [
                    {
                        "time": offered.slot.label,
                        "starts_at": offered.slot.rfc3339_bounds[0],
                        "ends_at": offered.slot.rfc3339_bounds[1],
                        "remaining": len(offered.free_resource_ids),
                        "resource_ids": offered.free_resource_ids,
                    }
                    for offered in starts
                ],
            }
            for day, starts in days.items()
        ],
    }


def _answer_bytes(
    days: dict[date, list[service_availability.OfferedStart]],
    calendar: service_calendars.ServiceCalendar,
) -> int:
    """At most how long the answer's JSON would be: every id as long as the longest."""
    id_bytes = 3 + max((len(r.resource_id) for r in calendar.resources), default=0)
    return sum(
        _START_BYTES + id_bytes * len(offered.free_resource_ids)
        for starts in days.values()
        for offered in starts
    )


def _date_range(query: dict[str, str]) -> tuple[date, date]:
    """from and to, both included, at most MAX_AVAILABILITY_DAYS apart."""
    first = schedule.parse_date(query.get("from", ""))
    last = schedule.parse_date(query.get("to", ""))
    if last < first:
        raise ClientError(messages.DATE_RANGE_REVERSED)
    if last - first >= timedelta(days=MAX_AVAILABILITY_DAYS):
        raise ClientError(messages.RANGE_TOO_LONG)
    return first, last


def _slot_body(open_slot: availability.OpenSlot) -> dict[str, Any]:
    slot = open_slot.slot
    starts_at, ends_at = slot.rfc3339_bounds
    return {
        "time": slot.label,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "remaining": open_slot.remaining,
    }


handler = entrypoint(app)
