"""GET /slots against a real database."""

import psycopg
import pytest

from tests.conftest import Invoke, insert_booking

ALL_TIMES = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]


def book(conn: psycopg.Connection, day: str, start: str, booking_id: str) -> None:
    insert_booking(conn, booking_id, "user_bob", day, start)


def test_an_empty_day_lists_every_hour_from_nine_to_sixteen(invoke: Invoke) -> None:
    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["json"] == {"available_times": ALL_TIMES}


def test_booked_slots_are_left_out_of_that_day_only(invoke: Invoke, db: psycopg.Connection) -> None:
    book(db, "2024-01-20", "10:00", "booking_a")
    book(db, "2024-01-20", "12:00", "booking_b")
    book(db, "2024-01-21", "09:00", "booking_c")

    day = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    next_day = invoke("slots", "GET", "/slots", raw_query="date=2024-01-21")

    assert day["json"] == {
        "available_times": ["09:00", "11:00", "13:00", "14:00", "15:00", "16:00"]
    }
    assert next_day["json"] == {"available_times": ALL_TIMES[1:]}


def test_a_fully_booked_day_lists_nothing(invoke: Invoke, db: psycopg.Connection) -> None:
    for start in ALL_TIMES:
        book(db, "2024-01-20", start, f"booking_{start}")
    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    assert (response["statusCode"], response["json"]) == (200, {"available_times": []})


def test_a_leap_day_is_a_real_date(invoke: Invoke) -> None:
    response = invoke("slots", "GET", "/slots", raw_query="date=2028-02-29")
    assert (response["statusCode"], response["json"]) == (200, {"available_times": ALL_TIMES})


@pytest.mark.parametrize(
    "raw_query",
    [
        "date=2024-02-30",
        "date=2024-1-5",
        "date=20240120",
        "date=2029-02-29",
        "date=2100-02-29",
        "date=",
        "",
        "day=2024-01-20",
        "date=2024-01-20&date=2024-01-21",  # API Gateway joins repeats: "2024-01-20,2024-01-21"
        "date=%00",
        "date=" + "9" * 10_000,
    ],
)
def test_anything_but_one_real_date_is_an_invalid_date_format(
    invoke: Invoke, raw_query: str
) -> None:
    response = invoke("slots", "GET", "/slots", raw_query=raw_query)
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["json"] == {"error": "Invalid date format"}
