"""Request bodies: parsed, checked field by field, and each refusal worded for the client.

Hand-written in place of validating with the pydantic models of schema.py,
whose import and build cost the bookings and users functions ~55 ms of every
cold start, for three fields. Their answers are kept exactly, which
tests/unit/test_bodies.py checks against those models for any body:
- JSON as pydantic's parser reads it: strict UTF-8, no lone surrogate, nested
  at most 200 deep (json.loads alone allows all three);
- the first field in declaration order that is wrong is the one reported,
  in pydantic's words ("user_id: Field required") or the contract's;
- fields other than the model's are ignored.
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Final, Protocol, Self, TypeVar

from appointments import messages
from appointments.domain import schedule
from appointments.domain.user_ids import MAX_NAME_CHARS, MAX_USER_ID_CHARS
from appointments.errors import ClientError

# Larger bodies are refused before parsing; a real booking is under 100 bytes.
MAX_BODY_BYTES = 4096
# pydantic's parser (jiter) refuses JSON nested deeper than this (non-empty containers).
_MAX_DEPTH: Final = 200
_MISSING: Final = object()


class BookingRequest:
    """The body of POST /bookings naming whom it books for; the only one with sign-in off."""

    __slots__ = ("date", "time", "user_id")

    def __init__(self, user_id: str, date: datetime.date, time: datetime.time) -> None:
        self.user_id, self.date, self.time = user_id, date, time

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        return cls(_user_id(fields.get("user_id", _MISSING)), *_slot(fields))


class SignedInBookingRequest:
    """The body of POST /bookings with sign-in on: user_id may be left to the token."""

    __slots__ = ("date", "time", "user_id")

    def __init__(self, user_id: str | None, date: datetime.date, time: datetime.time) -> None:
        self.user_id, self.date, self.time = user_id, date, time

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        user_id = fields.get("user_id")
        return cls(None if user_id is None else _user_id(user_id), *_slot(fields))


class ShopBookingRequest:
    """The body of POST /shops/{shop_id}/bookings: a service, and the resource if the
    client picks one. user_id may be left to the token with sign-in on (the
    handler requires it otherwise)."""

    __slots__ = ("date", "resource_id", "service_id", "time", "user_id")

    def __init__(
        self,
        user_id: str | None,
        service_id: str,
        date: datetime.date,
        time: datetime.time,
        resource_id: str | None,
    ) -> None:
        self.user_id, self.service_id, self.resource_id = user_id, service_id, resource_id
        self.date, self.time = date, time

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        user_id = fields.get("user_id")
        user_id = None if user_id is None else _user_id(user_id)
        service_id = fields.get("service_id", _MISSING)
        if service_id is _MISSING:
            raise ClientError("service_id: Field required")
        service_id = _text("service_id", service_id)
        day, time = _slot(fields)
        resource_id = fields.get("resource_id")
        resource_id = None if resource_id is None else _text("resource_id", resource_id)
        return cls(user_id, service_id, day, time, resource_id)


class RescheduleRequest:
    """The body of POST /bookings/{booking_id}/reschedule: where to, and the resource if
    the client picks one (the booking's shop and service stay)."""

    __slots__ = ("date", "resource_id", "time")

    def __init__(self, date: datetime.date, time: datetime.time, resource_id: str | None) -> None:
        self.date, self.time, self.resource_id = date, time, resource_id

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        day, time = _slot(fields)
        resource_id = fields.get("resource_id")
        resource_id = None if resource_id is None else _text("resource_id", resource_id)
        return cls(day, time, resource_id)


class UserUpdate:
    """The body of PUT /users/{user_id}: what to call the user."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self:
        name = fields.get("name", _MISSING)
        if name is _MISSING:
            raise ClientError("name: Field required")
        if (
            not isinstance(name, str)
            or not 1 <= len(name) <= MAX_NAME_CHARS
            or not name.isprintable()
        ):
            raise ClientError(messages.INVALID_NAME)
        return cls(name)


class _Body(Protocol):
    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Self: ...


Body = TypeVar("Body", bound=_Body)


def parse_booking_request(body: bytes) -> BookingRequest:
    """The validated booking in the JSON `body`, or a ClientError saying what is wrong."""
    return parse_body(body, BookingRequest)


def parse_body(body: bytes, model: type[Body], max_bytes: int = MAX_BODY_BYTES) -> Body:
    """The JSON `body` validated as `model`, or a ClientError saying what is wrong."""
    if len(body) > max_bytes:
        raise ClientError(messages.BODY_TOO_LARGE)
    fields = _json_object(body)
    return model.from_fields(fields)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))  # strict UTF-8: json.loads would guess UTF-16
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ClientError(messages.INVALID_JSON) from None
    if not _as_pydantic_parses(value):
        raise ClientError(messages.INVALID_JSON)
    if not isinstance(value, dict):
        raise ClientError(messages.BODY_NOT_OBJECT)
    return value


def _as_pydantic_parses(value: Any, enclosing: int = 0) -> bool:
    """Whether pydantic's parser takes `value` too: no lone surrogate, not too deep.

    Its depth counts the non-empty arrays and objects around a value.
    """
    if isinstance(value, str):
        return not _has_lone_surrogate(value)
    if not value or not isinstance(value, dict | list):
        return True
    if enclosing == _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        keys_ok = not any(_has_lone_surrogate(key) for key in value)
        return keys_ok and all(_as_pydantic_parses(item, enclosing + 1) for item in value.values())
    return all(_as_pydantic_parses(item, enclosing + 1) for item in value)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _user_id(value: Any) -> str:
    if value is _MISSING:
        raise ClientError("user_id: Field required")
    if not isinstance(value, str):
        raise ClientError("user_id: Input should be a valid string")
    if not value:
        raise ClientError("user_id: String should have at least 1 character")
    if len(value) > MAX_USER_ID_CHARS:
        raise ClientError(f"user_id: String should have at most {MAX_USER_ID_CHARS} characters")
    if not value.isprintable():
        # Control characters (NUL above all: PostgreSQL text cannot hold it) and
        # lone surrogates (not encodable as UTF-8) are not ids anyone was given.
        raise ClientError("user_id must be printable text")
    return value


def _text(name: str, value: Any) -> str:
    # Any text: an id no service or resource has is one that is not found.
    if not isinstance(value, str):
        raise ClientError(f"{name}: Input should be a valid string")
    return value


def _slot(fields: dict[str, Any]) -> tuple[datetime.date, datetime.time]:
    day = fields.get("date", _MISSING)
    if day is _MISSING:
        raise ClientError("date: Field required")
    if not isinstance(day, str):
        raise ClientError(messages.INVALID_DATE)
    parsed_day = schedule.parse_date(day)
    time = fields.get("time", _MISSING)
    if time is _MISSING:
        raise ClientError("time: Field required")
    if not isinstance(time, str):
        raise ClientError(messages.INVALID_TIME)
    return parsed_day, schedule.parse_time_of_day(time)
