"""The shop's free slots: GET /slots?date=YYYY-MM-DD, and GET /availability for a range of days."""

import os
from datetime import timedelta
from typing import Any

from appointments import messages
from appointments.api.web import create_resolver, entrypoint
from appointments.domain import availability, schedule, shop
from appointments.domain.schedule import rfc3339_in
from appointments.errors import ClientError

# Read once, at cold start: a malformed setting stops the function from starting.
SCHEDULE = shop.load_schedule(os.environ)
# The longest range GET /availability answers: a month view.
MAX_AVAILABILITY_DAYS = 31

app = create_resolver()


@app.get("/slots")
def list_slots() -> Any:
    day = schedule.parse_date(app.request.query.get("date", ""))
    free = availability.free_on(SCHEDULE, day, shop.now())
    return {"available_times": [slot.label for slot in free]}


@app.get("/availability")
def list_availability() -> Any:
    query = app.request.query
    first = schedule.parse_date(query.get("from", ""))
    last = schedule.parse_date(query.get("to", ""))
    if last < first:
        raise ClientError(messages.DATE_RANGE_REVERSED)
    if last - first >= timedelta(days=MAX_AVAILABILITY_DAYS):
        raise ClientError(messages.RANGE_TOO_LONG)
    days = availability.days_between(SCHEDULE, first, last, shop.now())
    return {
        "time_zone": SCHEDULE.zone_name,
        "days": [
            {"date": day.isoformat(), "slots": [_slot_body(open_slot) for open_slot in slots]}
            for day, slots in days.items()
        ],
    }


def _slot_body(open_slot: availability.OpenSlot) -> dict[str, Any]:
    slot = open_slot.slot
    return {
        "time": slot.label,
        "starts_at": rfc3339_in(slot.starts_at, SCHEDULE.zone),
        "ends_at": rfc3339_in(slot.ends_at, SCHEDULE.zone),
        "remaining": open_slot.remaining,
    }


handler = entrypoint(app)
