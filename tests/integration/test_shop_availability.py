"""GET /shops/{shop_id}/availability through the real slots handler: a workshop's
services on its resources, each with its own hours, buffers and time off.

"now" is set by the test, never the clock. The workshop (tests/workshop.py) and
its bookings are written with SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest

from appointments.domain import shop
from tests.conftest import Invoke
from tests.workshop import MONDAY, TUESDAY, hold


def availability(
    invoke: Invoke, shop_id: str = "north", first: str = MONDAY, last: str = MONDAY, **query: str
) -> tuple[int, Any]:
    params = {"from": first, "to": last, **query}
    response = invoke(
        "slots",
        "GET",
        f"/shops/{quote(shop_id, safe='')}/availability",
        route_key="GET /shops/{shop_id}/availability",
        path_parameters={"shop_id": shop_id},
        raw_query=urlencode(params),
    )
    return response["statusCode"], response["json"]


def starts(body: dict[str, Any], day: int = 0) -> dict[str, list[str]]:
    """A day's starts: time -> the resources free for it."""
    slots = body["days"][day]["slots"]
    assert all(slot["remaining"] == len(slot["resource_ids"]) for slot in slots)
    return {slot["time"]: slot["resource_ids"] for slot in slots}


def test_a_service_is_offered_every_duration_on_every_resource_free_for_its_block(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    # bay-1 is busy 10:00-10:40 (a 30-minute oil change and its clean-up).
    hold(workshop, "bay-1", ("10:00", "10:40"))

    status, body = availability(invoke, service_id="oil-change")

    assert status == 200
    assert (body["shop_id"], body["service_id"], body["time_zone"]) == (
        "north",
        "oil-change",
        "Europe/Lisbon",
    )
    offered = starts(body)
    assert list(offered) == [f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30)]
    assert offered["09:00"] == ["bay-1", "bay-2"]
    # 09:30's clean-up would run to 10:10; 10:30's block starts before 10:40.
    assert offered["09:30"] == offered["10:00"] == offered["10:30"] == ["bay-2"]
    assert offered["11:00"] == ["bay-1", "bay-2"]
    first = body["days"][0]["slots"][0]
    assert (first["starts_at"], first["ends_at"]) == (
        f"{MONDAY}T09:00:00+01:00",
        f"{MONDAY}T09:30:00+01:00",
    )


def test_each_resource_offers_its_own_hours_and_time_off_keeps_it_busy(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    workshop.execute(
        "INSERT INTO resource_time_off (shop_id, resource_id, time_off_id, during) VALUES"
        " ('north', 'ana', 'dentist', tstzrange(%s, %s))",
        (f"{MONDAY} 15:30+01", f"{MONDAY} 16:30+01"),
    )

    status, body = availability(invoke, service_id="full-service")

    assert status == 200
    # Two hours every hour: bay-1 from 09:00 to 15:00, Ana from 12:00 to 14:00.
    # Set-up starts 15 minutes earlier; Ana's 14:00 would run into her time off.
    assert starts(body) == {
        "09:00": ["bay-1"],
        "10:00": ["bay-1"],
        "11:00": ["bay-1"],
        "12:00": ["ana", "bay-1"],
        "13:00": ["ana", "bay-1"],
        "14:00": ["bay-1"],
        "15:00": ["bay-1"],
    }


def test_one_resource_may_be_asked_for(invoke: Invoke, workshop: psycopg.Connection) -> None:
    hold(workshop, "ana", ("13:00", "15:00"))

    status, body = availability(invoke, service_id="full-service", resource_id="ana")

    assert status == 200
    # 12:00 would run into the booking at 13:00; 14:00's set-up starts at 13:45.
    assert starts(body) == {"12:00": [], "13:00": [], "14:00": []}


def test_closed_dates_and_notice_are_the_shops(
    invoke: Invoke, workshop: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    workshop.execute("UPDATE shops SET minimum_notice_minutes = 60 WHERE shop_id = 'north'")
    monkeypatch.setattr(shop, "now", lambda: datetime(2030, 6, 4, 9, 10, tzinfo=UTC))

    status, body = availability(invoke, first=TUESDAY, last="2030-06-05", service_id="oil-change")

    assert status == 200
    # 10:10 in Lisbon: with an hour's notice, 11:30 is the first start.
    assert body["days"][0]["slots"][0]["time"] == "11:30"
    assert body["days"][1] == {"date": "2030-06-05", "slots": []}


def test_the_default_shop_offers_what_availability_offers(invoke: Invoke) -> None:
    invoke(
        "bookings",
        "POST",
        "/bookings",
        body='{"user_id": "user_alice", "date": "2031-03-03", "time": "10:00"}',
    )
    seed = invoke("slots", "GET", "/availability", raw_query="from=2031-03-03&to=2031-03-04")

    status, body = availability(
        invoke, "default", "2031-03-03", "2031-03-04", service_id="appointment"
    )

    assert status == 200
    assert body["time_zone"] == seed["json"]["time_zone"]
    for ours, theirs in zip(body["days"], seed["json"]["days"], strict=True):
        assert [{k: v for k, v in s.items() if k != "resource_ids"} for s in ours["slots"]] == (
            theirs["slots"]
        )
    ten = next(s for s in body["days"][0]["slots"] if s["time"] == "10:00")
    assert (ten["remaining"], ten["resource_ids"]) == (0, [])


@pytest.mark.parametrize(
    ("shop_id", "query", "answer"),
    [
        ("nowhere", {"service_id": "oil-change"}, (404, "Shop not found")),
        ("North", {"service_id": "oil-change"}, (404, "Shop not found")),
        ("north", {"service_id": "tyres"}, (404, "Service not found")),
        ("north", {"service_id": "Oil change"}, (404, "Service not found")),
        (
            "north",
            {"service_id": "oil-change", "resource_id": "bay-9"},
            (404, "Resource not found"),
        ),
        (
            "north",
            {"service_id": "oil-change", "resource_id": "a\x00"},
            (404, "Resource not found"),
        ),
        (
            "north",
            {"service_id": "oil-change", "resource_id": "ana"},
            (400, "resource_id names a resource that does not perform this service"),
        ),
        ("north", {}, (400, "service_id is required")),
        ("north", {"service_id": ""}, (400, "service_id is required")),
        ("north", {"service_id": "oil-change", "to": "2030-06-0"}, (400, "Invalid date format")),
        (
            "north",
            {"service_id": "oil-change", "to": "2030-07-04"},
            (400, "from and to must be at most 31 days apart, both included"),
        ),
        (
            "north",
            {"service_id": "oil-change", "to": "2030-06-02"},
            (400, "to must not be before from"),
        ),
    ],
)
def test_a_request_that_names_nothing_bookable_is_told_what(
    invoke: Invoke,
    workshop: psycopg.Connection,
    shop_id: str,
    query: dict[str, str],
    answer: tuple[int, str],
) -> None:
    status, body = availability(invoke, shop_id, **query)
    assert (status, body) == (answer[0], {"error": answer[1]})


def test_the_default_shops_slots_count_its_bookings_only(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    # North's bay-1 at 10:00 UTC on a Monday: the default shop's bay-1 stays free.
    workshop.execute(
        "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, shop_id, service_id,"
        " resource_id, block) VALUES ('booking_north', 'user_alice', %s, '11:00',"
        " tstzrange(%s, %s), 'north', 'oil-change', 'bay-1', tstzrange(%s, %s))",
        (MONDAY, *(f"{MONDAY} 10:00Z", f"{MONDAY} 11:00Z") * 2),
    )

    seed = invoke("slots", "GET", "/availability", raw_query=f"from={MONDAY}&to={MONDAY}")

    ten = next(s for s in seed["json"]["days"][0]["slots"] if s["time"] == "10:00")
    assert ten["remaining"] == 1


@pytest.mark.parametrize(
    ("first", "last"), [("0001-01-01", "0001-01-03"), ("9999-12-29", "9999-12-31")]
)
def test_the_first_and_last_days_of_the_calendar_are_answered(
    invoke: Invoke, workshop: psycopg.Connection, first: str, last: str
) -> None:
    status, body = availability(invoke, first=first, last=last, service_id="oil-change")
    assert status == 200
    assert (body["days"][0]["date"], body["days"][-1]["date"]) == (first, last)


def test_an_answer_too_long_for_lambda_is_refused(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    # 200 resources, a start every 5 minutes round the clock, for a month.
    workshop.execute(
        "INSERT INTO resources (shop_id, resource_id, name, opening_hours)"
        " SELECT 'north', 'lift-' || n, 'Lift', 'Daily 00:00-24:00'"
        " FROM generate_series(1, 200) AS n"
    )
    workshop.execute(
        "INSERT INTO services (shop_id, service_id, name, duration_minutes)"
        " VALUES ('north', 'check', 'Check', 5)"
    )
    workshop.execute(
        "INSERT INTO service_resources (shop_id, service_id, resource_id)"
        " SELECT 'north', 'check', 'lift-' || n FROM generate_series(1, 200) AS n"
    )

    status, body = availability(invoke, last="2030-07-03", service_id="check")
    assert (status, body) == (
        400,
        {"error": "The answer would be too long: ask for fewer days, or one resource_id"},
    )
    assert (
        availability(invoke, last="2030-06-04", service_id="check", resource_id="lift-7")[0] == 200
    )
