"""Holds through the real bookings handler: a slot kept while the client checks
out, confirmed into its booking, released, or left to lapse.

The database's clock decides when a hold lapses: a test that needs one lapsed
moves its expiry into the past with SQL, as time would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.conftest import Invoke
from tests.integration import test_shop_bookings as shop_bookings
from tests.integration.test_booking_lifecycle import get, list_bookings
from tests.integration.test_bookings import alice_at, post_booking
from tests.integration.test_reschedule import reschedule
from tests.workshop import MONDAY

DAY = "2030-01-21"  # a Monday to come
HOLD_FIELDS = {
    "hold_id",
    "expires_at",
    "shop_id",
    "service_id",
    "resource_id",
    "date",
    "time",
    "starts_at",
    "ends_at",
}


def hold(
    invoke: Invoke, body: dict[str, Any] | str, shop_id: str | None = None, **event_fields: Any
) -> dict[str, Any]:
    """POST /holds, or POST /shops/{shop_id}/holds (event_fields: an authorizer, say)."""
    if shop_id is None:
        path, route_key, path_parameters = "/holds", "POST /holds", None
    else:
        path = f"/shops/{shop_id}/holds"
        route_key, path_parameters = "POST /shops/{shop_id}/holds", {"shop_id": shop_id}
    return invoke(
        "bookings",
        "POST",
        path,
        route_key=route_key,
        path_parameters=path_parameters,
        headers={"Content-Type": "application/json"},
        body=body if isinstance(body, str) else json.dumps(body),
        **event_fields,
    )


def on_hold(
    invoke: Invoke, method: str, hold_id: str, action: str = "", **event_fields: Any
) -> dict[str, Any]:
    """GET or DELETE /holds/{hold_id}, or POST /holds/{hold_id}/confirm (action "/confirm")."""
    return invoke(
        "bookings",
        method,
        f"/holds/{hold_id}{action}",
        route_key=f"{method} /holds/{{hold_id}}{action}",
        path_parameters={"hold_id": hold_id},
        **event_fields,
    )


def held(invoke: Invoke, time: str, user_id: str = "user_alice") -> str:
    response = hold(invoke, alice_at(time, DAY, user_id))
    assert response["statusCode"] == 201, response["json"]
    return str(response["json"]["hold_id"])


def slots(invoke: Invoke) -> list[str]:
    response = invoke("slots", "GET", "/slots", raw_query=f"date={DAY}")
    return list(response["json"]["available_times"])


def lapse(db: psycopg.Connection, hold_id: str) -> None:
    """Time passes: the hold's expiry is behind us."""
    db.execute(
        "UPDATE bookings SET hold_expires_at = now() - interval '1 second' WHERE id = %s",
        (hold_id,),
    )


def status_of(db: psycopg.Connection, booking_id: str) -> tuple[str, int]:
    row = db.execute("SELECT status, version FROM bookings WHERE id = %s", (booking_id,)).fetchone()
    assert row is not None
    return row


def test_a_hold_keeps_its_slot_from_bookings_and_other_holds(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    before = datetime.now(UTC)
    response = hold(invoke, alice_at("10:00", DAY))

    assert response["statusCode"] == 201
    body = response["json"]
    assert set(body) == HOLD_FIELDS
    assert body["hold_id"].startswith("booking_")
    assert (body["shop_id"], body["service_id"], body["resource_id"]) == (
        "default",
        "appointment",
        "bay-1",
    )
    assert (body["date"], body["time"]) == (DAY, "10:00")
    assert body["starts_at"] == f"{DAY}T10:00:00+00:00"
    assert body["ends_at"] == f"{DAY}T11:00:00+00:00"
    expires_at = datetime.fromisoformat(body["expires_at"])
    lifetime = timedelta(seconds=300)
    assert before + lifetime - timedelta(seconds=5) < expires_at <= datetime.now(UTC) + lifetime
    # Held: not offered, not bookable, not holdable, by anyone.
    assert "10:00" not in slots(invoke)
    booked = post_booking(invoke, alice_at("10:00", DAY, "user_bob"))
    assert (booked["statusCode"], booked["json"]) == (400, {"error": "Slot full"})
    again = hold(invoke, alice_at("10:00", DAY, "user_bob"))
    assert (again["statusCode"], again["json"]) == (400, {"error": "Slot full"})
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (1,)


def test_a_confirmed_hold_is_its_booking_once_however_often_confirmed(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    hold_id = held(invoke, "11:00")

    first = on_hold(invoke, "POST", hold_id, "/confirm")
    second = on_hold(invoke, "POST", hold_id, "/confirm")

    assert (first["statusCode"], first["json"]) == (200, {"booking_id": hold_id})
    assert (second["statusCode"], second["json"]) == (200, {"booking_id": hold_id})
    booking = get(invoke, hold_id)
    assert booking["statusCode"] == 200
    assert (booking["json"]["status"], booking["json"]["time"]) == ("confirmed", "11:00")
    assert booking["headers"]["ETag"] == '"1"'  # a booking made by its confirmation
    shown = on_hold(invoke, "GET", hold_id)["json"]
    assert (shown["status"], shown["booking_id"]) == ("confirmed", hold_id)
    assert list_bookings(invoke, user_id="user_alice")["json"]["bookings"][0]["booking_id"] == (
        hold_id
    )
    released = on_hold(invoke, "DELETE", hold_id)
    assert (released["statusCode"], released["json"]) == (409, {"error": "Hold already confirmed"})
    assert status_of(db, hold_id) == ("confirmed", 1)


def test_a_lapsed_hold_blocks_no_one_and_cannot_be_confirmed(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    hold_id = held(invoke, "12:00")
    lapse(db, hold_id)

    assert "12:00" in slots(invoke)
    refused = on_hold(invoke, "POST", hold_id, "/confirm")
    assert (refused["statusCode"], refused["json"]) == (409, {"error": "Hold expired"})
    assert on_hold(invoke, "GET", hold_id)["json"]["status"] == "expired"
    # Another client books the slot: the lapsed hold gives way, marked expired.
    booked = post_booking(invoke, alice_at("12:00", DAY, "user_bob"))
    assert booked["statusCode"] == 200, booked["json"]
    assert status_of(db, hold_id)[0] == "expired"
    still = on_hold(invoke, "POST", hold_id, "/confirm")
    assert (still["statusCode"], still["json"]) == (409, {"error": "Hold expired"})


def test_a_released_hold_frees_its_slot_at_once_and_releasing_again_changes_nothing(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    hold_id = held(invoke, "13:00")

    first = on_hold(invoke, "DELETE", hold_id)
    second = on_hold(invoke, "DELETE", hold_id)

    assert first["statusCode"] == second["statusCode"] == 200
    assert first["json"]["status"] == second["json"]["status"] == "released"
    assert first["json"] == second["json"]
    assert "13:00" in slots(invoke)
    refused = on_hold(invoke, "POST", hold_id, "/confirm")
    assert (refused["statusCode"], refused["json"]) == (409, {"error": "Hold released"})
    assert held(invoke, "13:00", "user_bob")  # free for anyone
    assert status_of(db, hold_id)[0] == "released"


def test_a_user_has_at_most_three_live_holds(invoke: Invoke, db: psycopg.Connection) -> None:
    holds = [held(invoke, time) for time in ("09:00", "10:00", "11:00")]

    fourth = hold(invoke, alice_at("12:00", DAY))
    assert (fourth["statusCode"], fourth["json"]) == (409, {"error": "Too many holds"})
    assert held(invoke, "12:00", "user_bob")  # another user's are their own
    # A released hold, or a lapsed one, no longer counts; a confirmed one is a booking.
    on_hold(invoke, "DELETE", holds[0])
    lapse(db, holds[1])
    on_hold(invoke, "POST", holds[2], "/confirm")
    assert [held(invoke, time) for time in ("13:00", "14:00", "15:00")]
    assert hold(invoke, alice_at("16:00", DAY))["statusCode"] == 409


def test_holds_are_not_bookings_to_the_booking_routes(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    hold_id = held(invoke, "14:00")

    assert get(invoke, hold_id)["json"] == {"error": "Booking not found"}
    cancelled = invoke(
        "bookings",
        "DELETE",
        f"/bookings/{hold_id}",
        route_key="DELETE /bookings/{booking_id}",
        path_parameters={"booking_id": hold_id},
    )
    assert (cancelled["statusCode"], cancelled["json"]) == (404, {"error": "Booking not found"})
    moved = reschedule(invoke, hold_id, {"date": DAY, "time": "15:00"})
    assert (moved["statusCode"], moved["json"]) == (404, {"error": "Booking not found"})
    everything = list_bookings(invoke, user_id="user_alice", status="all")
    assert everything["json"]["bookings"] == []
    assert status_of(db, hold_id) == ("held", 1)


@pytest.mark.parametrize("hold_id", ["booking_unknownunknownunkno", "not an id", "x" * 300])
def test_an_unknown_hold_is_not_found_on_every_route(invoke: Invoke, hold_id: str) -> None:
    for method, action in (("GET", ""), ("DELETE", ""), ("POST", "/confirm")):
        response = on_hold(invoke, method, hold_id, action)
        assert (response["statusCode"], response["json"]) == (404, {"error": "Hold not found"})


def test_a_bookings_id_is_not_a_hold(invoke: Invoke, db: psycopg.Connection) -> None:
    booked = post_booking(invoke, alice_at("15:00", DAY))
    booking_id = booked["json"]["booking_id"]

    for method, action in (("GET", ""), ("DELETE", ""), ("POST", "/confirm")):
        response = on_hold(invoke, method, booking_id, action)
        assert (response["statusCode"], response["json"]) == (404, {"error": "Hold not found"})
    assert status_of(db, booking_id) == ("confirmed", 1)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{", "Request body must be valid JSON"),
        ({"user_id": "user_alice", "date": DAY}, "time: Field required"),
        ({"user_id": "user_alice", "date": "21/01/2030", "time": "10:00"}, "Invalid date format"),
        ({"user_id": "user_nobody", "date": DAY, "time": "10:00"}, "User not found"),
        ({"user_id": "user_alice", "date": DAY, "time": "10:30"}, "Time must be on the hour"),
        ({"user_id": "user_alice", "date": DAY, "time": "18:00"}, "Shop closed"),
    ],
)
def test_a_refused_hold_says_why_as_a_booking_would_and_writes_nothing(
    invoke: Invoke, db: psycopg.Connection, body: dict[str, str] | str, error: str
) -> None:
    response = hold(invoke, body)

    assert (response["statusCode"], response["json"]) == (400, {"error": error})
    as_a_booking = post_booking(invoke, body if isinstance(body, str) else json.dumps(body))
    assert as_a_booking["json"] == response["json"]
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (0,)


def test_a_shops_hold_keeps_its_resource_over_the_services_block(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    response = hold(invoke, shop_bookings.oil_change("10:00", resource_id="bay-2"), "north")

    assert response["statusCode"] == 201, response["json"]
    body = response["json"]
    assert (body["shop_id"], body["service_id"], body["resource_id"]) == (
        "north",
        "oil-change",
        "bay-2",
    )
    assert body["hold_id"].startswith("north.booking_")
    assert (body["starts_at"], body["ends_at"]) == (
        f"{MONDAY}T10:00:00+01:00",
        f"{MONDAY}T10:30:00+01:00",
    )
    # bay-2 is busy to 10:40 (ten minutes of clean-up); bay-1 is free.
    assert shop_bookings.offered(invoke, "oil-change")["10:30"] == ["bay-1"]
    refused = shop_bookings.book(
        invoke, shop_bookings.oil_change("10:30", "user_bob", resource_id="bay-2")
    )
    assert (refused["statusCode"], refused["json"]) == (400, {"error": "Slot full"})
    confirmed = on_hold(invoke, "POST", body["hold_id"], "/confirm")
    assert confirmed["json"] == {"booking_id": body["hold_id"]}
    shown = get(invoke, body["hold_id"])["json"]
    assert (shown["status"], shown["resource_id"], shown["version"]) == ("confirmed", "bay-2", 1)


def test_an_unknown_shop_or_service_is_not_held(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    unknown_shop = hold(invoke, shop_bookings.oil_change("10:00"), "south")
    unknown_service = hold(
        invoke, {**shop_bookings.oil_change("10:00"), "service_id": "tyres"}, "north"
    )

    assert (unknown_shop["statusCode"], unknown_shop["json"]) == (404, {"error": "Shop not found"})
    assert (unknown_service["statusCode"], unknown_service["json"]) == (
        404,
        {"error": "Service not found"},
    )
    assert workshop.execute("SELECT count(*) FROM bookings").fetchone() == (0,)


def test_a_shops_own_hold_time_is_how_long_its_holds_live(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    workshop.execute("UPDATE shops SET hold_seconds = 60 WHERE shop_id = 'north'")
    before = datetime.now(UTC)

    response = hold(invoke, shop_bookings.oil_change("10:00"), "north")

    expires_at = datetime.fromisoformat(response["json"]["expires_at"])
    assert before + timedelta(seconds=55) < expires_at <= datetime.now(UTC) + timedelta(seconds=60)


def test_a_keyed_confirmation_is_replayed_and_its_key_is_one_confirmations(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    hold_id, other = held(invoke, "09:00"), held(invoke, "10:00")

    def confirm(hold: str, key: str) -> dict[str, Any]:
        return on_hold(invoke, "POST", hold, "/confirm", headers={"Idempotency-Key": key})

    first, again = confirm(hold_id, "confirm-1"), confirm(hold_id, "confirm-1")
    reused = confirm(other, "confirm-1")

    assert (first["statusCode"], first["json"]) == (200, {"booking_id": hold_id})
    assert (again["statusCode"], again["json"]) == (200, {"booking_id": hold_id})
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert reused["statusCode"] == 422
    assert status_of(db, other) == ("held", 1)
    lapse(db, other)
    expired, expired_again = confirm(other, "confirm-2"), confirm(other, "confirm-2")
    assert (expired["statusCode"], expired["json"]) == (409, {"error": "Hold expired"})
    assert (expired_again["statusCode"], expired_again["json"]) == (409, {"error": "Hold expired"})
    assert expired_again["headers"]["Idempotent-Replayed"] == "true"
    keys = db.execute("SELECT key, outcome FROM idempotency_keys ORDER BY key").fetchall()
    assert keys == [("confirm-1", "booked"), ("confirm-2", "hold_expired")]
