"""Error strings sent to clients.

The first group is fixed by the HTTP contract inherited from the original
service; clients match on them, so they never change. The rest are ours.
"""

# Contract strings.
INVALID_DATE = "Invalid date format"
SLOT_FULL = "Slot full"
SHOP_CLOSED = "Shop closed"
USER_NOT_FOUND = "User not found"

# Our own, for cases the contract leaves open.
INVALID_TIME = "Invalid time format"
TIME_NOT_ON_THE_HOUR = "Time must be on the hour"
INVALID_JSON = "Request body must be valid JSON"
BODY_NOT_OBJECT = "Request body must be a JSON object"
BODY_TOO_LARGE = "Request body too large"
NOT_FOUND = "Not found"
SERVICE_UNAVAILABLE = "Service unavailable"
INTERNAL_ERROR = "Internal server error"
BOOKING_NOT_FOUND = "Booking not found"
BOOKING_CHANGED = "Booking changed"
BOOKING_CANCELLED = "Booking cancelled"
HOLD_NOT_FOUND = "Hold not found"
HOLD_EXPIRED = "Hold expired"
HOLD_RELEASED = "Hold released"
HOLD_CONFIRMED = "Hold already confirmed"
TOO_MANY_HOLDS = "Too many holds"
TOO_LATE_TO_CHANGE = "Too late to change this booking"
INVALID_IF_MATCH = 'Invalid If-Match: send "*" or the ETag of the booking, e.g. "1"'
SHOP_NOT_FOUND = "Shop not found"
SERVICE_NOT_FOUND = "Service not found"
RESOURCE_NOT_FOUND = "Resource not found"
WEBHOOK_NOT_FOUND = "Webhook not found"
SERVICE_ID_REQUIRED = "service_id is required"
RESOURCE_CANNOT_PERFORM_SERVICE = "resource_id names a resource that does not perform this service"
ANSWER_TOO_LONG = "The answer would be too long: ask for fewer days, or one resource_id"
DEFAULT_SHOP_IS_CONFIGURED = (
    "The default shop is configured by the template's parameters (ShopTimeZone, OpeningHours,"
    " ClosedDates, SlotMinutes, Capacity, MinimumNoticeMinutes, BookingHorizonDays):"
    " change those and deploy"
)


def unknown_resources(resource_ids: list[str]) -> str:
    return f"resource_ids: not resources of this shop: {', '.join(resource_ids)}"


def still_booked(kind: str, future_bookings: int) -> str:
    bookings = "booking or live hold" if future_bookings == 1 else "bookings or live holds"
    return (
        f"The {kind} has {future_bookings} confirmed {bookings} still to come:"
        " cancel them first (past bookings keep their history)"
    )


INVALID_IDEMPOTENCY_KEY = "Invalid Idempotency-Key"
IDEMPOTENCY_KEY_REUSED = "Idempotency-Key reused with a different request"
USER_ID_REQUIRED = "user_id is required"
INVALID_USER_ID = "user_id must be 1 to 128 printable characters"
INVALID_STATUS_FILTER = "status must be confirmed, cancelled or all"
INVALID_LIMIT = "limit must be a whole number from 1 to 100"
INVALID_CURSOR = "cursor is not valid: pass the next_cursor of the previous page"
INVALID_SHOP_ID = "shop_id must be 1 to 64 characters of a-z, 0-9, - and _"
DATE_RANGE_REVERSED = "to must not be before from"

# Sign-in and administration (appointments.api.auth, the users function).
FORBIDDEN = "Forbidden"
UNAUTHORIZED = "Unauthorized"
INVALID_NAME = "name must be 1 to 200 printable characters"


def invalid_date_parameter(name: str) -> str:
    return f"{name} must be a date written YYYY-MM-DD"


# The shop's configured rules (appointments.domain.shop).
TOO_LATE = "Too late to book this slot"
TOO_FAR_AHEAD = "Too far in advance"


def not_a_slot_start(slot_minutes: int) -> str:
    """Off the slot grid, when the grid is not simply "on the hour"."""
    return (
        f"Time must be a slot start: slots are {slot_minutes} minutes long, from each opening time"
    )


def not_a_service_start(step_minutes: int) -> str:
    """Off a service's grid, when its starts step by other than its length."""
    return (
        f"Time must be a start of this service: every {step_minutes} minutes from each opening time"
    )


RANGE_TOO_LONG = "from and to must be at most 31 days apart, both included"
