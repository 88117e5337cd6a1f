"""POST /bookings: book one slot for one user, or say why not."""

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from appointments import database, messages, store
from appointments.models import BadRequest, parse_booking_request
from appointments.schedule import Booked, SlotFull, UserNotFound
from appointments.web import body_bytes, create_resolver, error_response, json_response, logger

app = create_resolver()


@app.post("/bookings")
def create_booking() -> Any:
    try:
        request = parse_booking_request(body_bytes(app.current_event))
    except BadRequest as bad:
        return error_response(HTTPStatus.BAD_REQUEST, str(bad))
    booking_id = store.new_booking_id()  # chosen before the call so a retry reuses it
    outcome = database.run(
        lambda conn: store.book_slot(conn, booking_id, request.user_id, request.date, request.time)
    )
    logger.info("booking attempt", extra={"outcome": type(outcome).__name__})
    match outcome:
        case Booked(booking_id=booked_id):
            return json_response(HTTPStatus.OK, {"booking_id": booked_id})
        case SlotFull():
            return error_response(HTTPStatus.BAD_REQUEST, messages.SLOT_FULL)
        case UserNotFound():
            return error_response(HTTPStatus.BAD_REQUEST, messages.USER_NOT_FOUND)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
