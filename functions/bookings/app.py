"""Bookings: make one (once per Idempotency-Key), of the default shop or of any
shop's service, look it up, cancel it, list a user's.

With sign-in on, each acts for the caller the token names, or, for an admin,
for any user.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar, assert_never

from appointments import messages
from appointments.api import auth, booking_views, catalogue_views
from appointments.api.catalogue_views import SHOP_NOT_FOUND
from appointments.api.models import (
    BookingRequest,
    RescheduleRequest,
    ShopBookingRequest,
    SignedInBookingRequest,
    parse_body,
)
from appointments.api.web import (
    Response,
    TextResponse,
    create_resolver,
    entrypoint,
    json_response,
)
from appointments.data import booking_records, store
from appointments.data.default_catalogue import DEFAULT_SHOP_ID, default_bay_ids
from appointments.domain import shop
from appointments.domain.catalogue import is_catalogue_id
from appointments.domain.user_ids import is_user_id
from appointments.errors import ClientError, DatabaseUnavailable
from appointments.platform.observability import record_outcome

_Taken = TypeVar("_Taken")

if TYPE_CHECKING:  # imported by the routes that use them (see _wanted_at_shop, get_hold)
    from appointments.data import hold_records, service_calendars
    from appointments.domain import service_availability

# Read once, at cold start: a malformed setting stops the function from starting.
SCHEDULE = shop.load_schedule(os.environ)
# Off unless JWT_ISSUER is set; then API Gateway has verified each caller's token.
SIGN_IN = auth.load_sign_in(os.environ)
# ChangeNoticeMinutes: the default shop's change cut-off (None: none).
CHANGE_NOTICE_MINUTES = shop.optional_whole_number_setting(
    os.environ, "CHANGE_NOTICE_MINUTES", 0, 999_999
)
# HoldSeconds and HoldLimit (template.yaml).
HOLD_TERMS = store.HoldTerms(
    seconds=shop.whole_number_setting(os.environ, "HOLD_SECONDS", 1, 3600, 300),
    limit=shop.whole_number_setting(os.environ, "HOLD_LIMIT", 1, 100, 3),
)

app = create_resolver()

# Also for ids that no booking could have: whether a booking exists is all a client learns.
BOOKING_NOT_FOUND = ClientError(messages.BOOKING_NOT_FOUND, outcome="BookingNotFound", status=404)
# An If-Match naming none of the booking's versions: nothing was done.
BOOKING_CHANGED = ClientError(messages.BOOKING_CHANGED, outcome="BookingChanged", status=412)
BOOKING_CANCELLED = ClientError(
    messages.BOOKING_CANCELLED, outcome="BookingCancelledNotMoved", status=409
)
KEY_REUSED = ClientError(messages.IDEMPOTENCY_KEY_REUSED, outcome="KeyReused", status=422)
TOO_LATE_TO_CHANGE = ClientError(messages.TOO_LATE_TO_CHANGE, outcome="TooLateToChange")
# A calendar feed asked for without its user's valid token: as if there were none.
CALENDAR_NOT_FOUND = ClientError(messages.NOT_FOUND, outcome="CalendarNotFound", status=404)
HOLD_NOT_FOUND = ClientError(messages.HOLD_NOT_FOUND, outcome="HoldNotFound", status=404)
TOO_MANY_HOLDS = ClientError(messages.TOO_MANY_HOLDS, outcome="TooManyHolds", status=409)
# What a hold that is no longer live answers when asked to become a booking.
HOLD_NOT_LIVE = {
    "expired": ClientError(messages.HOLD_EXPIRED, outcome="HoldExpired", status=409),
    "released": ClientError(messages.HOLD_RELEASED, outcome="HoldReleased", status=409),
}
HOLD_CONFIRMED = ClientError(messages.HOLD_CONFIRMED, outcome="HoldConfirmed", status=409)
# A booking of a shop's service met a change of its catalogue this many times
# more, each read afresh: then the request gives up (503).
_MAX_CATALOGUE_CHANGES = 3


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
            earlier := store.replay(DEFAULT_SHOP_ID, request.user_id, key), store.Replayed
        ):
            return _replay(earlier)
        raise
    outcome = store.book(_in_default_shop(request, slot, caller), key)
    # The default shop's bookings name no catalogue version: none is told it changed.
    assert not isinstance(outcome, store.CatalogueChanged)
    return _booked_answer(outcome)


def _in_default_shop(
    request: BookingRequest, slot: shop.Slot, caller: auth.Caller | None
) -> store.SlotRequest:
    """What to ask the database for: one of the schedule's bays for the slot."""
    return store.SlotRequest(
        request.user_id,
        request.date,
        slot.start,
        slot.starts_at,
        slot.ends_at,
        SCHEDULE.capacity,
        # Only a caller booking for themselves becomes a user by booking.
        new_user_name=caller.display_name if caller and caller.user_id == request.user_id else None,
    )


@app.post("/shops/<shop_id>/bookings")
def create_shop_booking(shop_id: str) -> Any:
    shop_id = _shop_id_of_path()
    caller = _caller()
    request = _shop_booking_request(caller)
    header = app.request.header("idempotency-key")
    key = booking_views.idempotency_key(header, request, shop_id)
    assert request.user_id is not None  # _shop_booking_request settled whom it is for
    try:
        _, outcome = _at_shop(shop_id, request, caller, lambda wanted: store.book(wanted, key))
        assert not isinstance(outcome, store.CatalogueChanged)  # _at_shop retried it
    except ClientError:
        if key is not None and isinstance(
            earlier := store.replay(shop_id, request.user_id, key), store.Replayed
        ):
            return _replay(earlier)
        raise
    return _booked_answer(outcome)


def _at_shop(
    shop_id: str,
    request: ShopBookingRequest,
    caller: auth.Caller | None,
    take: Callable[[store.SlotRequest], _Taken],
) -> tuple[store.SlotRequest, _Taken]:
    """Take (book or hold) what the request asks of the shop: decided on the day this
    container read before, and again on a fresh read each time the catalogue changed
    under it. What was asked, and what came of it: never CatalogueChanged."""
    wanted = _with_name(_wanted_at_shop(shop_id, request, fresh=False), caller)
    outcome = take(wanted)
    for _ in range(_MAX_CATALOGUE_CHANGES):
        if not isinstance(outcome, store.CatalogueChanged):
            return wanted, outcome
        wanted = _with_name(_wanted_at_shop(shop_id, request, fresh=True), caller)
        outcome = take(wanted)
    if isinstance(outcome, store.CatalogueChanged):
        raise DatabaseUnavailable("the shop's catalogue kept changing under this request")
    return wanted, outcome


def _shop_id_of_path() -> str:
    """The shop id as API Gateway decoded it: the router's argument is still percent-encoded."""
    shop_id = str(app.request.path_parameters.get("shop_id", ""))
    if not is_catalogue_id(shop_id):
        raise SHOP_NOT_FOUND
    return shop_id


def _wanted_at_shop(shop_id: str, request: ShopBookingRequest, *, fresh: bool) -> store.SlotRequest:
    """What to ask the database for: the resources free at the start the request names,
    in id order, for the block its service keeps them busy over.

    Decided on the day this container read before, unless `fresh`; a refusal
    on such a read is decided again on a fresh one, and a booking made from it
    is checked against the catalogue's version by its own statement.
    """
    # Imported here: a shop's calendar is ~4 ms of modules that the default
    # shop's bookings never use at a cold start.
    from appointments.data import service_calendars
    from appointments.domain import service_availability

    service_id, resource_id = request.service_id, request.resource_id
    while True:
        calendar, read_now = service_calendars.find_service_day(
            shop_id,
            # An id no service or resource could have is looked up as one none has.
            service_id if is_catalogue_id(service_id) else "",
            None if resource_id is None else resource_id if is_catalogue_id(resource_id) else "",
            request.date,
            fresh=fresh,
        )
        try:
            service = catalogue_views.service_of(calendar, resource_id)
            assert calendar is not None  # service_of answered a missing shop
            offered = service_availability.bookable_start(
                calendar, service, request.date, request.time.strftime("%H:%M"), shop.now()
            )
            if not offered.free_resource_ids:  # all of them on time off
                raise ClientError(messages.SLOT_FULL, outcome="SlotFull")
        except ClientError:
            if read_now:
                raise
            fresh = True  # decided on a kept day: decided again on a fresh read
            continue
        return _slot_request(shop_id, request, calendar, service, offered)


def _slot_request(
    shop_id: str,
    request: ShopBookingRequest,
    calendar: service_calendars.ServiceCalendar,
    service: service_calendars.ServiceTimes,
    offered: service_availability.OfferedStart,
) -> store.SlotRequest:
    """The offered start's resources, in id order, over the block its buffers widen it to."""
    assert request.user_id is not None  # _shop_booking_request settled whom it is for
    slot = offered.slot
    return store.SlotRequest(
        request.user_id,
        request.date,
        slot.start,
        slot.starts_at,
        slot.ends_at,
        capacity=0,
        shop_id=shop_id,
        service_id=request.service_id,
        resource_ids=offered.free_resource_ids,
        block=(
            slot.starts_at - timedelta(minutes=service.buffer_before_minutes),
            slot.ends_at + timedelta(minutes=service.buffer_after_minutes),
        ),
        catalogue_version=calendar.shop.catalogue_version,
    )


def _with_name(wanted: store.SlotRequest, caller: auth.Caller | None) -> store.SlotRequest:
    """Only a caller booking for themselves becomes a user by booking."""
    if caller is None or caller.user_id != wanted.user_id:
        return wanted
    return dataclasses.replace(wanted, new_user_name=caller.display_name)


def _shop_booking_request(caller: auth.Caller | None) -> ShopBookingRequest:
    """The body, for the user the caller may book as (403 for anyone else)."""
    request = parse_body(app.request.body(), ShopBookingRequest)
    if caller is None:
        if request.user_id is None:
            raise ClientError("user_id: Field required")
        return request
    request.user_id = auth.acting_for(caller, request.user_id)
    return request


def _caller() -> auth.Caller | None:
    return auth.caller_of(app.request.event, SIGN_IN)


def _booking_request(caller: auth.Caller | None) -> BookingRequest:
    """The body, for the user the caller may book as (403 for anyone else)."""
    body = app.request.body()
    if caller is None:
        return parse_body(body, BookingRequest)
    request = parse_body(body, SignedInBookingRequest)
    return BookingRequest(auth.acting_for(caller, request.user_id), request.date, request.time)


def _booked_answer(outcome: store.BookingOutcome | store.Replayed | store.KeyReused) -> Response:
    """The answer to what booking came to, as both booking routes give it."""
    match outcome:
        case store.KeyReused():
            raise KEY_REUSED
        case store.Replayed() as earlier:
            return _replay(earlier)
        case _:
            response, name = _answer(outcome)
            record_outcome(name)
            return response


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
    return _shown(_existing(booking_id, booking_records.find))


@app.get("/bookings/<booking_id>/calendar.ics")
def get_booking_calendar(booking_id: str) -> Any:
    """The booking as a calendar file: whoever may GET it may have it."""
    from appointments.api import calendar_views

    booking = _existing(booking_id, booking_records.find)
    text = calendar_views.booking_calendar(booking, SCHEDULE.zone)
    return _calendar_file(text)


@app.get("/users/<user_id>/calendar.ics")
def get_user_calendar(user_id: str) -> Any:
    """A user's calendar feed, for a calendar app to subscribe to: no sign-in, the token
    in the URL (users' PUT /users/{id}/calendar-token); 404 without a valid one."""
    from appointments.api import calendar_views

    user_id = str(app.request.path_parameters.get("user_id", user_id))  # decoded
    token = app.request.query.get("token")
    bookings = None
    if token and is_user_id(user_id):
        today = shop.now().astimezone(SCHEDULE.zone).date()
        bookings = booking_records.calendar_feed(
            user_id, calendar_views.feed_token_hash(token), today
        )
    if bookings is None:
        raise CALENDAR_NOT_FOUND
    return _calendar_file(calendar_views.feed_calendar(user_id, bookings, SCHEDULE.zone))


def _calendar_file(text: str) -> Response:
    from appointments.api.calendar_views import CONTENT_TYPE

    record_outcome("CalendarServed")
    headers = {"Content-Type": CONTENT_TYPE, "Cache-Control": "private, max-age=300"}
    return TextResponse(HTTPStatus.OK, {}, headers, text=text)


@app.delete("/bookings/<booking_id>")
def cancel_booking(booking_id: str) -> Any:
    booking_id, owner = _booking_and_owner(booking_id)
    versions = booking_views.expected_versions(app.request.header("if-match"))
    cut_off = _cut_off(booking_id, _caller())
    cancelled = booking_records.cancel(booking_id, owner, versions, cut_off)
    if cancelled is None:
        raise BOOKING_NOT_FOUND
    if isinstance(cancelled, booking_records.Changed):
        raise BOOKING_CHANGED
    if isinstance(cancelled, booking_records.TooLate):
        raise TOO_LATE_TO_CHANGE
    record_outcome("BookingCancelled")
    return _shown(cancelled)


@app.post("/bookings/<booking_id>/reschedule")
def reschedule_booking(booking_id: str) -> Any:
    booking_id, owner = _booking_and_owner(booking_id)
    versions = booking_views.expected_versions(app.request.header("if-match"))
    request = parse_body(app.request.body(), RescheduleRequest)
    header = app.request.header("idempotency-key")
    key = booking_views.move_key(header, booking_id, request, versions)
    caller = _caller()
    moved_by = caller.user_id if caller else None
    cut_off = _cut_off(booking_id, caller)
    shop_id = booking_records.booking_shop(booking_id)
    try:
        if shop_id == DEFAULT_SHOP_ID:
            to = _move_in_default_shop(request)
            moved = booking_records.move(booking_id, owner, versions, to, moved_by, cut_off, key)
        else:
            moved = _move_in_shop(
                shop_id, booking_id, owner, versions, request, moved_by, cut_off, key
            )
    except ClientError:
        # A keyed retry whose first answer was lost is owed that answer, even
        # once the time it asked for can no longer be asked for.
        if key is not None and isinstance(
            earlier := booking_records.recorded_move(booking_id, owner, key),
            booking_records.ReplayedMove,
        ):
            return _moved_answer(earlier.outcome, earlier.booking, replayed=True)
        raise
    match moved:
        case None:
            raise BOOKING_NOT_FOUND
        case store.KeyReused():
            raise KEY_REUSED
        case booking_records.ReplayedMove(outcome, booking):
            return _moved_answer(outcome, booking, replayed=True)
        case ("catalogue_changed", _):
            raise DatabaseUnavailable("the shop's catalogue kept changing under this move")
        case (outcome, booking):
            return _moved_answer(outcome, booking)


# What a move that did not move answers, by its outcome.
MOVE_REFUSALS = {
    "cancelled": BOOKING_CANCELLED,
    "changed": BOOKING_CHANGED,
    "slot_full": ClientError(messages.SLOT_FULL, outcome="SlotFull"),
    "too_late": TOO_LATE_TO_CHANGE,
}


def _moved_answer(
    outcome: booking_records.MoveOutcome,
    booking: booking_records.Booking,
    *,
    replayed: bool = False,
) -> Response:
    """The answer to a move's outcome; a replay's carries Idempotent-Replayed."""
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if replayed:
        record_outcome("IdempotentReplay")
    if outcome == "moved":
        if not replayed:
            record_outcome("BookingMoved")
        body = booking_views.booking_body(booking, SCHEDULE.zone)
        return json_response(HTTPStatus.OK, body, {**booking_views.entity_tag(booking), **headers})
    return _refused(MOVE_REFUSALS[outcome], headers)


def _refused(refusal: ClientError, headers: dict[str, str]) -> Response:
    """A refusal: raised as ever, or answered with a replay's headers."""
    if not headers:
        raise refusal
    return json_response(HTTPStatus(refusal.status), {"error": refusal.message}, headers)


def _move_in_default_shop(request: RescheduleRequest) -> booking_records.Move:
    """Where to: a slot of the schedule, checked as POST /bookings checks it, on its bays."""
    start = shop.start_on_grid(SCHEDULE, request.time.strftime("%H:%M"))
    now = shop.now()
    slot = shop.open_slot(SCHEDULE, request.date, start, now)
    _refuse_the_past(slot.starts_at, now)
    bays = tuple(default_bay_ids(SCHEDULE.capacity))
    if request.resource_id is not None and request.resource_id not in bays:
        raise ClientError(messages.RESOURCE_NOT_FOUND, outcome="ResourceNotFound", status=404)
    resource_ids = bays if request.resource_id is None else (request.resource_id,)
    interval = (slot.starts_at, slot.ends_at)
    return booking_records.Move(request.date, slot.start, *interval, resource_ids, interval)


def _move_in_shop(
    shop_id: str,
    booking_id: str,
    owner: str | None,
    versions: list[int] | None,
    request: RescheduleRequest,
    moved_by: str | None,
    cut_off: booking_records.CutOff,
    key: store.IdempotencyKey | None,
) -> booking_records.MoveAnswer:
    """A move within a shop: the booking read first, for its service (a second round
    trip), then the start checked as a booking of that service checks it."""
    booking = booking_records.find(booking_id, owner)
    if booking is None:
        return None
    if booking.status == "cancelled":  # before its time is checked: its shop may be gone
        raise BOOKING_CANCELLED
    asked = ShopBookingRequest(
        booking.user_id, booking.service_id, request.date, request.time, request.resource_id
    )
    for fresh in (False, *[True] * _MAX_CATALOGUE_CHANGES):
        wanted = _wanted_at_shop(shop_id, asked, fresh=fresh)
        _refuse_the_past(wanted.starts_at, shop.now())
        assert wanted.resource_ids is not None and wanted.block is not None
        to = booking_records.Move(
            wanted.day,
            wanted.start,
            wanted.starts_at,
            wanted.ends_at,
            wanted.resource_ids,
            wanted.block,
            wanted.catalogue_version,
        )
        moved = booking_records.move(booking_id, owner, versions, to, moved_by, cut_off, key)
        if not isinstance(moved, tuple) or moved[0] != "catalogue_changed":
            return moved
    return moved


def _cut_off(booking_id: str, caller: auth.Caller | None) -> booking_records.CutOff:
    """How close to its start the caller may still change the booking: the template's
    cut-off for the default shop's, the shop's own for another's; none for an admin."""
    in_default_shop = booking_records.booking_shop(booking_id) == DEFAULT_SHOP_ID
    return booking_records.CutOff(
        change_notice_minutes=CHANGE_NOTICE_MINUTES if in_default_shop else None,
        exempt=caller is not None and caller.is_admin,
    )


def _refuse_the_past(starts_at: datetime, now: datetime) -> None:
    """A move is never into the past, whatever the notice (a booking is, with none)."""
    if starts_at <= now:
        raise ClientError(messages.TOO_LATE, outcome="TooLate")


def _shown(booking: booking_records.Booking) -> Response:
    """A booking as the API shows it, with its version as the ETag."""
    body = booking_views.booking_body(booking, SCHEDULE.zone)
    return json_response(HTTPStatus.OK, body, booking_views.entity_tag(booking))


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
    booking = action(*_booking_and_owner(raw_id))
    if booking is None:
        raise BOOKING_NOT_FOUND
    return booking


def _booking_and_owner(raw_id: str) -> tuple[str, str | None]:
    """The booking id, and whose bookings the caller may see (None: anyone's).

    An id no booking could have is not found, as one no booking has.
    """
    owner = auth.owner_filter(_caller())
    booking_id = booking_views.booking_id_or_none(raw_id)
    if booking_id is None:
        raise BOOKING_NOT_FOUND
    return booking_id, owner


@app.post("/holds")
def create_hold() -> Any:
    caller = _caller()
    request = _booking_request(caller)
    start = shop.start_on_grid(SCHEDULE, request.time.strftime("%H:%M"))
    slot = shop.open_slot(SCHEDULE, request.date, start, shop.now())
    wanted = _in_default_shop(request, slot, caller)
    outcome = store.hold(wanted, HOLD_TERMS)
    assert not isinstance(outcome, store.CatalogueChanged)  # as for its bookings
    return _held_answer(wanted, outcome)


@app.post("/shops/<shop_id>/holds")
def create_shop_hold(shop_id: str) -> Any:
    shop_id = _shop_id_of_path()
    caller = _caller()
    request = _shop_booking_request(caller)
    wanted, outcome = _at_shop(
        shop_id, request, caller, lambda wanted: store.hold(wanted, HOLD_TERMS)
    )
    assert not isinstance(outcome, store.CatalogueChanged)  # _at_shop retried it
    return _held_answer(wanted, outcome)


def _held_answer(wanted: store.SlotRequest, outcome: store.HoldOutcome) -> Response:
    from appointments.api import hold_views

    match outcome:
        case store.Held() as held:
            record_outcome("HoldCreated")
            return json_response(HTTPStatus.CREATED, hold_views.held_body(wanted, held))
        case store.TooManyHolds():
            raise TOO_MANY_HOLDS
        case store.SlotFull():
            raise ClientError(messages.SLOT_FULL, outcome="SlotFull")
        case store.UserNotFound():
            raise ClientError(messages.USER_NOT_FOUND, outcome="UserNotFound")
        case unanswered:
            assert_never(unanswered)


@app.get("/holds/<hold_id>")
def get_hold(hold_id: str) -> Any:
    # The hold routes' modules are theirs: a booking's cold start never pays for them.
    from appointments.data import hold_records

    return _hold_shown(_existing_hold(hold_id, hold_records.find))


@app.post("/holds/<hold_id>/confirm")
def confirm_hold(hold_id: str) -> Any:
    from appointments.data import hold_records

    checked_id = booking_views.booking_id_or_none(hold_id)  # a hold's id is its booking's
    if checked_id is None:
        raise HOLD_NOT_FOUND
    key = booking_views.confirmation_key(app.request.header("idempotency-key"), checked_id)
    headers: dict[str, str] = {}
    match hold_records.confirm(checked_id, auth.owner_filter(_caller()), key):
        case None:
            raise HOLD_NOT_FOUND
        case store.KeyReused():
            raise KEY_REUSED
        case hold_records.ReplayedConfirmation(state=state):
            record_outcome("IdempotentReplay")
            headers = {"Idempotent-Replayed": "true"}
        case hold_records.Hold(state=state):
            pass
        case unanswered:
            assert_never(unanswered)
    if state != "confirmed":
        return _refused(HOLD_NOT_LIVE[state], headers)
    if not headers:
        record_outcome("HoldConfirmed")
    return json_response(HTTPStatus.OK, {"booking_id": checked_id}, headers)


@app.delete("/holds/<hold_id>")
def release_hold(hold_id: str) -> Any:
    from appointments.data import hold_records

    hold = _existing_hold(hold_id, hold_records.release)
    if hold.state == "confirmed":
        raise HOLD_CONFIRMED
    record_outcome("HoldReleased")
    return _hold_shown(hold)


def _existing_hold(
    raw_id: str, action: Callable[[str, str | None], hold_records.Hold | None]
) -> hold_records.Hold:
    """The hold, if the caller may see it: a signed-in caller sees only their own."""
    hold_id = booking_views.booking_id_or_none(raw_id)  # a hold's id is its booking's
    hold = action(hold_id, auth.owner_filter(_caller())) if hold_id else None
    if hold is None:
        raise HOLD_NOT_FOUND
    return hold


def _hold_shown(hold: hold_records.Hold) -> Response:
    from appointments.api import hold_views

    return json_response(HTTPStatus.OK, hold_views.hold_body(hold, SCHEDULE.zone))


handler = entrypoint(app)
