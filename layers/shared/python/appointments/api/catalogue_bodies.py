"""The bodies of the catalogue's administration routes, checked field by field,
each into the record data/catalogue_changes.py writes.

Each PUT carries the whole thing it creates or replaces. Fields are checked in
the order they are listed here, and the first one wrong is the one reported,
named: "duration_minutes: must be a whole number from 5 to 1440". Fields
other than these are ignored, as in the other bodies (api/models.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Final, TypeVar

from appointments.data.catalogue_changes import Resource, Service, Shop, TimeOff
from appointments.domain import schedule, shop
from appointments.domain.catalogue import is_catalogue_id
from appointments.domain.user_ids import MAX_NAME_CHARS
from appointments.errors import ClientError, ConfigurationError

# A resource's time off, and a service's resources: enough for any real
# calendar, and a bound on what one request writes.
MAX_TIME_OFF: Final = 200
MAX_RESOURCES: Final = 200
# A resource's whole time off fits: 200 periods of ~110 bytes.
MAX_BODY_BYTES: Final = 32 * 1024
# Time off is a matter of this era: the bounds keep every instant, in any
# zone and widened by any buffer, inside what Python and PostgreSQL both hold.
EARLIEST_INSTANT: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT: Final = datetime(9000, 1, 1, tzinfo=UTC)
# The template's own bounds for the default shop (shop.load_schedule).
MAX_NOTICE_MINUTES: Final = 999_999
MAX_HORIZON_DAYS: Final = 99_999
MAX_HOLD_SECONDS: Final = 3600

# RFC 3339's date-time, its offset required ("Z" or ±HH:MM): an instant, never
# a wall-clock time whose zone the server would have to guess.
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_MISSING: Final = object()
Value = TypeVar("Value")


class ShopBody(Shop):
    """A shop as its PUT carries it; opening hours written back in runs, Monday first."""

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> ShopBody:
        return cls(
            name=_name(fields),
            time_zone=_required(fields, "time_zone", _time_zone),
            opening_hours=_required(fields, "opening_hours", _opening_hours),
            closed_dates=_optional(fields, "closed_dates", _closed_dates, []),
            minimum_notice_minutes=_optional(
                fields, "minimum_notice_minutes", _nullable(_whole(0, MAX_NOTICE_MINUTES)), None
            ),
            booking_horizon_days=_optional(
                fields, "booking_horizon_days", _nullable(_whole(0, MAX_HORIZON_DAYS)), None
            ),
            hold_seconds=_optional(
                fields, "hold_seconds", _nullable(_whole(1, MAX_HOLD_SECONDS)), None
            ),
            change_notice_minutes=_optional(
                fields, "change_notice_minutes", _nullable(_whole(0, MAX_NOTICE_MINUTES)), None
            ),
        )


class ResourceBody(Resource):
    """A resource as its PUT carries it, its time off included."""

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> ResourceBody:
        return cls(
            name=_name(fields),
            opening_hours=_optional(fields, "opening_hours", _nullable(_opening_hours), None),
            time_off=_optional(fields, "time_off", _time_off, []),
        )


class ServiceBody(Service):
    """A service as its PUT carries it; resource ids sorted, each once."""

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> ServiceBody:
        return cls(
            name=_name(fields),
            duration_minutes=_required(fields, "duration_minutes", _whole(5, 1440)),
            buffer_before_minutes=_optional(fields, "buffer_before_minutes", _whole(0, 1440), 0),
            buffer_after_minutes=_optional(fields, "buffer_after_minutes", _whole(0, 1440), 0),
            step_minutes=_optional(fields, "step_minutes", _nullable(_whole(5, 1440)), None),
            resource_ids=_required(fields, "resource_ids", _resource_ids),
        )


# --- Fields --------------------------------------------------------------------

Check = Callable[[Any], Value]


def _required(fields: dict[str, Any], name: str, check: Check[Value]) -> Value:
    value = fields.get(name, _MISSING)
    if value is _MISSING:
        raise ClientError(f"{name}: Field required")
    return _checked(name, value, check)


def _optional(fields: dict[str, Any], name: str, check: Check[Value], default: Value) -> Value:
    value = fields.get(name, _MISSING)
    return default if value is _MISSING else _checked(name, value, check)


def _checked(name: str, value: Any, check: Check[Value]) -> Value:
    try:
        return check(value)
    except ValueError as problem:
        raise ClientError(f"{name}: {problem}") from None


def _nullable(check: Check[Value]) -> Check[Value | None]:
    return lambda value: None if value is None else check(value)


def _name(fields: dict[str, Any]) -> str:
    return _required(fields, "name", _printable_text)


def _printable_text(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME_CHARS:
        raise ValueError(f"must be text of 1 to {MAX_NAME_CHARS} characters")
    if not value.isprintable():
        raise ValueError("must be printable text")
    return value


def _whole(low: int, high: int) -> Check[int]:
    def check(value: Any) -> int:
        # JSON's true is not a number, nor is 30.0 a whole number of minutes as sent.
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value

    return check


def _time_zone(value: Any) -> str:
    if isinstance(value, str) and value.isprintable():
        try:
            shop.zone_named(value)
            return value
        except ConfigurationError:
            pass
    raise ValueError("must be an IANA time zone, e.g. Europe/Lisbon")


def _opening_hours(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ValueError('must be weekly hours, e.g. "Mon-Fri 09:00-17:00; Sat 10:00-14:00"')
    try:
        return shop.format_weekly_hours(shop.parse_weekly_hours(value))
    except ConfigurationError as problem:
        # The parser names the parameter it was written for: "OPENING_HOURS: <why>".
        raise ValueError(str(problem).partition(": ")[2]) from None


def _closed_dates(value: Any) -> list[date]:
    if not isinstance(value, list) or not all(isinstance(day, str) for day in value):
        raise ValueError("must be a list of dates written YYYY-MM-DD")
    try:
        return sorted({schedule.parse_date(day) for day in value})
    except ClientError:
        raise ValueError("must be a list of dates written YYYY-MM-DD") from None


def _resource_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of resource ids")
    if len(value) > MAX_RESOURCES:
        raise ValueError(f"at most {MAX_RESOURCES} resources")
    if bad := next((item for item in value if not is_catalogue_id(item)), None):
        raise ValueError(f"{bad!r} is not a resource id (1-64 characters of a-z, 0-9, - and _)")
    return sorted(set(value))


def _time_off(value: Any) -> list[TimeOff]:
    if not isinstance(value, list):
        raise ValueError("must be a list of {time_off_id, starts_at, ends_at}")
    if len(value) > MAX_TIME_OFF:
        raise ValueError(f"at most {MAX_TIME_OFF} periods")
    periods = [_period(index, item) for index, item in enumerate(value)]
    ids = [period.time_off_id for period in periods]
    if len(set(ids)) != len(ids):
        raise ValueError("each time_off_id must be used once")
    return periods


def _period(index: int, item: Any) -> TimeOff:
    where = f"[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object {{time_off_id, starts_at, ends_at}}")
    time_off_id = item.get("time_off_id")
    if not isinstance(time_off_id, str) or not is_catalogue_id(time_off_id):
        raise ValueError(f"{where}.time_off_id must be 1-64 characters of a-z, 0-9, - and _")
    starts_at, ends_at = (
        _instant(f"{where}.{key}", item.get(key)) for key in ("starts_at", "ends_at")
    )
    if ends_at <= starts_at:
        raise ValueError(f"{where}.ends_at must be after starts_at")
    return TimeOff(time_off_id, starts_at, ends_at)


def _instant(where: str, value: Any) -> datetime:
    problem = (
        f"{where} must be an RFC 3339 date-time with an offset, e.g. 2030-08-01T09:00:00+01:00"
    )
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(problem)
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:  # a month 13, a 25th hour
        raise ValueError(problem) from None
    try:
        within = EARLIEST_INSTANT <= moment.astimezone(UTC) < LATEST_INSTANT
    except OverflowError:  # past the year 9999 in UTC
        within = False
    if not within:
        raise ValueError(f"{where} must be in the years 1900 to 8999")
    return moment
