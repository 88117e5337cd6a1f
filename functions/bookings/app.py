"""POST /bookings: book one slot for one user, or say why not."""

from typing import Any, assert_never

from appointments import messages, store
from appointments.errors import ClientError
from appointments.models import parse_booking_request
from appointments.observability import record_outcome
from appointments.web import body_bytes, create_resolver, entrypoint, refuse

app = create_resolver()


@app.post("/bookings")
def create_booking() -> Any:
    request = parse_booking_request(body_bytes(app.current_event))
    match store.book(request.user_id, request.date, request.time):
        case store.Booked(booking_id=booking_id):
            record_outcome("BookingCreated")
            return {"booking_id": booking_id}
        case store.SlotFull():
            return refuse(ClientError(messages.SLOT_FULL, outcome="SlotFull"))
        case store.UserNotFound():
            return refuse(ClientError(messages.USER_NOT_FOUND, outcome="UserNotFound"))
        case unanswered:
            assert_never(unanswered)


handler = entrypoint(app)
