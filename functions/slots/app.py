"""GET /slots?date=YYYY-MM-DD: the day's free hourly slots."""

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from appointments import database, schedule, store
from appointments.web import create_resolver, error_response, logger

app = create_resolver()


@app.get("/slots")
def list_slots() -> Any:
    try:
        day = schedule.parse_date(app.current_event.get_query_string_value("date", ""))
    except schedule.InvalidSlot as invalid:
        return error_response(HTTPStatus.BAD_REQUEST, str(invalid))
    booked = database.run(lambda conn: store.booked_starts(conn, day))
    return {"available_times": schedule.available_times(booked)}


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
