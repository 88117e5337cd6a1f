"""GET /slots?date=YYYY-MM-DD: the day's free hourly slots."""

from http import HTTPStatus
from typing import Any

from appointments import database, schedule, store
from appointments.observability import count
from appointments.web import create_resolver, entrypoint, error_response

app = create_resolver()


@app.get("/slots")
def list_slots() -> Any:
    try:
        day = schedule.parse_date(app.current_event.get_query_string_value("date", ""))
    except schedule.InvalidSlot as invalid:
        count("InvalidRequest")
        return error_response(HTTPStatus.BAD_REQUEST, str(invalid))
    booked = database.run(lambda conn: store.booked_starts(conn, day))
    return {"available_times": schedule.available_times(booked)}


handler = entrypoint(app)
