"""POST /bookings against a real database: every outcome, and nothing written when refused."""

import base64
import json
import re
from typing import Any

import psycopg
import pytest

from local.http_api_event import http_api_event
from local.lambda_context import LocalLambdaContext
from tests.conftest import Invoke, bookings_in, load_function


def post_booking(invoke: Invoke, body: Any, **event_fields: Any) -> dict[str, Any]:
    text = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {"Content-Type": "application/json"}
    return invoke("bookings", "POST", "/bookings", body=text, headers=headers, **event_fields)


def alice_at(time: str, date: str = "2024-01-20", user_id: str = "user_alice") -> dict[str, str]:
    return {"user_id": user_id, "date": date, "time": time}


def test_booking_a_free_slot_returns_an_unguessable_id_and_stores_it(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    response = post_booking(invoke, alice_at("10:00"))

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    booking_id = response["json"]["booking_id"]
    assert re.fullmatch(r"booking_[A-Za-z0-9_-]{22}", booking_id)
    assert bookings_in(db) == [(booking_id, "user_alice", "2024-01-20", "10:00")]


def test_two_bookings_get_different_ids(invoke: Invoke) -> None:
    first = post_booking(invoke, alice_at("10:00"))["json"]["booking_id"]
    second = post_booking(invoke, alice_at("11:00"))["json"]["booking_id"]
    assert first != second


def test_second_booking_of_same_slot_is_slot_full(invoke: Invoke, db: psycopg.Connection) -> None:
    first = post_booking(invoke, alice_at("10:00"))
    second = post_booking(invoke, alice_at("10:00", user_id="user_bob"))

    assert second["statusCode"] == 400
    assert second["json"] == {"error": "Slot full"}
    assert bookings_in(db) == [(first["json"]["booking_id"], "user_alice", "2024-01-20", "10:00")]


def test_the_same_hour_on_another_day_is_free(invoke: Invoke, db: psycopg.Connection) -> None:
    post_booking(invoke, alice_at("10:00"))
    response = post_booking(invoke, alice_at("10:00", date="2024-01-21"))
    assert response["statusCode"] == 200
    assert len(bookings_in(db)) == 2


def test_a_booked_slot_disappears_from_the_slot_list(invoke: Invoke) -> None:
    post_booking(invoke, alice_at("09:00"))
    slots = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    assert "09:00" not in slots["json"]["available_times"]
    assert len(slots["json"]["available_times"]) == 7


@pytest.mark.parametrize("time", ["09:00", "16:00"])
def test_first_and_last_slot_of_the_day_can_be_booked(invoke: Invoke, time: str) -> None:
    assert post_booking(invoke, alice_at(time))["statusCode"] == 200


def test_an_unknown_user_cannot_book(invoke: Invoke, db: psycopg.Connection) -> None:
    response = post_booking(invoke, alice_at("10:00", user_id="user_mallory"))
    assert (response["statusCode"], response["json"]) == (400, {"error": "User not found"})
    assert bookings_in(db) == []


def test_an_unknown_user_is_reported_even_when_the_slot_is_taken(invoke: Invoke) -> None:
    post_booking(invoke, alice_at("10:00"))
    response = post_booking(invoke, alice_at("10:00", user_id="user_mallory"))
    assert response["json"] == {"error": "User not found"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (alice_at("17:00"), "Shop closed"),
        (alice_at("08:00"), "Shop closed"),
        (alice_at("00:00"), "Shop closed"),
        (alice_at("10:30"), "Time must be on the hour"),
        (alice_at("9:00"), "Invalid time format"),
        (alice_at("25:00"), "Invalid time format"),
        (alice_at("10:00:00"), "Invalid time format"),
        (alice_at("ten"), "Invalid time format"),
        (alice_at("10:00", date="2024-02-30"), "Invalid date format"),
        (alice_at("10:00", date="2024-1-5"), "Invalid date format"),
        (alice_at("10:00", date="20240120"), "Invalid date format"),
        (alice_at("10:00", date="2029-02-29"), "Invalid date format"),
        (alice_at("10:00", date="2100-02-29"), "Invalid date format"),
        (alice_at("10:00", date=""), "Invalid date format"),
        ("{not json", "Request body must be valid JSON"),
        ("", "Request body must be valid JSON"),
        ("[1, 2]", "Request body must be a JSON object"),
        ('"user_alice"', "Request body must be a JSON object"),
        ({"date": "2024-01-20", "time": "10:00"}, "user_id: Field required"),
        ({"user_id": "user_alice", "time": "10:00"}, "date: Field required"),
        ({"user_id": "user_alice", "date": "2024-01-20"}, "time: Field required"),
        (
            {**alice_at("10:00"), "user_id": ["user_alice"]},
            "user_id: Input should be a valid string",
        ),
        ({**alice_at("10:00"), "date": 20240120}, "Invalid date format"),
        ({**alice_at("10:00"), "time": 10}, "Invalid time format"),
        ({**alice_at("10:00"), "user_id": "user_alice\u0000"}, "user_id must be printable text"),
        ({**alice_at("10:00"), "padding": "x" * 1_000_000}, "Request body too large"),
    ],
)
def test_a_refused_request_is_a_400_with_a_reason_and_books_nothing(
    invoke: Invoke, db: psycopg.Connection, body: Any, error: str
) -> None:
    response = post_booking(invoke, body)
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["json"] == {"error": error}
    assert bookings_in(db) == []


def test_a_base64_encoded_body_is_decoded_and_booked(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    encoded = base64.b64encode(json.dumps(alice_at("11:00")).encode()).decode()
    event = http_api_event("POST", "/bookings", body=encoded)
    event["isBase64Encoded"] = True
    response = load_function("bookings").handler(event, LocalLambdaContext())
    assert response["statusCode"] == 200
    assert [row[3] for row in bookings_in(db)] == ["11:00"]


@pytest.mark.parametrize("body", [b'{"user_id": "\xff"}', b"\x00\x01", b"\xed\xa0\x80"])
def test_a_body_that_is_not_utf8_is_invalid_json(
    invoke: Invoke, db: psycopg.Connection, body: bytes
) -> None:
    response = post_booking(invoke, body)  # not UTF-8, so the event carries it base64-encoded
    assert (response["statusCode"], response["json"]) == (
        400,
        {"error": "Request body must be valid JSON"},
    )
    assert bookings_in(db) == []


def test_a_database_that_cannot_be_reached_is_a_json_503_without_detail(
    invoke: Invoke, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appointments.data import database
    from appointments.platform import settings

    secret_url = "postgresql://app:s3cret-password@/appointments?host=/nonexistent"
    monkeypatch.setenv("DATABASE_URL", secret_url)
    settings.get_settings.cache_clear()
    database.close()
    try:
        response = post_booking(invoke, alice_at("10:00"))
    finally:
        settings.get_settings.cache_clear()
    assert response["statusCode"] == 503
    assert response["json"] == {"error": "Service unavailable"}
    assert "s3cret" not in response["body"]
    assert bookings_in(db) == []
