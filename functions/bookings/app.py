"""Bookings: make one (once per Idempotency-Key), look it up, cancel it, list a user's.

With sign-in on, each acts for the caller the token names, or, for an admin,
for any user.
"""

import os
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, assert_never

from appointments import messages
from appointments.api import auth, booking_views
from appointments.api.models import BookingRequest, SignedInBookingRequest, parse_body
from appointments.api.web import Response, create_resolver, entrypoint, json_response
from appointments.data import booking_records, store
from appointments.domain import shop
from appointments.errors import ClientError
from appointments.platform.observability import record_outcome

# Read once, at cold start: a malformed setting stops the function from starting.
SCHEDULE = shop.load_schedule(os.environ)
# Off unless JWT_ISSUER is set; then API Gateway has verified each caller's token.
SIGN_IN = auth.load_sign_in(os.environ)

app = create_resolver()

# Also for ids that no booking could have: whether a booking exists is all a client learns.
BOOKING_NOT_FOUND = ClientError(messages.BOOKING_NOT_FOUND, outcome="BookingNotFound", status=404)
KEY_REUSED = ClientError(messages.IDEMPOTENCY_KEY_REUSED, outcome="KeyReused", status=422)


@app.post("/bookings")
def create_booking() -> Any:
    caller = _caller()
    request = _booking_request(caller)
    # The documented order: the time's grid, then the key, then the hours.
    start = shop.start_on_grid(SCHEDULE, request.time.strftime("%H:%M"))
    header = app.request.header("idempotency-key")
    key = booking_views.idempotency_key(header, request)
    try:
        slot = shop.open_slot(SCHEDULE, request.date, start, shop.now())
    except ClientError:
        # A keyed retry whose first answer was lost is owed that answer, even
        # once the slot is too close to book or the hours have changed.
        if key is not None and isinstance(
            earlier := store.replay(request.user_id, key), store.Replayed
        ):
            return _replay(earlier)
        raise
    wanted = store.SlotRequest(
        request.user_id,
        request.date,
        slot.start,
        slot.starts_at,
        slot.ends_at,
        SCHEDULE.capacity,
        # Only a caller booking for themselves becomes a user by booking.
        new_user_name=caller.display_name if caller and caller.user_id == request.user_id else None,
    )
    match store.book(wanted, key):
        case store.KeyReused():
            raise KEY_REUSED
        case store.Replayed() as earlier:
            return _replay(earlier)
        case outcome:
            response, name = _answer(outcome)
            record_outcome(name)
            return response


def _caller() -> auth.Caller | None:
    return auth.caller_of(app.request.event, SIGN_IN)


def _booking_request(caller: auth.Caller | None) -> BookingRequest:
    """The body, for the user the caller may book as (403 for anyone else)."""
    body = app.request.body()
    if caller is None:
        return parse_body(body, BookingRequest)
    request = parse_body(body, SignedInBookingRequest)
    return BookingRequest(auth.acting_for(caller, request.user_id), request.date, request.time)


def _replay(earlier: store.Replayed) -> Response:
    record_outcome("IdempotentReplay")
    return _answer(earlier.original, {"Idempotent-Replayed": "true"})[0]


def _answer(
    outcome: store.BookingOutcome, headers: dict[str, str] | None = None
) -> tuple[Response, str]:
    """The answer to a booking's outcome, and the outcome's name, the same on every replay."""
    match outcome:
        case store.Booked(booking_id=booking_id):
            booked = {"booking_id": booking_id}
            return json_response(HTTPStatus.OK, booked, headers), "BookingCreated"
        case store.SlotFull():
            message, name = messages.SLOT_FULL, "SlotFull"
        case store.UserNotFound():
            message, name = messages.USER_NOT_FOUND, "UserNotFound"
        case unanswered:
            assert_never(unanswered)
    return json_response(HTTPStatus.BAD_REQUEST, {"error": message}, headers), name


@app.get("/bookings/<booking_id>")
def get_booking(booking_id: str) -> Any:
    return booking_views.booking_body(_existing(booking_id, booking_records.find), SCHEDULE.zone)


@app.delete("/bookings/<booking_id>")
def cancel_booking(booking_id: str) -> Any:
    booking = _existing(booking_id, booking_records.cancel)
    record_outcome("BookingCancelled")
    return booking_views.booking_body(booking, SCHEDULE.zone)


@app.get("/bookings")
def list_bookings() -> Any:
    caller = _caller()
    params = dict(app.request.query)
    if caller is not None:
        # Signed in, user_id may be left out: the caller's own.
        params["user_id"] = auth.acting_for(caller, params.get("user_id") or None)
    query = booking_views.list_query(params)
    page = booking_records.list_for_user(query)
    if page is None and caller is not None and query.user_id == caller.user_id:
        # Signed in but not booked yet, so not a user yet: nothing to list.
        page = booking_records.Page([], next_page_after=None)
    if page is None:
        raise ClientError(messages.USER_NOT_FOUND, outcome="UserNotFound")
    return booking_views.page_body(page, SCHEDULE.zone)


def _existing(
    raw_id: str, action: Callable[[str, str | None], booking_records.Booking | None]
) -> booking_records.Booking:
    """The booking, if the caller may see it: a signed-in caller sees only their own."""
    owner = auth.owner_filter(_caller())
    booking_id = booking_views.booking_id_or_none(raw_id)
    booking = action(booking_id, owner) if booking_id else None
    if booking is None:
        raise BOOKING_NOT_FOUND
    return booking


handler = entrypoint(app)
