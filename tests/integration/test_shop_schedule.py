"""A configured shop through the real handlers: hours, closed dates, bays, notice, time zones.

Each test gives both functions the schedule its settings describe, as a cold
start would read them, and "now" is set by the test, never the clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from appointments.domain import shop
from tests.conftest import REPO, Invoke, bookings_in, load_function
from tests.integration.test_booking_lifecycle import cancel, get
from tests.integration.test_bookings import alice_at, post_booking
from tests.integration.test_idempotency import post_keyed

Configure = Callable[..., None]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    """Give the slots and bookings functions the schedule of these settings."""

    def given(now: datetime | None = None, **settings: str) -> None:
        schedule = shop.load_schedule(settings)
        for function in ("slots", "bookings"):
            monkeypatch.setattr(load_function(function), "SCHEDULE", schedule)
        if now is not None:
            monkeypatch.setattr(shop, "now", lambda: now)

    yield given


def slots(invoke: Invoke, date: str) -> list[str]:
    response = invoke("slots", "GET", "/slots", raw_query=f"date={date}")
    assert response["statusCode"] == 200, response["json"]
    times: list[str] = response["json"]["available_times"]
    return times


def availability(invoke: Invoke, first: str, last: str) -> dict[str, Any]:
    return invoke("slots", "GET", "/availability", raw_query=f"from={first}&to={last}")


def booked(invoke: Invoke, time: str, date: str, user_id: str = "user_alice") -> dict[str, Any]:
    return post_booking(invoke, alice_at(time, date, user_id))


# Opening hours and closed dates

WEEK_HOURS = {"OPENING_HOURS": "Mon-Fri 09:00-12:00,13:00-17:00; Sat 10:00-14:00"}
MONDAY, SATURDAY, SUNDAY = "2030-01-07", "2030-01-12", "2030-01-13"


def test_each_day_offers_its_own_windows(invoke: Invoke, configure: Configure) -> None:
    configure(**WEEK_HOURS)
    assert slots(invoke, MONDAY) == [
        "09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"
    ]  # fmt: skip
    assert slots(invoke, SATURDAY) == ["10:00", "11:00", "12:00", "13:00"]
    assert slots(invoke, SUNDAY) == []


@pytest.mark.parametrize(
    ("time", "date"), [("12:00", MONDAY), ("09:00", SATURDAY), ("10:00", SUNDAY)]
)
def test_outside_the_days_windows_is_shop_closed_and_books_nothing(
    invoke: Invoke, configure: Configure, db: psycopg.Connection, time: str, date: str
) -> None:
    configure(**WEEK_HOURS)
    response = booked(invoke, time, date)
    assert (response["statusCode"], response["json"]) == (400, {"error": "Shop closed"})
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (0,)


def test_a_closed_date_lists_nothing_and_books_nothing(
    invoke: Invoke, configure: Configure
) -> None:
    configure(CLOSED_DATES="2030-12-25,2030-12-26")
    assert slots(invoke, "2030-12-25") == []
    assert booked(invoke, "10:00", "2030-12-26")["json"] == {"error": "Shop closed"}
    assert len(slots(invoke, "2030-12-27")) == 8


def test_a_time_off_the_slot_grid_names_the_grid(invoke: Invoke, configure: Configure) -> None:
    configure(SLOT_MINUTES="45")
    assert slots(invoke, MONDAY)[:3] == ["09:00", "09:45", "10:30"]
    response = booked(invoke, "10:00", MONDAY)
    assert response["json"] == {
        "error": "Time must be a slot start: slots are 45 minutes long, from each opening time"
    }
    assert booked(invoke, "09:45", MONDAY)["statusCode"] == 200


@pytest.mark.parametrize(
    ("settings", "time", "error"),
    [
        ({"SLOT_MINUTES": "30"}, "10:15", "Time must be a slot start: "
         "slots are 30 minutes long, from each opening time"),
        ({}, "10:30", "Time must be on the hour"),
    ],
)  # fmt: skip
def test_a_time_off_the_grid_is_reported_before_a_bad_idempotency_key(
    invoke: Invoke,
    configure: Configure,
    db: psycopg.Connection,
    settings: dict[str, str],
    time: str,
    error: str,
) -> None:
    # The documented order: body, user_id, date, time (form, then grid), the key, the hours.
    configure(**settings)
    response = post_keyed(invoke, alice_at(time, MONDAY), key="k" * 256)
    assert (response["statusCode"], response["json"]) == (400, {"error": error})
    assert bookings_in(db) == []


# Bays


def test_a_slot_takes_as_many_bookings_as_it_has_bays(
    invoke: Invoke, configure: Configure, db: psycopg.Connection
) -> None:
    configure(CAPACITY="3")
    users = ["user_alice", "user_bob", "user_charlie", "user_dave"]
    answers = [booked(invoke, "10:00", MONDAY, user)["statusCode"] for user in users]

    assert answers == [200, 200, 200, 400]
    assert "10:00" not in slots(invoke, MONDAY)
    bays = db.execute("SELECT resource_id FROM bookings ORDER BY resource_id").fetchall()
    assert bays == [("bay-1",), ("bay-2",), ("bay-3",)]


def test_remaining_counts_down_and_a_cancel_frees_one_bay(
    invoke: Invoke, configure: Configure
) -> None:
    configure(CAPACITY="3")

    def remaining() -> int:
        day = availability(invoke, MONDAY, MONDAY)["json"]["days"][0]
        (ten,) = [slot for slot in day["slots"] if slot["time"] == "10:00"]
        left: int = ten["remaining"]
        return left

    ids = []
    for user in ("user_alice", "user_bob", "user_charlie"):
        assert remaining() == 3 - len(ids)
        ids.append(booked(invoke, "10:00", MONDAY, user)["json"]["booking_id"])
    assert remaining() == 0

    cancel(invoke, ids[1])

    assert remaining() == 1
    assert booked(invoke, "10:00", MONDAY, "user_dave")["statusCode"] == 200
    assert booked(invoke, "10:00", MONDAY, "user_bob")["json"] == {"error": "Slot full"}


def test_bookings_on_an_earlier_slot_grid_still_hold_their_time(
    invoke: Invoke, configure: Configure
) -> None:
    # Booked with hourly slots; then the shop moves to half-hour slots.
    configure()
    assert booked(invoke, "09:00", MONDAY)["statusCode"] == 200
    configure(SLOT_MINUTES="30")

    assert slots(invoke, MONDAY)[:2] == ["10:00", "10:30"]  # 09:00 and 09:30 overlap it
    assert booked(invoke, "09:30", MONDAY, "user_bob")["json"] == {"error": "Slot full"}
    assert booked(invoke, "10:00", MONDAY, "user_bob")["statusCode"] == 200


# Notice and horizon, against an injected now


def test_too_soon_and_too_far_are_neither_listed_nor_bookable(
    invoke: Invoke, configure: Configure
) -> None:
    now = datetime(2030, 1, 7, 10, 30, tzinfo=UTC)  # Monday 10:30
    configure(now=now, MINIMUM_NOTICE_MINUTES="90", BOOKING_HORIZON_DAYS="7")

    assert slots(invoke, MONDAY)[0] == "12:00"  # 11:00 starts within 90 minutes
    assert booked(invoke, "11:00", MONDAY)["json"] == {"error": "Too late to book this slot"}
    assert booked(invoke, "12:00", MONDAY)["statusCode"] == 200
    assert slots(invoke, "2030-01-14") != []  # 7 days ahead
    assert slots(invoke, "2030-01-15") == []
    assert booked(invoke, "10:00", "2030-01-15")["json"] == {"error": "Too far in advance"}


# Time zones and daylight saving


def test_spring_forward_skips_the_missing_hour(invoke: Invoke, configure: Configure) -> None:
    configure(SHOP_TIME_ZONE="Europe/Berlin", OPENING_HOURS="Daily 00:00-04:00")

    day = availability(invoke, "2026-03-29", "2026-03-29")["json"]

    assert day["time_zone"] == "Europe/Berlin"
    assert [(s["time"], s["starts_at"], s["ends_at"]) for s in day["days"][0]["slots"]] == [
        ("00:00", "2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00"),
        ("01:00", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"),
        ("03:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"),
    ]
    assert booked(invoke, "02:00", "2026-03-29")["json"] == {"error": "Shop closed"}


def test_fall_back_offers_the_repeated_hour_once(
    invoke: Invoke, configure: Configure, db: psycopg.Connection
) -> None:
    configure(SHOP_TIME_ZONE="America/New_York", OPENING_HOURS="Daily 00:00-04:00")

    day = availability(invoke, "2026-11-01", "2026-11-01")["json"]["days"][0]
    starts = [(s["time"], s["starts_at"]) for s in day["slots"]]
    response = booked(invoke, "01:00", "2026-11-01")

    assert starts == [
        ("00:00", "2026-11-01T00:00:00-04:00"),
        ("01:00", "2026-11-01T01:00:00-04:00"),  # the first of the two 01:00s
        ("02:00", "2026-11-01T02:00:00-05:00"),
        ("03:00", "2026-11-01T03:00:00-05:00"),
    ]
    shown = get(invoke, response["json"]["booking_id"])["json"]
    assert (shown["date"], shown["time"]) == ("2026-11-01", "01:00")
    assert (shown["starts_at"], shown["ends_at"]) == (
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
    )
    stored = db.execute("SELECT lower(during) AT TIME ZONE 'UTC' FROM bookings").fetchone()
    assert stored == (datetime(2026, 11, 1, 5, 0),)


# GET /availability


def test_availability_lists_every_day_closed_ones_empty(
    invoke: Invoke, configure: Configure
) -> None:
    configure(**WEEK_HOURS, CLOSED_DATES="2030-01-08")
    booked(invoke, "10:00", MONDAY)

    response = availability(invoke, MONDAY, SUNDAY)

    assert response["statusCode"] == 200
    days = {day["date"]: day["slots"] for day in response["json"]["days"]}
    assert list(days) == [f"2030-01-{n:02d}" for n in range(7, 14)]
    assert days["2030-01-08"] == [] and days[SUNDAY] == []
    monday = {slot["time"]: slot["remaining"] for slot in days[MONDAY]}
    assert monday["10:00"] == 0 and monday["09:00"] == 1
    assert days[SATURDAY][0] == {
        "time": "10:00",
        "starts_at": "2030-01-12T10:00:00+00:00",
        "ends_at": "2030-01-12T11:00:00+00:00",
        "remaining": 1,
    }


def test_availability_answers_31_days_but_not_32(invoke: Invoke) -> None:
    assert availability(invoke, "2030-01-01", "2030-01-31")["statusCode"] == 200
    response = availability(invoke, "2030-01-01", "2030-02-01")
    assert (response["statusCode"], response["json"]) == (
        400,
        {"error": "from and to must be at most 31 days apart, both included"},
    )


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("from=2030-01-01", "Invalid date format"),
        ("to=2030-01-01", "Invalid date format"),
        ("from=2030-1-01&to=2030-01-02", "Invalid date format"),
        ("from=2030-01-01&to=2030-02-30", "Invalid date format"),
        ("from=2030-01-02&to=2030-01-01", "to must not be before from"),
    ],
)
def test_bad_availability_ranges_are_refused(invoke: Invoke, query: str, error: str) -> None:
    response = invoke("slots", "GET", "/availability", raw_query=query)
    assert (response["statusCode"], response["json"]) == (400, {"error": error})


# Settings are read at cold start, and a bad one stops the function there


@pytest.mark.parametrize("function", ["slots", "bookings"])
@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("SHOP_TIME_ZONE", "Mars/Olympus"),
        ("OPENING_HOURS", "Mon-Fri 9-17"),
        ("CLOSED_DATES", "2030-02-30"),
        ("SLOT_MINUTES", "0"),
        ("CAPACITY", "many"),
        ("MINIMUM_NOTICE_MINUTES", "-5"),
        ("BOOKING_HORIZON_DAYS", "1.5"),
    ],
)
def test_a_malformed_setting_stops_the_cold_start_naming_it(
    function: str, setting: str, value: str
) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://nowhere/x", setting: value}
    started = subprocess.run(
        [sys.executable, "-c", f"import functions.{function}.app"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0
    last_line = started.stderr.strip().splitlines()[-1]
    assert last_line.startswith("appointments.errors.ConfigurationError: " + setting), last_line


def test_the_handlers_default_schedule_is_the_original_shop() -> None:
    for function in ("slots", "bookings"):
        assert shop.load_schedule({}) == load_function(function).SCHEDULE
    assert json.dumps(shop.load_schedule({}).zone_name) == '"UTC"'


def test_a_keyed_retry_gets_its_first_answer_after_the_slot_became_too_close(
    invoke: Invoke, configure: Configure, db: psycopg.Connection
) -> None:
    # The answer to the first request was lost; by the retry, the notice has passed.
    body = json.dumps(alice_at("12:00", MONDAY))
    headers = {"Content-Type": "application/json", "Idempotency-Key": "lost-answer"}
    configure(now=datetime(2030, 1, 7, 10, 29, tzinfo=UTC), MINIMUM_NOTICE_MINUTES="90")
    first = invoke("bookings", "POST", "/bookings", body=body, headers=headers)
    configure(now=datetime(2030, 1, 7, 10, 31, tzinfo=UTC), MINIMUM_NOTICE_MINUTES="90")

    retry = invoke("bookings", "POST", "/bookings", body=body, headers=headers)
    unkeyed = booked(invoke, "12:00", MONDAY, "user_bob")

    assert first["statusCode"] == 200
    assert (retry["statusCode"], retry["json"]) == (200, first["json"])
    assert retry["headers"]["Idempotent-Replayed"] == "true"
    assert unkeyed["json"] == {"error": "Too late to book this slot"}
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (1,)
