"""A booking's life through the real handler: look it up, cancel it, list a user's."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest

from tests.conftest import Invoke
from tests.integration.test_bookings import alice_at, post_booking

INVALID_CURSOR = "cursor is not valid: pass the next_cursor of the previous page"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def book(invoke: Invoke, time: str, date: str = "2024-01-20", user_id: str = "user_alice") -> str:
    response = post_booking(invoke, alice_at(time, date, user_id))
    assert response["statusCode"] == 200, response["json"]
    booking_id: str = response["json"]["booking_id"]
    return booking_id


def get(invoke: Invoke, booking_id: str) -> dict[str, Any]:
    path = f"/bookings/{booking_id}"
    return invoke(
        "bookings",
        "GET",
        path,
        route_key="GET /bookings/{booking_id}",
        path_parameters={"booking_id": booking_id},
    )


def cancel(invoke: Invoke, booking_id: str) -> dict[str, Any]:
    path = f"/bookings/{booking_id}"
    return invoke(
        "bookings",
        "DELETE",
        path,
        route_key="DELETE /bookings/{booking_id}",
        path_parameters={"booking_id": booking_id},
    )


def encoded(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def list_bookings(invoke: Invoke, **params: str) -> dict[str, Any]:
    return invoke(
        "bookings", "GET", "/bookings", route_key="GET /bookings", raw_query=urlencode(params)
    )


# Looking a booking up


def test_a_booking_is_shown_with_its_slot_status_and_times(invoke: Invoke) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    booking_id = book(invoke, "10:00")

    response = get(invoke, booking_id)

    assert response["statusCode"] == 200
    body = response["json"]
    created_at = body.pop("created_at")
    assert body == {
        "booking_id": booking_id,
        "user_id": "user_alice",
        "date": "2024-01-20",
        "time": "10:00",
        "starts_at": "2024-01-20T10:00:00+00:00",
        "ends_at": "2024-01-20T11:00:00+00:00",
        "status": "confirmed",
        "cancelled_at": None,
    }
    assert RFC3339_UTC.fullmatch(created_at)
    created = datetime.fromisoformat(created_at)
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=1)


@pytest.mark.parametrize(
    "booking_id",
    ["booking_AAAAAAAAAAAAAAAAAAAAAA", "x", "a" * 65, "booking_é", "%00", "booking%2F..%2F"],
)
def test_an_unknown_or_malformed_id_is_booking_not_found(
    invoke: Invoke, booking_id: str, db: psycopg.Connection
) -> None:
    book(invoke, "10:00")
    response = get(invoke, quote(booking_id, safe="%"))
    assert (response["statusCode"], response["json"]) == (404, {"error": "Booking not found"})


# Cancelling


def test_cancelling_marks_the_booking_cancelled_and_keeps_it(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")

    response = cancel(invoke, booking_id)

    assert response["statusCode"] == 200
    body = response["json"]
    assert (body["booking_id"], body["status"]) == (booking_id, "cancelled")
    assert RFC3339_UTC.fullmatch(body["cancelled_at"])
    assert body["cancelled_at"] >= body["created_at"]
    assert get(invoke, booking_id)["json"] == body
    assert db.execute("SELECT status FROM bookings WHERE id = %s", (booking_id,)).fetchone() == (
        "cancelled",
    )


def test_cancelling_twice_answers_the_same_booking_with_the_first_cancellation_time(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")
    first = cancel(invoke, booking_id)
    # Make the first cancellation visibly older, so a second "now()" would differ.
    db.execute(
        "UPDATE bookings SET cancelled_at = cancelled_at - interval '1 hour' WHERE id = %s",
        (booking_id,),
    )
    stored = get(invoke, booking_id)["json"]

    second = cancel(invoke, booking_id)

    assert second["statusCode"] == 200
    assert second["json"] == stored
    assert second["json"]["cancelled_at"] < first["json"]["cancelled_at"]


def test_cancelling_an_unknown_booking_is_booking_not_found(invoke: Invoke) -> None:
    response = cancel(invoke, "booking_AAAAAAAAAAAAAAAAAAAAAA")
    assert (response["statusCode"], response["json"]) == (404, {"error": "Booking not found"})


def test_a_cancelled_slot_is_free_at_once_to_list_and_to_book(invoke: Invoke) -> None:
    booking_id = book(invoke, "10:00")
    slots = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    assert "10:00" not in slots["json"]["available_times"]

    cancel(invoke, booking_id)

    slots = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    assert "10:00" in slots["json"]["available_times"]
    rebooked = post_booking(invoke, alice_at("10:00", user_id="user_bob"))
    assert rebooked["statusCode"] == 200
    again = post_booking(invoke, alice_at("10:00", user_id="user_charlie"))
    assert again["json"] == {"error": "Slot full"}


def test_a_slot_can_be_cancelled_and_rebooked_many_times(invoke: Invoke) -> None:
    for _ in range(3):
        cancel(invoke, book(invoke, "10:00"))
    book(invoke, "10:00")
    history = list_bookings(invoke, user_id="user_alice", status="all")["json"]["bookings"]
    assert [b["status"] for b in history].count("cancelled") == 3
    assert [b["status"] for b in history].count("confirmed") == 1


# Listing a user's bookings


def test_the_list_holds_the_users_confirmed_bookings_oldest_slot_first(invoke: Invoke) -> None:
    late = book(invoke, "15:00", "2024-01-21")
    early = book(invoke, "09:00", "2024-01-21")
    earlier_day = book(invoke, "16:00", "2024-01-20")
    cancel(invoke, book(invoke, "12:00", "2024-01-20"))
    book(invoke, "10:00", user_id="user_bob")

    response = list_bookings(invoke, user_id="user_alice")

    assert response["statusCode"] == 200
    assert [b["booking_id"] for b in response["json"]["bookings"]] == [earlier_day, early, late]
    assert response["json"]["next_cursor"] is None
    assert response["json"]["bookings"][0] == get(invoke, earlier_day)["json"]


def test_status_widens_the_list_to_cancelled_or_all(invoke: Invoke) -> None:
    kept = book(invoke, "09:00")
    dropped = book(invoke, "10:00")
    cancel(invoke, dropped)

    def ids(status: str) -> list[str]:
        found = list_bookings(invoke, user_id="user_alice", status=status)["json"]["bookings"]
        return [b["booking_id"] for b in found]

    assert ids("confirmed") == [kept]
    assert ids("cancelled") == [dropped]
    assert ids("all") == [kept, dropped]


def test_from_and_to_narrow_the_list_inclusively(invoke: Invoke) -> None:
    by_day = {day: book(invoke, "09:00", f"2024-01-{day}") for day in ("19", "20", "21", "22")}

    response = list_bookings(
        invoke, user_id="user_alice", **{"from": "2024-01-20", "to": "2024-01-21"}
    )

    assert [b["booking_id"] for b in response["json"]["bookings"]] == [by_day["20"], by_day["21"]]


def test_pages_follow_each_other_without_gaps_or_repeats(invoke: Invoke) -> None:
    booked = [
        book(invoke, f"{hour:02d}:00", f"2024-02-{day:02d}")
        for day in (1, 2)
        for hour in range(9, 17)
    ]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"user_id": "user_alice", "limit": "5", **({"cursor": cursor} if cursor else {})}
        page = list_bookings(invoke, **params)["json"]
        pages += 1
        seen += [b["booking_id"] for b in page["bookings"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == booked
    assert pages == 4  # 5 + 5 + 5 + 1


def test_a_page_exactly_full_has_no_next_cursor(invoke: Invoke) -> None:
    for hour in (9, 10):
        book(invoke, f"{hour:02d}:00")
    page = list_bookings(invoke, user_id="user_alice", limit="2")["json"]
    assert len(page["bookings"]) == 2
    assert page["next_cursor"] is None


def test_a_cursor_is_the_position_it_says_and_needs_no_state(invoke: Invoke) -> None:
    ids = [book(invoke, f"{hour}:00") for hour in (10, 11, 12)]
    cursor = encoded(f"2024-01-20|10:00:00|{ids[0]}")
    after = list_bookings(invoke, user_id="user_alice", cursor=cursor)
    assert [b["booking_id"] for b in after["json"]["bookings"]] == ids[1:]


def test_a_booking_made_between_pages_behind_the_cursor_is_not_repeated(invoke: Invoke) -> None:
    first_two = [book(invoke, f"{hour}:00") for hour in (10, 11)]
    last = book(invoke, "12:00")
    page = list_bookings(invoke, user_id="user_alice", limit="2")["json"]
    assert [b["booking_id"] for b in page["bookings"]] == first_two

    book(invoke, "09:00")  # sorts before the cursor: belongs to the first page now
    rest = list_bookings(invoke, user_id="user_alice", limit="2", cursor=page["next_cursor"])

    assert [b["booking_id"] for b in rest["json"]["bookings"]] == [last]


def test_a_user_without_bookings_has_an_empty_list(invoke: Invoke) -> None:
    response = list_bookings(invoke, user_id="user_dave")
    assert (response["statusCode"], response["json"]) == (
        200,
        {"bookings": [], "next_cursor": None},
    )


def test_listing_an_unknown_user_is_user_not_found(invoke: Invoke) -> None:
    response = list_bookings(invoke, user_id="user_mallory")
    assert (response["statusCode"], response["json"]) == (400, {"error": "User not found"})


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"user_id": None}, "user_id is required"),
        ({"user_id": ""}, "user_id is required"),
        ({"user_id": "u" * 129}, "user_id must be 1 to 128 printable characters"),
        ({"user_id": "user\x00alice"}, "user_id must be 1 to 128 printable characters"),
        ({"from": "2024-1-20"}, "from must be a date written YYYY-MM-DD"),
        ({"to": "2024-02-30"}, "to must be a date written YYYY-MM-DD"),
        ({"from": "2024-01-21", "to": "2024-01-20"}, "to must not be before from"),
        ({"status": "pending"}, "status must be confirmed, cancelled or all"),
        ({"status": ""}, "status must be confirmed, cancelled or all"),
        ({"limit": "0"}, "limit must be a whole number from 1 to 100"),
        ({"limit": "101"}, "limit must be a whole number from 1 to 100"),
        ({"limit": "ten"}, "limit must be a whole number from 1 to 100"),
        ({"limit": "-1"}, "limit must be a whole number from 1 to 100"),
        ({"limit": "٣"}, "limit must be a whole number from 1 to 100"),
        (
            {"cursor": "not-a-cursor"},
            "cursor is not valid: pass the next_cursor of the previous page",
        ),
        ({"cursor": ""}, "cursor is not valid: pass the next_cursor of the previous page"),
        (
            {"cursor": "MjAyNC0wMS0yMHwxMDowMDowMHw"},
            "cursor is not valid: pass the next_cursor of the previous page",
        ),
        *(
            ({"cursor": encoded(position)}, INVALID_CURSOR)
            for position in (
                "2024-01-20|10:00:00+05:00|booking_x",  # a time zone: timetz in SQL
                "2024-W03-6|10:00:00|booking_x",  # an ISO week date
                "20240120|10:00:00|booking_x",
                "2024-01-20|10:00|booking_x",
                "2024-01-20|10:00:00|booking x",
                "2024-02-30|10:00:00|booking_x",
            )
        ),
    ],
)
def test_a_bad_list_parameter_is_a_400_that_names_it(
    invoke: Invoke, params: dict[str, str | None], error: str
) -> None:
    query = {"user_id": "user_alice", **params}
    response = list_bookings(invoke, **{k: v for k, v in query.items() if v is not None})
    assert (response["statusCode"], response["json"]) == (400, {"error": error})
