"""How bookings cross HTTP: the query of a list, the Idempotency-Key header,
the paging cursor, and the JSON a booking is shown as.

Hand-written rather than pydantic models: each is a handful of fields whose
errors must name the parameter in the service's own words, and the checks are
shorter than the models and error translation would be.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, Final

from appointments import messages
from appointments.api.models import BookingRequest, RescheduleRequest, ShopBookingRequest
from appointments.data.booking_records import START, Booking, ListQuery, Page, Position, Status
from appointments.data.default_catalogue import DEFAULT_SHOP_ID
from appointments.data.store import IdempotencyKey
from appointments.domain import schedule
from appointments.domain.catalogue import is_catalogue_id
from appointments.domain.schedule import rfc3339_in, rfc3339_utc
from appointments.domain.shop import zone_named
from appointments.domain.user_ids import is_user_id
from appointments.errors import ClientError

# Booking ids are "booking_" and 22 URL-safe characters, after "<shop_id>."
# for a shop other than the default one; older or hand-made ones may differ,
# so only what no id can be is turned away unasked.
_BOOKING_ID_FORM: Final = re.compile(r"(?:[a-z0-9_-]{1,64}\.)?[A-Za-z0-9_-]{1,64}")

# The IETF draft's key is a Structured Field string ("..."), while most clients
# send the bare value, as Stripe's API takes it: both are accepted, and mean
# the same key; a value that opens with a quote must be a valid string. The
# key itself is 1-255 printable ASCII characters.
_KEY_FORM: Final = re.compile(r"[\x20-\x7e]{1,255}")
_QUOTED_KEY: Final = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')

# RFC 9110's If-Match: "*", or a list of entity tags, strong ("1") or weak
# (W/"1"), empty list elements ignored (an empty list matches nothing). Our
# tags are a booking's version as digits; any other tag, and a weak one
# (If-Match compares strongly), matches no booking. Left as text: re compiles
# them on first use (and caches them), not at every cold start of bookings.
_ENTITY_TAG: Final = r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
_ENTITY_TAG_LIST: Final = (
    rf"(?:[ \t]*,)*[ \t]*(?:{_ENTITY_TAG}(?:[ \t]*,(?:[ \t]*{_ENTITY_TAG})?)*[ \t]*)?"
)
_VERSION_TAG: Final = r"[1-9][0-9]{0,8}"

STATUS_FILTERS: Final[dict[str, tuple[Status, ...]]] = {
    "confirmed": ("confirmed",),
    "cancelled": ("cancelled",),
    "all": ("confirmed", "cancelled"),
}
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 100
_LIMIT_FORM: Final = re.compile(r"[0-9]{1,3}")
# Exactly what encode_cursor writes: the looser ISO forms fromisoformat also
# takes (week dates, time zones) would compare differently in SQL.
_CURSOR_FORM: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})\|([0-9]{2}:[0-9]{2}:[0-9]{2})\|([A-Za-z0-9_-]{1,64})"
)


def booking_id_or_none(raw: str) -> str | None:
    """The path's booking id if it could be one; None means no booking has it."""
    return raw if _BOOKING_ID_FORM.fullmatch(raw) else None


def idempotency_key(
    header: str | None, request: BookingRequest | ShopBookingRequest, shop_id: str = ""
) -> IdempotencyKey | None:
    """The request's Idempotency-Key, if it sent one, with the request's fingerprint
    (a booking of another shop's service: with its shop)."""
    key = _key_of(header)
    if key is None:
        return None
    if isinstance(request, ShopBookingRequest):
        return IdempotencyKey(key, shop_request_fingerprint(shop_id, request))
    return IdempotencyKey(key, request_fingerprint(request))


def move_key(
    header: str | None,
    booking_id: str,
    request: RescheduleRequest,
    versions: list[int] | None,
) -> IdempotencyKey | None:
    """A move's Idempotency-Key: the same move is the same booking, start, resource
    and If-Match; never equal to a booking's fingerprint."""
    key = _key_of(header)
    if key is None:
        return None
    asked = (
        f"reschedule\n{booking_id}\n{request.date.isoformat()}\n{request.time.isoformat()}\n"
        f"{request.resource_id or ''}\n{sorted(set(versions)) if versions is not None else '*'}"
    )
    return IdempotencyKey(key, _sha256(asked))


def confirmation_key(header: str | None, hold_id: str) -> IdempotencyKey | None:
    """A hold's confirmation's Idempotency-Key: the same confirmation is the same hold."""
    key = _key_of(header)
    return None if key is None else IdempotencyKey(key, _sha256(f"confirm\n{hold_id}"))


def _key_of(header: str | None) -> str | None:
    """The key an Idempotency-Key header carries, bare or as a quoted string; None: no
    header. Anything else is a 400."""
    if header is None:
        return None
    header = header.strip(" \t")  # HTTP's optional whitespace around a value
    key: str | None = header
    if header.startswith('"'):  # a Structured Field string, or nothing valid
        quoted = _QUOTED_KEY.fullmatch(header)
        key = re.sub(r"\\(.)", r"\1", quoted[1]) if quoted else None
    if key is None or not _KEY_FORM.fullmatch(key):
        raise ClientError(messages.INVALID_IDEMPOTENCY_KEY, outcome="InvalidIdempotencyKey")
    return key


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def expected_versions(header: str | None) -> list[int] | None:
    """The versions an If-Match header allows a change at; None: any (no header, or "*")."""
    if header is None or header.strip(" \t") == "*":
        return None
    if not re.fullmatch(_ENTITY_TAG_LIST, header):
        raise ClientError(messages.INVALID_IF_MATCH, outcome="InvalidIfMatch")
    versions = []
    for weak, opaque in re.findall(_ENTITY_TAG, header):
        if not weak and re.fullmatch(_VERSION_TAG, opaque):
            versions.append(int(opaque))
    return versions


def entity_tag(booking: Booking) -> dict[str, str]:
    """The ETag header of a booking: its version, as a strong entity tag."""
    return {"ETag": f'"{booking.version}"'}


def request_fingerprint(request: BookingRequest) -> str:
    """Equal for requests that ask for the same thing, however their JSON was written.

    Spelled out field by field, so that it stays the same across releases
    (a new optional field, another pydantic) for the 24 hours a key lives.
    """
    asked = f"{request.user_id}\n{request.date.isoformat()}\n{request.time.isoformat()}"
    return hashlib.sha256(asked.encode("utf-8", "surrogatepass")).hexdigest()


def shop_request_fingerprint(shop_id: str, request: ShopBookingRequest) -> str:
    """As request_fingerprint, for a shop's service; never equal to a fingerprint of
    the default shop's route (six lines, not three): a key reused across them is refused."""
    asked = (
        f"{shop_id}\n{request.service_id}\n{request.resource_id or ''}\n"
        f"{request.user_id}\n{request.date.isoformat()}\n{request.time.isoformat()}"
    )
    return hashlib.sha256(asked.encode("utf-8", "surrogatepass")).hexdigest()


def list_query(params: Mapping[str, str]) -> ListQuery:
    """The query of GET /bookings, checked parameter by parameter."""
    user_id = params.get("user_id")
    if not user_id:
        raise ClientError(messages.USER_ID_REQUIRED)
    if not is_user_id(user_id):
        raise ClientError(messages.INVALID_USER_ID)
    first_day = _date_parameter(params, "from", date.min)
    last_day = _date_parameter(params, "to", date.max)
    if last_day < first_day:
        raise ClientError(messages.DATE_RANGE_REVERSED)
    statuses = STATUS_FILTERS.get(params.get("status", "confirmed"))
    if statuses is None:
        raise ClientError(messages.INVALID_STATUS_FILTER)
    limit = _limit(params.get("limit"))
    cursor = params.get("cursor")
    after = decode_cursor(cursor) if cursor is not None else START
    shop_id = params.get("shop_id")
    if shop_id is not None and not is_catalogue_id(shop_id):
        raise ClientError(messages.INVALID_SHOP_ID)
    return ListQuery(user_id, statuses, first_day, last_day, after, limit, shop_id)


def _date_parameter(params: Mapping[str, str], name: str, default: date) -> date:
    text = params.get(name)
    if text is None:
        return default
    try:
        return schedule.parse_date(text)
    except ClientError:
        raise ClientError(messages.invalid_date_parameter(name)) from None


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not _LIMIT_FORM.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise ClientError(messages.INVALID_LIMIT)
    return int(text)


def encode_cursor(position: Position) -> str:
    """Opaque to clients; in fact the position, so a page needs no server-side state."""
    text = f"{position.day.isoformat()}|{position.start.isoformat()}|{position.booking_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position encode_cursor wrote, and nothing else it could be read as."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        form = _CURSOR_FORM.fullmatch(text)
        if form is None:
            raise ValueError(text)
        day, start, booking_id = form.groups()
        return Position(date.fromisoformat(day), time.fromisoformat(start), booking_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ClientError(messages.INVALID_CURSOR) from None


def booking_body(booking: Booking, default_zone: tzinfo) -> dict[str, Any]:
    """A booking as the API shows it; its interval with its shop's offset.

    The default shop's bookings as the first version showed them, in the
    schedule's zone (`default_zone`), their version in the ETag alone; another
    shop's also name the shop, the service, the resource and the version, in
    that shop's zone.
    """
    if booking.shop_id == DEFAULT_SHOP_ID:
        zone = default_zone
    else:
        zone = zone_named(booking.shop_time_zone) if booking.shop_time_zone else UTC
    body: dict[str, Any] = {
        "booking_id": booking.booking_id,
        "user_id": booking.user_id,
        "date": booking.day.isoformat(),
        "time": booking.start.strftime("%H:%M"),
        "starts_at": rfc3339_in(booking.starts_at, zone),
        "ends_at": rfc3339_in(booking.ends_at, zone),
        "status": booking.status,
        "created_at": rfc3339_utc(booking.created_at),
        "cancelled_at": rfc3339_utc(booking.cancelled_at) if booking.cancelled_at else None,
    }
    in_default_shop = booking.shop_id == DEFAULT_SHOP_ID
    if not in_default_shop:
        body |= {
            "shop_id": booking.shop_id,
            "service_id": booking.service_id,
            "resource_id": booking.resource_id,
            "version": booking.version,
        }
    if booking.moved_from:
        body["moved_from"] = [
            _move_shown(move, zone, in_default_shop) for move in booking.moved_from
        ]
    return body


def _move_shown(move: dict[str, Any], zone: tzinfo, in_default_shop: bool) -> dict[str, Any]:
    """One entry of a booking's moved_from, as the booking's own times are shown."""
    shown = {
        "date": move["date"],
        "time": move["time"],
        "starts_at": rfc3339_in(datetime.fromisoformat(move["starts_at"]), zone),
        "ends_at": rfc3339_in(datetime.fromisoformat(move["ends_at"]), zone),
        "resource_id": move["resource_id"],
        "version": move["version"],
        "moved_at": rfc3339_utc(datetime.fromisoformat(move["moved_at"])),
        "moved_by": move["moved_by"],
    }
    if in_default_shop:
        del shown["resource_id"]  # its bays are not shown
    return shown


def page_body(page: Page, default_zone: tzinfo) -> dict[str, Any]:
    after = page.next_page_after
    return {
        "bookings": [booking_body(booking, default_zone) for booking in page.bookings],
        "next_cursor": encode_cursor(after) if after else None,
    }
