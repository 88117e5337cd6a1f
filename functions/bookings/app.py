"""POST /bookings: book one slot for one user, or say why not."""

from http import HTTPStatus
from typing import Any

from appointments import database, messages, store
from appointments.models import BadRequest, parse_booking_request
from appointments.schedule import Booked, SlotFull, UserNotFound
from appointments.observability import count, logger
from appointments.web import (
    body_bytes,
    create_resolver,
    entrypoint,
    error_response,
    json_response,
)

app = create_resolver()


@app.post("/bookings")
def create_booking() -> Any:
    try:
        request = parse_booking_request(body_bytes(app.current_event))
    except BadRequest as bad:
        outcome = "ShopClosed" if str(bad) == messages.SHOP_CLOSED else "InvalidRequest"
        return _refuse(outcome, str(bad))
    booking_id = store.new_booking_id()  # chosen before the call so a retry reuses it
    attempt = (booking_id, request.user_id, request.date, request.time)
    result = database.run(
        lambda conn: store.book_slot(conn, *attempt),
        retry=lambda conn: store.book_slot_again(conn, *attempt),
    )
    match result:
        case Booked(booking_id=booked_id):
            _record("BookingCreated")
            return json_response(HTTPStatus.OK, {"booking_id": booked_id})
        case SlotFull():
            return _refuse("SlotFull", messages.SLOT_FULL)
        case UserNotFound():
            return _refuse("UserNotFound", messages.USER_NOT_FOUND)


def _record(outcome: str) -> None:
    # The metric and the request's log line carry the same name.
    count(outcome)
    logger.append_keys(outcome=outcome)


def _refuse(outcome: str, message: str) -> Any:
    _record(outcome)
    return error_response(HTTPStatus.BAD_REQUEST, message)


handler = entrypoint(app)
