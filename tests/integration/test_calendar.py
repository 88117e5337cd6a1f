"""Calendar files through the real handlers, read back by a real parser (icalendar):
a booking's, kept up to date through its moves and its cancel, and a user's feed,
which only its current token opens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import psycopg
import pytest

from appointments.api import auth
from local.http_api_event import http_api_event
from local.lambda_context import LocalLambdaContext
from tests.conftest import Invoke, load_function
from tests.integration import test_sign_in
from tests.integration.test_booking_lifecycle import cancel
from tests.integration.test_reschedule import DAY, book, reschedule
from tests.integration.test_users import SIGNED

LISBON = ZoneInfo("Europe/Lisbon")


def booking_calendar(invoke: Invoke, booking_id: str, **event_fields: Any) -> dict[str, Any]:
    return raw_invoke(
        invoke,
        f"/bookings/{booking_id}/calendar.ics",
        "GET /bookings/{booking_id}/calendar.ics",
        {"booking_id": booking_id},
        **event_fields,
    )


def user_feed(invoke: Invoke, user_id: str, token: str | None) -> dict[str, Any]:
    return raw_invoke(
        invoke,
        f"/users/{user_id}/calendar.ics",
        "GET /users/{user_id}/calendar.ics",
        {"user_id": user_id},
        raw_query="" if token is None else f"token={token}",
    )


def raw_invoke(
    invoke: Invoke, path: str, route_key: str, path_parameters: dict[str, str], **fields: Any
) -> dict[str, Any]:
    """The handler's answer; a calendar's body is text, not JSON."""
    event = http_api_event(
        "GET", path, route_key=route_key, path_parameters=path_parameters, **fields
    )
    return load_function("bookings").handler(event, LocalLambdaContext("bookings"))


def events_of(answer: dict[str, Any]) -> list[icalendar.Event]:
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["headers"]["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(answer["body"])
    return list(calendar.walk("VEVENT"))


def new_token(invoke: Invoke, user_id: str) -> str:
    answer = invoke(
        "users",
        "PUT",
        f"/users/{user_id}/calendar-token",
        route_key="PUT /users/{user_id}/calendar-token",
        path_parameters={"user_id": user_id},
        **SIGNED,
    )
    assert answer["statusCode"] == 200, answer["json"]
    assert answer["json"]["feed_path"] == (
        f"/users/{user_id}/calendar.ics?token={answer['json']['token']}"
    )
    return str(answer["json"]["token"])


def test_a_bookings_calendar_file_follows_it_through_a_move_and_a_cancel(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")

    (made,) = events_of(booking_calendar(invoke, booking_id))
    reschedule(invoke, booking_id, {"date": DAY, "time": "14:00"})
    (moved,) = events_of(booking_calendar(invoke, booking_id))
    cancel(invoke, booking_id)
    (cancelled,) = events_of(booking_calendar(invoke, booking_id))

    assert made["UID"] == moved["UID"] == cancelled["UID"] == f"{booking_id}@appointments"
    assert [event["SEQUENCE"] for event in (made, moved, cancelled)] == [1, 2, 3]
    assert [str(event["STATUS"]) for event in (made, moved, cancelled)] == [
        "CONFIRMED",
        "CONFIRMED",
        "CANCELLED",
    ]
    assert made.decoded("DTSTART") == datetime.fromisoformat(f"{DAY}T10:00:00+00:00")
    assert moved.decoded("DTSTART") == datetime.fromisoformat(f"{DAY}T14:00:00+00:00")
    assert moved.decoded("DTEND") - moved.decoded("DTSTART") == timedelta(hours=1)
    assert cancelled.decoded("DTSTAMP") >= moved.decoded("DTSTAMP") >= made.decoded("DTSTAMP")


def test_a_shops_booking_is_in_its_zone_with_the_zones_rules_across_a_change_of_clocks(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    """Lisbon moves its clocks back on 2030-10-27 at 01:00 UTC: a feed of bookings
    on either side, and on the day, shows each at its own wall-clock time."""
    new_token_for_alice = new_token(invoke, "user_alice")
    for day in ("2030-10-25", "2030-10-27", "2030-10-28"):
        starts_at = datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=LISBON)
        workshop.execute(
            "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, shop_id,"
            " service_id, resource_id, block) VALUES (%(id)s, 'user_alice', %(day)s, '10:00',"
            " tstzrange(%(at)s, %(at)s + interval '30 minutes'), 'north', 'oil-change',"
            " 'bay-1', tstzrange(%(at)s, %(at)s + interval '40 minutes'))",
            {"id": f"north.booking_{day}", "day": day, "at": starts_at},
        )

    answer = user_feed(invoke, "user_alice", new_token_for_alice)

    calendar = icalendar.Calendar.from_ical(answer["body"])
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Lisbon"
    assert {component.name for component in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}
    rules = zone.to_tz()  # the file's own VTIMEZONE, not this machine's zone data
    events = sorted(events_of(answer), key=lambda event: event.decoded("DTSTART"))
    assert [event["DTSTART"].params["TZID"] for event in events] == ["Europe/Lisbon"] * 3
    starts = [event.decoded("DTSTART") for event in events]
    assert [start.strftime("%H:%M") for start in starts] == ["10:00"] * 3
    offsets = [rules.utcoffset(start.replace(tzinfo=None)) for start in starts]
    assert offsets == [timedelta(hours=1), timedelta(0), timedelta(0)]
    assert [start.utcoffset() for start in starts] == offsets
    assert str(events[0]["SUMMARY"]) == "oil-change at north"


def test_a_feed_opens_with_its_current_token_only_and_not_after_it_is_revoked(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")
    book(invoke, "11:00", "user_bob")
    first = new_token(invoke, "user_alice")

    (event,) = events_of(user_feed(invoke, "user_alice", first))
    assert event["UID"] == f"{booking_id}@appointments"  # Alice's, not Bob's
    second = new_token(invoke, "user_alice")
    refused = [
        user_feed(invoke, "user_alice", first),  # rotated away
        user_feed(invoke, "user_alice", None),
        user_feed(invoke, "user_alice", "not-a-token"),
        user_feed(invoke, "user_bob", second),  # Alice's token, Bob's feed
        user_feed(invoke, "user_nobody", second),
    ]
    assert [(answer["statusCode"], answer["body"]) for answer in refused] == [
        (404, '{"error":"Not found"}')
    ] * 5
    assert len(events_of(user_feed(invoke, "user_alice", second))) == 1
    revoked = invoke(
        "users",
        "DELETE",
        "/users/user_alice/calendar-token",
        route_key="DELETE /users/{user_id}/calendar-token",
        path_parameters={"user_id": "user_alice"},
        **SIGNED,
    )
    assert (revoked["statusCode"], revoked["json"]) == (
        200,
        {"user_id": "user_alice", "calendar_feed": False},
    )
    assert user_feed(invoke, "user_alice", second)["statusCode"] == 404
    row = db.execute("SELECT calendar_token_hash FROM users WHERE id = 'user_alice'").fetchone()
    assert row == (None,)


def test_a_user_without_bookings_gets_an_empty_feed_and_an_unknown_user_no_token(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    token = new_token(invoke, "user_charlie")
    assert events_of(user_feed(invoke, "user_charlie", token)) == []
    unknown = invoke(
        "users",
        "PUT",
        "/users/user_nobody/calendar-token",
        route_key="PUT /users/{user_id}/calendar-token",
        path_parameters={"user_id": "user_nobody"},
        **SIGNED,
    )
    assert (unknown["statusCode"], unknown["json"]) == (404, {"error": "User not found"})


def test_the_token_is_kept_only_as_its_hash(invoke: Invoke, db: psycopg.Connection) -> None:
    token = new_token(invoke, "user_alice")
    (stored,) = db.execute(
        "SELECT calendar_token_hash FROM users WHERE id = 'user_alice'"
    ).fetchone()  # type: ignore[misc]
    assert token not in stored and len(stored) == 64


def test_with_sign_in_a_bookings_calendar_is_its_owners_alone(
    invoke: Invoke, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    booking_id = book(invoke, "10:00")
    sign_in = auth.load_sign_in({"JWT_ISSUER": test_sign_in.ISSUER})
    monkeypatch.setattr(load_function("bookings"), "SIGN_IN", sign_in)
    own = booking_calendar(invoke, booking_id, **test_sign_in.as_caller(test_sign_in.ALICE))
    others = booking_calendar(invoke, booking_id, **test_sign_in.as_caller(test_sign_in.BOB))

    assert len(events_of(own)) == 1
    assert (others["statusCode"], others["body"]) == (404, '{"error":"Booking not found"}')


def test_bookings_in_the_hour_the_clocks_go_back_keep_their_instants(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    """Lisbon's 01:30 happens twice on 2030-10-27 (WEST, then WET): each booking is
    written so that a parser reads it back at its own instant."""
    token = new_token(invoke, "user_alice")
    instants = ["2030-10-27T00:30:00+00:00", "2030-10-27T01:30:00+00:00"]
    for n, at in enumerate(instants):
        workshop.execute(
            "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, shop_id,"
            " service_id, resource_id, block) VALUES (%(id)s, 'user_alice', '2030-10-27',"
            " '01:30', tstzrange(%(at)s, %(at)s + interval '30 minutes'), 'north',"
            " 'oil-change', %(bay)s, tstzrange(%(at)s, %(at)s + interval '40 minutes'))",
            {
                "id": f"north.booking_twice_{n}",
                "at": datetime.fromisoformat(at),
                "bay": f"bay-{n + 1}",
            },
        )

    events = sorted(
        events_of(user_feed(invoke, "user_alice", token)), key=lambda e: e.decoded("DTSTART")
    )

    starts = [event.decoded("DTSTART") for event in events]
    ends = [event.decoded("DTEND") for event in events]
    assert starts == [datetime.fromisoformat(at) for at in instants]
    assert [end - start for start, end in zip(starts, ends, strict=True)] == [
        timedelta(minutes=30)
    ] * 2


def test_a_booking_at_the_end_of_the_calendar_still_has_its_file(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    """A shop with no horizon takes a booking on 9999-12-30: its zone's rules are written
    for the years Python's dates hold, not past them (a 500, found by the API fuzz)."""
    at = datetime.fromisoformat("9999-12-30T10:00:00+00:00")
    workshop.execute(
        "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, shop_id,"
        " service_id, resource_id, block) VALUES ('north.booking_late', 'user_alice',"
        " '9999-12-30', '10:00', tstzrange(%(at)s, %(at)s + interval '30 minutes'), 'north',"
        " 'oil-change', 'bay-1', tstzrange(%(at)s, %(at)s + interval '40 minutes'))",
        {"at": at},
    )

    (event,) = events_of(booking_calendar(invoke, "north.booking_late"))

    assert event.decoded("DTSTART") == at
