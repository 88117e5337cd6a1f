"""Validation of the POST /bookings body: what is accepted, and the message for what is not."""

import json
from datetime import date, time

import pytest

from appointments import messages
from appointments.api.models import MAX_BODY_BYTES, parse_booking_request
from appointments.errors import ClientError

VALID = {"user_id": "user_alice", "date": "2024-01-20", "time": "10:00"}


def body_with(**changes: object) -> bytes:
    return json.dumps({**VALID, **changes}).encode()


def test_a_valid_body_gives_typed_values() -> None:
    request = parse_booking_request(json.dumps(VALID).encode())
    assert (request.user_id, request.date, request.time) == (
        "user_alice",
        date(2024, 1, 20),
        time(10),
    )


def test_unknown_fields_are_ignored() -> None:
    assert parse_booking_request(body_with(note="hi")).user_id == "user_alice"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", messages.INVALID_JSON),
        (b"{", messages.INVALID_JSON),
        (b"not json", messages.INVALID_JSON),
        (b'{"user_id": "\xff"}', messages.INVALID_JSON),  # not UTF-8
        (b'{"user_id": "\xed\xa0\x80"}', messages.INVALID_JSON),  # a lone surrogate
        (b"[]", messages.BODY_NOT_OBJECT),
        (b'"text"', messages.BODY_NOT_OBJECT),
        (b"null", messages.BODY_NOT_OBJECT),
        (b"{}", "user_id: Field required"),
        (b'{"date": "2024-01-20", "time": "10:00"}', "user_id: Field required"),
        (b'{"user_id": "u", "time": "10:00"}', "date: Field required"),
        (b'{"user_id": "u", "date": "2024-01-20"}', "time: Field required"),
        (body_with(user_id=42), "user_id: Input should be a valid string"),
        (body_with(user_id=None), "user_id: Input should be a valid string"),
        (body_with(user_id=""), "user_id: String should have at least 1 character"),
        (body_with(user_id="u" * 129), "user_id: String should have at most 128 characters"),
        (body_with(user_id="user\u0000alice"), "user_id must be printable text"),
        (body_with(user_id="user\nalice"), "user_id must be printable text"),
        (body_with(date=20240120), messages.INVALID_DATE),
        (body_with(date=["2024-01-20"]), messages.INVALID_DATE),
        (body_with(date="2024-02-30"), messages.INVALID_DATE),
        (body_with(time=10), messages.INVALID_TIME),
        (body_with(time="9:00"), messages.INVALID_TIME),
        # Whether a well-formed time starts a slot is the schedule's question
        # (tests/unit/test_shop.py), asked after the body is read.
        (body_with(note="x" * MAX_BODY_BYTES), messages.BODY_TOO_LARGE),
    ],
)
def test_each_problem_has_a_clear_message(body: bytes, message: str) -> None:
    with pytest.raises(ClientError) as raised:
        parse_booking_request(body)
    assert str(raised.value) == message
    assert (raised.value.outcome, raised.value.status) == ("InvalidRequest", 400)
