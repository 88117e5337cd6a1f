"""The request bodies' schema, in pydantic: the OpenAPI document is generated from it.

No handler imports this module (pydantic cost ~55 ms of a cold start): they
validate with appointments.api.models, which tests/unit/test_bodies.py holds
to these models' answers, message for message. `parse_body` here is that
reference.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from appointments import messages
from appointments.api.models import MAX_BODY_BYTES
from appointments.domain import schedule
from appointments.domain.user_ids import MAX_NAME_CHARS, MAX_USER_ID_CHARS
from appointments.errors import ClientError


def _printable(value: str) -> str:
    # Control characters (NUL above all: PostgreSQL text cannot hold it) and
    # lone surrogates (not encodable as UTF-8) are not ids anyone was given.
    if not value.isprintable():
        raise ValueError("user_id must be printable text")
    return value


def _slot_date(value: Any) -> datetime.date:
    if not isinstance(value, str):
        raise ClientError(messages.INVALID_DATE)
    return schedule.parse_date(value)


def _slot_time(value: Any) -> datetime.time:
    if not isinstance(value, str):
        raise ClientError(messages.INVALID_TIME)
    return schedule.parse_time_of_day(value)


UserId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_USER_ID_CHARS), AfterValidator(_printable)
]


class BookingRequest(BaseModel):
    """The body of POST /bookings naming whom it books for; the only one with sign-in off.

    Extra fields are ignored.
    """

    # strict: a number is not a string, true is not a date.
    model_config = ConfigDict(strict=True, frozen=True)

    user_id: UserId
    date: Annotated[datetime.date, BeforeValidator(_slot_date)]
    time: Annotated[datetime.time, BeforeValidator(_slot_time)]


class SignedInBookingRequest(BookingRequest):
    """The body of POST /bookings with sign-in on: user_id may be left to the token."""

    # Built on first use, not at import: only a function with sign-in on uses it.
    model_config = ConfigDict(strict=True, frozen=True, defer_build=True)

    user_id: UserId | None = None  # type: ignore[assignment]  # optional here, on purpose


class ShopBookingRequest(BaseModel):
    """The body of POST /shops/{shop_id}/bookings: a service of the shop, and the resource
    if the client picks one. user_id as in SignedInBookingRequest with sign-in on;
    required with sign-in off. Extra fields are ignored."""

    model_config = ConfigDict(strict=True, frozen=True, defer_build=True)

    user_id: UserId | None = None
    service_id: str = Field(description="One of the shop's services (404 if it has none such)")
    date: Annotated[datetime.date, BeforeValidator(_slot_date)]
    time: Annotated[datetime.time, BeforeValidator(_slot_time)]
    resource_id: str | None = Field(
        default=None,
        description="A resource that performs the service; left out: the first one free, by id",
    )


class RescheduleRequest(BaseModel):
    """The body of POST /bookings/{booking_id}/reschedule: the new date and time, and the
    resource if the client picks one; the booking's shop and service stay. Extra fields
    are ignored."""

    model_config = ConfigDict(strict=True, frozen=True, defer_build=True)

    date: Annotated[datetime.date, BeforeValidator(_slot_date)]
    time: Annotated[datetime.time, BeforeValidator(_slot_time)]
    resource_id: str | None = Field(
        default=None,
        description="A resource that performs the booking's service; left out: the first one"
        " free, by id (its own, if it is free then)",
    )


def _printable_name(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_NAME_CHARS
        or not value.isprintable()
    ):
        raise ClientError(messages.INVALID_NAME)
    return value


class UserUpdate(BaseModel):
    """The body of PUT /users/{user_id}: what to call the user. Extra fields are ignored."""

    # Built on first use, not at import: the bookings function imports this module too.
    model_config = ConfigDict(strict=True, frozen=True, defer_build=True)

    # The bounds again after the validator, which enforces them with our
    # message: there, they put them in the JSON Schema (openapi.json).
    name: Annotated[
        str,
        BeforeValidator(_printable_name),
        StringConstraints(min_length=1, max_length=MAX_NAME_CHARS),
    ]


Body = TypeVar("Body", bound=BaseModel)


def parse_body(body: bytes, model: type[Body]) -> Body:
    """The JSON `body` validated as `model`, or a ClientError saying what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise ClientError(messages.BODY_TOO_LARGE)
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise _first_problem(error) from None


def _first_problem(error: ValidationError) -> ClientError:
    """One clear sentence for the first thing wrong, in the contract's words where it has them."""
    problem = error.errors(include_url=False)[0]
    kind, where = problem["type"], ".".join(str(part) for part in problem["loc"])
    if kind == "json_invalid":
        return ClientError(messages.INVALID_JSON)
    if kind == "model_type":
        return ClientError(messages.BODY_NOT_OBJECT)
    raised = problem.get("ctx", {}).get("error")
    if isinstance(raised, ClientError):  # our own validators: worded for clients, outcome set
        return raised
    if kind == "value_error":
        return ClientError(str(raised))
    return ClientError(f"{where}: {problem['msg']}")
