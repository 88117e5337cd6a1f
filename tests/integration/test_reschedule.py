"""Moving a booking: POST /bookings/{booking_id}/reschedule, in one statement.

The default shop's bookings move on its bays; another shop's within their
service, as a booking of that service is checked. If-Match as for a cancel.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.conftest import Invoke
from tests.integration import test_shop_bookings as shop_bookings
from tests.integration.test_booking_lifecycle import book as book_on
from tests.integration.test_booking_lifecycle import get
from tests.integration.test_booking_versions import cancel
from tests.integration.test_bookings import alice_at, post_booking
from tests.workshop import MONDAY

DAY = "2030-01-21"  # a Monday to come: a move is never into the past


def book(invoke: Invoke, time: str, user_id: str = "user_alice") -> str:
    return book_on(invoke, time, DAY, user_id)


def reschedule(
    invoke: Invoke,
    booking_id: str,
    body: dict[str, Any] | str,
    if_match: str | None = None,
    key: str | None = None,
    **event_fields: Any,
) -> dict[str, Any]:
    """POST /bookings/{booking_id}/reschedule (event_fields: an authorizer, say)."""
    headers = {"Content-Type": "application/json"}
    if if_match is not None:
        headers["If-Match"] = if_match
    if key is not None:
        headers["Idempotency-Key"] = key
    return invoke(
        "bookings",
        "POST",
        f"/bookings/{booking_id}/reschedule",
        route_key="POST /bookings/{booking_id}/reschedule",
        path_parameters={"booking_id": booking_id},
        headers=headers,
        body=body if isinstance(body, str) else json.dumps(body),
        **event_fields,
    )


def row(db: psycopg.Connection, booking_id: str) -> tuple[str, str, str, int]:
    """The booking's start, resource, status and version."""
    found = db.execute(
        "SELECT to_char(slot_time, 'HH24:MI'), resource_id, status, version"
        " FROM bookings WHERE id = %s",
        (booking_id,),
    ).fetchone()
    assert found is not None
    return found  # type: ignore[return-value]


def test_a_booking_moves_keeping_its_id_and_remembering_where_it_was(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")

    moved = reschedule(invoke, booking_id, {"date": DAY, "time": "14:00"})

    assert moved["statusCode"] == 200, moved["json"]
    body = moved["json"]
    assert (body["booking_id"], body["time"], body["status"]) == (booking_id, "14:00", "confirmed")
    assert moved["headers"]["ETag"] == '"2"'
    [was] = body["moved_from"]
    assert (was["date"], was["time"], was["version"], was["moved_by"]) == (DAY, "10:00", 1, None)
    assert was["starts_at"] == f"{DAY}T10:00:00+00:00"
    assert "resource_id" not in was  # the default shop's bays are not shown
    assert get(invoke, booking_id)["json"] == body
    assert row(db, booking_id) == ("14:00", "bay-1", "confirmed", 2)
    # The old slot is free, the new one taken (one bay).
    assert book(invoke, "10:00", user_id="user_bob")
    taken = post_booking(invoke, alice_at("14:00", DAY, "user_bob"))
    assert (taken["statusCode"], taken["json"]) == (400, {"error": "Slot full"})


def test_a_move_into_a_full_slot_is_refused_and_changes_nothing(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    mine = book(invoke, "10:00")
    book(invoke, "11:00", user_id="user_bob")

    refused = reschedule(invoke, mine, {"date": DAY, "time": "11:00"})

    assert (refused["statusCode"], refused["json"]) == (400, {"error": "Slot full"})
    assert row(db, mine) == ("10:00", "bay-1", "confirmed", 1)


def test_a_move_is_checked_as_a_booking_is(invoke: Invoke, db: psycopg.Connection) -> None:
    mine = book(invoke, "10:00")

    answers = [
        reschedule(invoke, mine, {"date": DAY, "time": "10:30"}),
        reschedule(invoke, mine, {"date": DAY, "time": "03:00"}),
        reschedule(invoke, mine, {"date": "2024-13-01", "time": "12:00"}),
        reschedule(invoke, mine, {"date": DAY}),
        reschedule(invoke, mine, "{"),
        reschedule(invoke, mine, {"date": "2024-01-22", "time": "12:00"}),
        reschedule(invoke, mine, {"date": DAY, "time": "12:00", "resource_id": "bay-9"}),
    ]

    assert [(a["statusCode"], a["json"]["error"]) for a in answers] == [
        (400, "Time must be on the hour"),
        (400, "Shop closed"),
        (400, "Invalid date format"),
        (400, "time: Field required"),
        (400, "Request body must be valid JSON"),
        # The past, although no notice is asked: a move never goes back in time.
        (400, "Too late to book this slot"),
        (404, "Resource not found"),
    ]
    assert row(db, mine) == ("10:00", "bay-1", "confirmed", 1)


def test_a_cancelled_shop_booking_is_answered_cancelled_before_its_time_is_checked(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    mine = shop_bookings.book(invoke, shop_bookings.oil_change("09:00"))["json"]["booking_id"]
    cancel(invoke, mine)

    # 03:00 is outside the hours: the booking's state answers first.
    refused = reschedule(invoke, mine, {"date": MONDAY, "time": "03:00"})

    assert (refused["statusCode"], refused["json"]) == (409, {"error": "Booking cancelled"})


def test_a_cancelled_booking_does_not_move_and_an_unknown_one_is_not_found(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    mine = book(invoke, "10:00")
    cancel(invoke, mine)

    refused = reschedule(invoke, mine, {"date": DAY, "time": "12:00"})
    unknown = reschedule(invoke, "booking_nobody", {"date": DAY, "time": "12:00"})

    assert (refused["statusCode"], refused["json"]) == (409, {"error": "Booking cancelled"})
    assert (unknown["statusCode"], unknown["json"]) == (404, {"error": "Booking not found"})
    assert row(db, mine) == ("10:00", "bay-1", "cancelled", 2)


def test_if_match_moves_only_the_version_it_names_and_a_retry_is_one_move(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    mine = book(invoke, "10:00")

    stale = reschedule(invoke, mine, {"date": DAY, "time": "12:00"}, if_match='"2"')
    moved = reschedule(invoke, mine, {"date": DAY, "time": "12:00"}, if_match='"1"')
    retried = reschedule(invoke, mine, {"date": DAY, "time": "12:00"}, if_match='"1"')
    elsewhere = reschedule(invoke, mine, {"date": DAY, "time": "13:00"}, if_match='"1"')

    assert (stale["statusCode"], stale["json"]) == (412, {"error": "Booking changed"})
    assert moved["statusCode"] == retried["statusCode"] == 200
    assert retried["json"] == moved["json"]  # already there, from version 1: not moved again
    assert (elsewhere["statusCode"], elsewhere["json"]) == (412, {"error": "Booking changed"})
    assert row(db, mine) == ("12:00", "bay-1", "confirmed", 2)


def test_a_booking_moves_half_an_hour_on_its_own_resource_over_its_own_block(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    # 09:00-09:30 with 10 minutes of clean-up: bay-1 busy to 09:40. Bay-2 is
    # taken at 09:30 so that the move can only stay on bay-1.
    mine = shop_bookings.book(invoke, shop_bookings.oil_change("09:00"))["json"]["booking_id"]
    shop_bookings.book(invoke, shop_bookings.oil_change("09:00", "user_bob"))
    shop_bookings.book(invoke, shop_bookings.oil_change("09:30", "user_bob"))

    moved = reschedule(invoke, mine, {"date": MONDAY, "time": "09:30"})

    assert moved["statusCode"] == 200, moved["json"]
    body = moved["json"]
    assert (body["time"], body["resource_id"], body["version"]) == ("09:30", "bay-1", 2)
    assert body["starts_at"] == f"{MONDAY}T09:30:00+01:00"
    [was] = body["moved_from"]
    assert (was["time"], was["resource_id"], was["starts_at"]) == (
        "09:00",
        "bay-1",
        f"{MONDAY}T09:00:00+01:00",
    )
    assert ("bay-1", "oil-change", "user_alice", "09:30", "10:10") in shop_bookings.held(workshop)


def test_a_shop_booking_moves_within_its_service_and_its_resources(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    mine = shop_bookings.book(invoke, shop_bookings.oil_change("09:00"))["json"]["booking_id"]

    to_ana = reschedule(invoke, mine, {"date": MONDAY, "time": "13:00", "resource_id": "ana"})
    to_bay_2 = reschedule(invoke, mine, {"date": MONDAY, "time": "13:00", "resource_id": "bay-2"})
    off_grid = reschedule(invoke, mine, {"date": MONDAY, "time": "13:05"})

    assert to_ana["statusCode"] == 400
    assert to_ana["json"] == {
        "error": "resource_id names a resource that does not perform this service"
    }
    assert (to_bay_2["statusCode"], to_bay_2["json"]["resource_id"]) == (200, "bay-2")
    assert off_grid["statusCode"] == 400
    assert shop_bookings.held(workshop) == [("bay-2", "oil-change", "user_alice", "13:00", "13:40")]


@pytest.mark.parametrize("if_match", ["1", "W/1"])
def test_a_malformed_if_match_moves_nothing(
    invoke: Invoke, db: psycopg.Connection, if_match: str
) -> None:
    mine = book(invoke, "10:00")

    refused = reschedule(invoke, mine, {"date": DAY, "time": "12:00"}, if_match=if_match)

    assert refused["statusCode"] == 400
    assert row(db, mine) == ("10:00", "bay-1", "confirmed", 1)


def test_a_booking_remembers_its_last_twenty_moves(invoke: Invoke, db: psycopg.Connection) -> None:
    mine = book(invoke, "10:00")

    for n in range(21):
        moved = reschedule(invoke, mine, {"date": DAY, "time": f"{11 + n % 2}:00"})
        assert moved["statusCode"] == 200, moved["json"]

    history = moved["json"]["moved_from"]
    # Moves 2 to 21 (versions 2 to 21 before each); the first, from 10:00, is gone.
    assert [m["version"] for m in history] == list(range(2, 22))
    assert row(db, mine)[3] == 22


# --- Idempotency-Key ------------------------------------------------------------------


def keyed_move(
    invoke: Invoke, booking_id: str, time: str, key: str, if_match: str | None = None
) -> dict[str, Any]:
    return reschedule(invoke, booking_id, {"date": DAY, "time": time}, if_match, key)


def test_a_keyed_move_sent_again_is_one_move_even_after_the_booking_moved_on(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "09:00")
    first = keyed_move(invoke, booking_id, "11:00", "move-key-1")
    # The client moves it on with another key; then the first request comes again.
    assert keyed_move(invoke, booking_id, "13:00", "move-key-2")["statusCode"] == 200

    again = keyed_move(invoke, booking_id, "11:00", "move-key-1")

    assert first["statusCode"] == again["statusCode"] == 200
    assert "Idempotent-Replayed" not in first["headers"]
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert again["json"]["time"] == "13:00"  # the booking as it is now: not moved back
    assert row(db, booking_id)[:2] == ("13:00", "bay-1")
    assert row(db, booking_id)[3] == 3


def test_a_keyed_refusal_is_replayed_and_the_same_key_with_another_move_is_refused(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "09:00")
    book(invoke, "10:00", "user_bob")
    full = keyed_move(invoke, booking_id, "10:00", "move-key-3")

    again = keyed_move(invoke, booking_id, "10:00", "move-key-3")
    elsewhere = keyed_move(invoke, booking_id, "12:00", "move-key-3")

    assert (full["statusCode"], full["json"]) == (400, {"error": "Slot full"})
    assert (again["statusCode"], again["json"]) == (400, {"error": "Slot full"})
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert (elsewhere["statusCode"], elsewhere["json"]) == (
        422,
        {"error": "Idempotency-Key reused with a different request"},
    )
    assert row(db, booking_id)[0] == "09:00"


def test_a_keyed_move_answered_with_a_stale_version_is_replayed_as_such(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "09:00")
    assert reschedule(invoke, booking_id, {"date": DAY, "time": "11:00"})["statusCode"] == 200

    stale = keyed_move(invoke, booking_id, "12:00", "move-key-4", if_match='"1"')
    again = keyed_move(invoke, booking_id, "12:00", "move-key-4", if_match='"1"')

    assert stale["statusCode"] == again["statusCode"] == 412
    assert again["headers"]["Idempotent-Replayed"] == "true"
    recorded = db.execute(
        "SELECT user_id, outcome FROM idempotency_keys WHERE key = 'move-key-4'"
    ).fetchall()
    assert recorded == [("user_alice", "changed")]


def test_a_malformed_key_on_a_move_is_refused_and_moves_nothing(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "09:00")

    refused = keyed_move(invoke, booking_id, "11:00", "bad key with spaces\x7f")

    assert (refused["statusCode"], refused["json"]) == (400, {"error": "Invalid Idempotency-Key"})
    assert row(db, booking_id)[0] == "09:00"
