"""POST /shops/{shop_id}/bookings through the real bookings handler: a service of the
workshop (tests/workshop.py) booked on one of its resources, with
its buffers, by the rules availability lists starts by; and the booking's
later life through the routes every booking shares.

"now" is set by the test, never the clock.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest

from tests.conftest import Invoke
from tests.workshop import MONDAY, TUESDAY, hold


def book(
    invoke: Invoke,
    body: dict[str, Any],
    shop_id: str = "north",
    key: str | None = None,
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return invoke(
        "bookings",
        "POST",
        f"/shops/{quote(shop_id, safe='')}/bookings",
        route_key="POST /shops/{shop_id}/bookings",
        path_parameters={"shop_id": shop_id},
        body=json.dumps(body),
        headers=headers,
    )


def oil_change(time: str, user_id: str = "user_alice", **fields: str) -> dict[str, str]:
    return {"user_id": user_id, "service_id": "oil-change", "date": MONDAY, "time": time, **fields}


def held(db: psycopg.Connection) -> list[tuple[str, str, str, str, str]]:
    """North's confirmed bookings: (resource, service, user, block start, block end), Lisbon."""
    rows = db.execute(
        "SELECT resource_id, service_id, user_id,"
        " to_char(lower(block) AT TIME ZONE 'Europe/Lisbon', 'HH24:MI'),"
        " to_char(upper(block) AT TIME ZONE 'Europe/Lisbon', 'HH24:MI')"
        " FROM bookings WHERE shop_id = 'north' AND status = 'confirmed'"
        " ORDER BY lower(block), resource_id"
    ).fetchall()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def offered(invoke: Invoke, service_id: str, day: str = MONDAY) -> dict[str, list[str]]:
    """Availability's starts of the day: time -> the resources free for it."""
    response = invoke(
        "slots",
        "GET",
        "/shops/north/availability",
        route_key="GET /shops/{shop_id}/availability",
        path_parameters={"shop_id": "north"},
        raw_query=urlencode({"service_id": service_id, "from": day, "to": day}),
    )
    assert response["statusCode"] == 200, response["json"]
    return {slot["time"]: slot["resource_ids"] for slot in response["json"]["days"][0]["slots"]}


def test_a_booking_takes_the_first_free_resource_and_keeps_it_busy_over_its_block(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    first = book(invoke, oil_change("10:00"))
    second = book(invoke, oil_change("10:00", user_id="user_bob"))
    third = book(invoke, oil_change("10:00", user_id="user_charlie"))

    assert first["statusCode"] == second["statusCode"] == 200
    assert re.fullmatch(r"north\.booking_[A-Za-z0-9_-]{22}", first["json"]["booking_id"])
    assert (third["statusCode"], third["json"]) == (400, {"error": "Slot full"})
    # 30 minutes and 10 of clean-up, lowest id first.
    assert held(workshop) == [
        ("bay-1", "oil-change", "user_alice", "10:00", "10:40"),
        ("bay-2", "oil-change", "user_bob", "10:00", "10:40"),
    ]
    # The clean-up keeps both bays from 10:30; availability says the same.
    assert (book(invoke, oil_change("10:30"))["json"]) == {"error": "Slot full"}
    starts = offered(invoke, "oil-change")
    assert "10:00" in starts and starts["10:00"] == starts["10:30"] == []
    assert book(invoke, oil_change("11:00"))["statusCode"] == 200


def test_a_named_resource_is_the_only_one_tried(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    hold(workshop, "bay-2", ("09:00", "09:40"))

    taken = book(invoke, oil_change("09:00", resource_id="bay-2"))
    free = book(invoke, oil_change("09:00", resource_id="bay-1", user_id="user_bob"))

    assert (taken["statusCode"], taken["json"]) == (400, {"error": "Slot full"})
    assert free["statusCode"] == 200
    assert held(workshop)[0] == ("bay-1", "oil-change", "user_bob", "09:00", "09:40")


def test_services_of_different_lengths_share_a_resource_by_their_blocks(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    # A full service on bay-1 from 12:00 wants it from 11:45 (15 minutes of set-up).
    oil = book(invoke, oil_change("11:00", resource_id="bay-1"))  # bay-1 11:00-11:40
    full = {"user_id": "user_bob", "service_id": "full-service", "date": MONDAY}

    assert oil["statusCode"] == 200
    assert book(invoke, {**full, "time": "12:00", "resource_id": "bay-1"})["statusCode"] == 200
    # 11:00 on bay-1 would overlap the oil change, and Ana starts only at 12:00.
    refused = book(invoke, {**full, "time": "11:00"})
    assert refused["json"] == {"error": "Slot full"}
    assert book(invoke, {**full, "time": "11:00", "resource_id": "ana"})["json"] == {
        "error": "Shop closed"
    }
    assert held(workshop) == [
        ("bay-1", "oil-change", "user_alice", "11:00", "11:40"),
        ("bay-1", "full-service", "user_bob", "11:45", "14:00"),
    ]
    # The next oil change on bay-1 is the one whose block starts at 14:00.
    assert offered(invoke, "oil-change")["13:30"] == ["bay-2"]
    assert offered(invoke, "oil-change")["14:00"] == ["bay-1", "bay-2"]


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"time": "08:30"}, 400, "Shop closed"),
        (
            {"time": "09:10"},
            400,
            "Time must be a slot start: slots are 30 minutes long, from each opening time",
        ),
        ({"time": "9am"}, 400, "Invalid time format"),
        ({"date": "2030-06-05"}, 400, "Shop closed"),  # the shop's closed date
        ({"date": "2030-06-02"}, 400, "Shop closed"),  # a Sunday
        ({"service_id": "tyres"}, 404, "Service not found"),
        ({"service_id": "Tyres!"}, 404, "Service not found"),
        ({"resource_id": "bay-9"}, 404, "Resource not found"),
        (
            {"resource_id": "ana"},
            400,
            "resource_id names a resource that does not perform this service",
        ),
        ({"user_id": "user_nobody"}, 400, "User not found"),
        ({"service_id": 7}, 400, "service_id: Input should be a valid string"),
    ],
)
def test_a_refused_booking_says_why_and_writes_nothing(
    invoke: Invoke, workshop: psycopg.Connection, fields: dict[str, Any], status: int, error: str
) -> None:
    response = book(invoke, {**oil_change("09:00"), **fields})

    assert (response["statusCode"], response["json"]) == (status, {"error": error})
    assert held(workshop) == []


def test_the_shops_notice_is_kept(invoke: Invoke, workshop: psycopg.Connection) -> None:
    # Three hours from 08:00 in Lisbon.
    workshop.execute(
        "UPDATE shops SET minimum_notice_minutes = 180,"
        " catalogue_version = nextval('catalogue_versions') WHERE shop_id = 'north'"
    )

    too_soon = book(invoke, oil_change("10:30"))

    assert (too_soon["statusCode"], too_soon["json"]) == (
        400,
        {"error": "Too late to book this slot"},
    )
    assert book(invoke, oil_change("11:00"))["statusCode"] == 200
    assert "10:30" not in offered(invoke, "oil-change")


def test_an_unknown_shop_is_not_found(invoke: Invoke, workshop: psycopg.Connection) -> None:
    for shop_id in ["south", "North", "a" * 65]:
        response = book(invoke, oil_change("09:00"), shop_id=shop_id)
        assert (response["statusCode"], response["json"]) == (404, {"error": "Shop not found"})
    missing = book(invoke, {"user_id": "user_alice", "date": MONDAY, "time": "09:00"})
    assert missing["json"] == {"error": "service_id: Field required"}


def test_a_resources_own_hours_and_time_off_decide_as_availability_does(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    workshop.execute(
        "INSERT INTO resource_time_off (shop_id, resource_id, time_off_id, during) VALUES"
        " ('north', 'ana', 'dentist', tstzrange(%s, %s))",
        (f"{MONDAY} 14:30+01", f"{MONDAY} 16:00+01"),
    )
    full = {"user_id": "user_bob", "service_id": "full-service", "date": MONDAY}

    # Ana's 14:00 would run into her time off; bay-1 is free.
    assert offered(invoke, "full-service")["14:00"] == ["bay-1"]
    assert book(invoke, {**full, "time": "14:00", "resource_id": "ana"})["json"] == {
        "error": "Slot full"
    }
    assert book(invoke, {**full, "time": "14:00"})["statusCode"] == 200
    # Now neither: listed with no resource free, and refused the same.
    assert offered(invoke, "full-service")["14:00"] == []
    assert book(invoke, {**full, "time": "14:00"})["json"] == {"error": "Slot full"}
    assert held(workshop) == [("bay-1", "full-service", "user_bob", "13:45", "16:00")]


def test_a_change_to_the_catalogue_is_obeyed_by_the_next_booking(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    """The container keeps the day it read; the booking's statement checks its version."""
    assert book(invoke, oil_change("09:00"))["statusCode"] == 200  # the day is read and kept
    change = (
        "UPDATE shops SET opening_hours = %s, catalogue_version = nextval('catalogue_versions')"
    )

    workshop.execute(change + " WHERE shop_id = 'north'", ("Mon-Fri 10:00-18:00",))
    assert book(invoke, oil_change("09:30"))["json"] == {"error": "Shop closed"}
    assert book(invoke, oil_change("17:00"))["statusCode"] == 200

    workshop.execute(change + " WHERE shop_id = 'north'", ("Mon-Fri 09:00-17:00",))
    assert book(invoke, oil_change("09:30"))["statusCode"] == 200
    assert book(invoke, oil_change("17:30"))["json"] == {"error": "Shop closed"}
    # A longer service, with its resources unchanged.
    workshop.execute(
        "UPDATE services SET duration_minutes = 60 WHERE shop_id = 'north'"
        " AND service_id = 'oil-change';"
        " UPDATE shops SET catalogue_version = nextval('catalogue_versions')"
        " WHERE shop_id = 'north'"
    )
    assert book(invoke, oil_change("11:00"))["statusCode"] == 200
    assert ("bay-1", "oil-change", "user_alice", "11:00", "12:10") in held(workshop)


def test_an_idempotency_key_books_once_and_is_not_reused_for_another_request(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    first = book(invoke, oil_change("09:00"), key="k-1")
    again = book(invoke, oil_change("09:00"), key="k-1")
    other_service = book(invoke, {**oil_change("09:00"), "service_id": "full-service"}, key="k-1")
    default_shop = invoke(
        "bookings",
        "POST",
        "/bookings",
        body=json.dumps({"user_id": "user_alice", "date": "2030-06-03", "time": "10:00"}),
        headers={"Idempotency-Key": "k-1"},
    )

    assert first["statusCode"] == again["statusCode"] == 200
    assert again["json"] == first["json"]
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert other_service["statusCode"] == 422
    # A key is the user's at one shop: at another, it is another request's.
    assert default_shop["statusCode"] == 200
    assert "Idempotent-Replayed" not in default_shop["headers"]
    assert len(held(workshop)) == 1


def test_a_shops_booking_is_shown_in_its_zone_with_its_shop_service_and_resource(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    booking_id = book(invoke, oil_change("09:00"))["json"]["booking_id"]
    default_id = invoke(
        "bookings",
        "POST",
        "/bookings",
        body=json.dumps({"user_id": "user_alice", "date": TUESDAY, "time": "10:00"}),
    )["json"]["booking_id"]

    shown = invoke(
        "bookings",
        "GET",
        f"/bookings/{booking_id}",
        route_key="GET /bookings/{booking_id}",
        path_parameters={"booking_id": booking_id},
    )
    assert shown["statusCode"] == 200
    body = shown["json"]
    assert {key: body[key] for key in ("shop_id", "service_id", "resource_id")} == {
        "shop_id": "north",
        "service_id": "oil-change",
        "resource_id": "bay-1",
    }
    assert (body["date"], body["time"], body["starts_at"], body["ends_at"]) == (
        MONDAY,
        "09:00",
        f"{MONDAY}T09:00:00+01:00",
        f"{MONDAY}T09:30:00+01:00",
    )

    def listed(query: str) -> list[dict[str, Any]]:
        page = invoke("bookings", "GET", "/bookings", raw_query=f"user_id=user_alice{query}")
        assert page["statusCode"] == 200, page["json"]
        return list(page["json"]["bookings"])

    everything = listed("")
    assert [b["booking_id"] for b in everything] == [booking_id, default_id]
    # The default shop's booking as the first version showed it.
    assert "shop_id" not in everything[1]
    assert [b["booking_id"] for b in listed("&shop_id=north")] == [booking_id]
    assert [b["booking_id"] for b in listed("&shop_id=default")] == [default_id]
    assert listed("&shop_id=south") == []
    refused = invoke("bookings", "GET", "/bookings", raw_query="user_id=user_alice&shop_id=No!")
    assert refused["statusCode"] == 400

    cancelled = invoke(
        "bookings",
        "DELETE",
        f"/bookings/{booking_id}",
        route_key="DELETE /bookings/{booking_id}",
        path_parameters={"booking_id": booking_id},
    )
    assert cancelled["json"]["status"] == "cancelled"
    assert cancelled["json"]["resource_id"] == "bay-1"
    assert offered(invoke, "oil-change")["09:00"] == ["bay-1", "bay-2"]
    # Another shop's prefix on an id finds nothing.
    elsewhere = "south." + booking_id.split(".", 1)[1]
    assert (
        invoke(
            "bookings",
            "GET",
            f"/bookings/{elsewhere}",
            route_key="GET /bookings/{booking_id}",
            path_parameters={"booking_id": elsewhere},
        )["statusCode"]
        == 404
    )
