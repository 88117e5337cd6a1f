"""GET /slots?date=YYYY-MM-DD: the day's free hourly slots."""

from typing import Any

from appointments import schedule, store
from appointments.web import create_resolver, entrypoint

app = create_resolver()


@app.get("/slots")
def list_slots() -> Any:
    day = schedule.parse_date(app.current_event.get_query_string_value("date", ""))
    return {"available_times": schedule.available_times(store.booked_starts(day))}


handler = entrypoint(app)
