"""Request bodies and their validation, in pydantic, built on the shop's rules."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
)

from appointments import messages, schedule
from appointments.errors import ClientError

# Larger bodies are refused before parsing; a real booking is under 100 bytes.
MAX_BODY_BYTES = 4096


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


class BookingRequest(BaseModel):
    """The body of POST /bookings. Extra fields are ignored."""

    # strict: a number is not a string, true is not a date.
    model_config = ConfigDict(strict=True, frozen=True)

    user_id: Annotated[
        str, StringConstraints(min_length=1, max_length=128), AfterValidator(_printable)
    ]
    date: Annotated[datetime.date, BeforeValidator(_slot_date)]
    time: Annotated[datetime.time, BeforeValidator(_slot_time)]


def parse_booking_request(body: bytes) -> BookingRequest:
    """The validated booking in the JSON `body`, or a ClientError saying what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise ClientError(messages.BODY_TOO_LARGE)
    try:
        return BookingRequest.model_validate_json(body)
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
