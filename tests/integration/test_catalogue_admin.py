"""The catalogue's IAM-only administration through the real handler: a workshop
put together, changed and taken apart; refusals that write nothing.

API Gateway's IAM authorizer decides who gets here (the dev server's tests
sign requests with botocore); this function decides what the request may do.
Bookings of the workshop are written with SQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from appointments.data import store
from local.http_api_event import iam_authorizer_context
from tests.conftest import Invoke
from tests.integration.test_catalogue import wait_for_lock_waiter

SIGNED = {"authorizer": iam_authorizer_context()}
NORTH = {
    "name": "North",
    "time_zone": "Europe/Lisbon",
    "opening_hours": "mon-fri 09:00-17:00",
    "closed_dates": ["2030-12-25", "2030-01-01", "2030-12-25"],
}
ANA = {
    "name": "Ana",
    "opening_hours": "Mon-Fri 12:00-16:00",
    "time_off": [
        {
            "time_off_id": "dentist",
            "starts_at": "2030-06-03T15:30:00+01:00",
            "ends_at": "2030-06-03T16:30:00+01:00",
        }
    ],
}
OIL_CHANGE = {
    "name": "Oil change",
    "duration_minutes": 30,
    "buffer_after_minutes": 10,
    "resource_ids": ["bay-2", "bay-1"],
}
_BOOKING_NUMBERS = count(200)


def admin(
    invoke: Invoke, method: str, path: str, body: Any = None, signed: Any = SIGNED
) -> tuple[int, Any]:
    """An administration request, as API Gateway hands it on: ids decoded."""
    segments = path.strip("/").split("/")
    template = ["shops", "{shop_id}", "resources", "{resource_id}"]
    if len(segments) > 2 and segments[2] == "services":
        template[2:] = ["services", "{service_id}"]
    names = [name.strip("{}") for name in template[1 : len(segments) : 2]]
    values = segments[1::2]
    response = invoke(
        "catalogue_admin",
        method,
        "/" + "/".join(quote(segment, safe="") for segment in segments),
        route_key=f"{method} /" + "/".join(template[: len(segments)]),
        path_parameters=dict(zip(names, values, strict=True)),
        body=None if body is None else body if isinstance(body, str) else json.dumps(body),
        **signed,
    )
    return response["statusCode"], response["json"]


def public(invoke: Invoke, route: str) -> Any:
    response = invoke(
        "catalogue",
        "GET",
        f"/shops/north{route}",
        route_key=f"GET /shops/{{shop_id}}{route}",
        path_parameters={"shop_id": "north"},
    )
    assert response["statusCode"] == 200, response
    return response["json"]


def version(db: psycopg.Connection, shop_id: str = "north") -> int | None:
    row = db.execute(
        "SELECT catalogue_version FROM shops WHERE shop_id = %s", (shop_id,)
    ).fetchone()
    return None if row is None else int(row[0])


def catalogue_rows(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    """Every row of shop north, in every table of the catalogue."""
    return [
        tuple(row)
        for table in ("shops", "resources", "resource_time_off", "services", "service_resources")
        for row in db.execute(
            f"SELECT '{table}', to_jsonb(t)::text FROM {table} AS t"
            " WHERE shop_id = 'north' ORDER BY 2"
        )
    ]


@pytest.fixture
def workshop(invoke: Invoke, db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """Shop north with bay-1, bay-2 and Ana; an oil change on the bays."""
    assert admin(invoke, "PUT", "/shops/north", NORTH)[0] == 201
    for bay in ("bay-1", "bay-2"):
        assert admin(invoke, "PUT", f"/shops/north/resources/{bay}", {"name": bay})[0] == 201
    assert admin(invoke, "PUT", "/shops/north/resources/ana", ANA)[0] == 201
    assert admin(invoke, "PUT", "/shops/north/services/oil-change", OIL_CHANGE)[0] == 201
    yield db
    db.execute("DELETE FROM bookings WHERE shop_id = 'north'")
    db.execute("DELETE FROM services WHERE shop_id = 'north'")
    db.execute("DELETE FROM resources WHERE shop_id = 'north'")
    db.execute("DELETE FROM shops WHERE shop_id = 'north'")


def booked(db: psycopg.Connection, resource_id: str, starts_at: datetime) -> str:
    """A confirmed oil change of shop north on `resource_id`, 30 minutes from `starts_at`."""
    booking_id = f"booking_admin_{next(_BOOKING_NUMBERS)}"
    ends_at = starts_at + timedelta(minutes=30)
    db.execute(
        "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, shop_id, service_id,"
        " resource_id, block) VALUES (%s, 'user_alice', %s, %s, tstzrange(%s, %s),"
        " 'north', 'oil-change', %s, tstzrange(%s, %s))",
        (
            booking_id,
            starts_at.date(),
            starts_at.time(),
            starts_at,
            ends_at,
            resource_id,
            starts_at,
            ends_at,
        ),
    )
    return booking_id


# --- Putting a workshop together ----------------------------------------------------


def test_a_workshop_put_together_is_what_the_public_routes_show(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    assert public(invoke, "") == {
        "shop_id": "north",
        "name": "North",
        "time_zone": "Europe/Lisbon",
        "opening_hours": "Mon-Fri 09:00-17:00",  # written back in the parameter's form
        "closed_dates": ["2030-01-01", "2030-12-25"],
        "minimum_notice_minutes": None,
        "booking_horizon_days": None,
        "hold_seconds": None,
        "change_notice_minutes": None,
    }
    assert public(invoke, "/services") == {
        "services": [
            {
                "service_id": "oil-change",
                "name": "Oil change",
                "duration_minutes": 30,
                "buffer_before_minutes": 0,
                "buffer_after_minutes": 10,
                "step_minutes": 30,
                "resource_ids": ["bay-1", "bay-2"],
            }
        ]
    }
    resources = public(invoke, "/resources")["resources"]
    assert [(r["resource_id"], r["opening_hours"]) for r in resources] == [
        ("ana", "Mon-Fri 12:00-16:00"),
        ("bay-1", "Mon-Fri 09:00-17:00"),
        ("bay-2", "Mon-Fri 09:00-17:00"),
    ]


def test_a_shops_hold_time_and_change_cut_off_are_put_and_shown(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    settings = {"hold_seconds": 120, "change_notice_minutes": 1440}

    status, answer = admin(invoke, "PUT", "/shops/north", {**NORTH, **settings})

    assert status == 200
    assert {name: answer[name] for name in settings} == settings
    shown = public(invoke, "")
    assert {name: shown[name] for name in settings} == settings
    # Left out of a later PUT: back to none (a PUT replaces the whole shop).
    assert admin(invoke, "PUT", "/shops/north", NORTH)[1]["hold_seconds"] is None


def test_a_resource_and_a_service_read_back_as_they_were_put(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    assert admin(invoke, "GET", "/shops/north/resources/ana") == (
        200,
        {
            "shop_id": "north",
            "resource_id": "ana",
            "name": "Ana",
            "opening_hours": "Mon-Fri 12:00-16:00",
            "time_off": [
                {
                    "time_off_id": "dentist",
                    "starts_at": "2030-06-03T14:30:00Z",
                    "ends_at": "2030-06-03T15:30:00Z",
                }
            ],
        },
    )
    assert admin(invoke, "GET", "/shops/north/services/oil-change") == (
        200,
        {
            "shop_id": "north",
            "service_id": "oil-change",
            "name": "Oil change",
            "duration_minutes": 30,
            "buffer_before_minutes": 0,
            "buffer_after_minutes": 10,
            "step_minutes": None,
            "resource_ids": ["bay-1", "bay-2"],
        },
    )


def test_a_put_replaces_the_whole_thing_and_gives_the_catalogue_a_new_version(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    versions = [version(workshop)]

    replaced = admin(invoke, "PUT", "/shops/north/resources/ana", {"name": "Ana S."})
    versions.append(version(workshop))
    assert replaced[0] == 200
    assert replaced[1]["time_off"] == [] and replaced[1]["opening_hours"] is None
    assert admin(invoke, "GET", "/shops/north/resources/ana")[1] == replaced[1]
    status, service = admin(
        invoke, "PUT", "/shops/north/services/oil-change", {**OIL_CHANGE, "resource_ids": ["ana"]}
    )
    assert (status, service["resource_ids"]) == (200, ["ana"])
    versions.append(version(workshop))
    assert admin(invoke, "PUT", "/shops/north", {**NORTH, "name": "North side"})[0] == 200
    versions.append(version(workshop))

    assert len(set(versions)) == 4  # a new version each time
    assert public(invoke, "")["name"] == "North side"
    assert public(invoke, "/services")["services"][0]["resource_ids"] == ["ana"]


# --- Refusals that write nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/shops/north", {**NORTH, "name": ""}, "name: must be text of 1 to 200 characters"),
        ("/shops/north", {**NORTH, "name": "a\nb"}, "name: must be printable text"),
        ("/shops/north", {"name": "N"}, "time_zone: Field required"),
        (
            "/shops/north",
            {**NORTH, "time_zone": "Europe/Atlantis"},
            "time_zone: must be an IANA time zone, e.g. Europe/Lisbon",
        ),
        (
            "/shops/north",
            {**NORTH, "opening_hours": "Mon-Fri 09:00-25:00"},
            'opening_hours: "Mon-Fri 09:00-25:00": 25:00 is not a time of day',
        ),
        (
            "/shops/north",
            {**NORTH, "closed_dates": ["2030-02-30"]},
            "closed_dates: must be a list of dates written YYYY-MM-DD",
        ),
        (
            "/shops/north",
            {**NORTH, "minimum_notice_minutes": -1},
            "minimum_notice_minutes: must be a whole number from 0 to 999999",
        ),
        (
            "/shops/north",
            {**NORTH, "booking_horizon_days": True},
            "booking_horizon_days: must be a whole number from 0 to 99999",
        ),
        (
            "/shops/north",
            {**NORTH, "hold_seconds": 3601},
            "hold_seconds: must be a whole number from 1 to 3600",
        ),
        (
            "/shops/north",
            {**NORTH, "change_notice_minutes": "60"},
            "change_notice_minutes: must be a whole number from 0 to 999999",
        ),
        (
            "/shops/north/services/oil-change",
            {**OIL_CHANGE, "duration_minutes": 4},
            "duration_minutes: must be a whole number from 5 to 1440",
        ),
        (
            "/shops/north/services/oil-change",
            {**OIL_CHANGE, "duration_minutes": 30.0},
            "duration_minutes: must be a whole number from 5 to 1440",
        ),
        (
            "/shops/north/services/oil-change",
            {**OIL_CHANGE, "buffer_before_minutes": 1441},
            "buffer_before_minutes: must be a whole number from 0 to 1440",
        ),
        (
            "/shops/north/services/oil-change",
            {**OIL_CHANGE, "resource_ids": "bay-1"},
            "resource_ids: must be a list of resource ids",
        ),
        (
            "/shops/north/services/oil-change",
            {**OIL_CHANGE, "resource_ids": ["Bay 1"]},
            "resource_ids: 'Bay 1' is not a resource id (1-64 characters of a-z, 0-9, - and _)",
        ),
        (
            "/shops/north/services/oil-change",
            {**OIL_CHANGE, "resource_ids": ["bay-1", "bay-9", "lift"]},
            "resource_ids: not resources of this shop: bay-9, lift",
        ),
        (
            "/shops/north/resources/ana",
            {**ANA, "time_off": [{"time_off_id": "x", "starts_at": "2030-06-03T15:30:00"}]},
            "time_off: [0].starts_at must be an RFC 3339 date-time with an offset,"
            " e.g. 2030-08-01T09:00:00+01:00",
        ),
        (
            "/shops/north/resources/ana",
            {
                **ANA,
                "time_off": [
                    {
                        "time_off_id": "x",
                        "starts_at": "2030-06-03T15:30:00Z",
                        "ends_at": "2030-06-03T15:30:00+00:00",
                    }
                ],
            },
            "time_off: [0].ends_at must be after starts_at",
        ),
        (
            "/shops/north/resources/ana",
            {**ANA, "time_off": ANA["time_off"] * 2},
            "time_off: each time_off_id must be used once",
        ),
        (
            "/shops/north/resources/ana",
            {
                **ANA,
                "time_off": [
                    {
                        "time_off_id": "x",
                        "starts_at": "2030-06-03T15:30:00Z",
                        "ends_at": "9999-12-31T23:59:59-12:00",
                    }
                ],
            },
            "time_off: [0].ends_at must be in the years 1900 to 8999",
        ),
        (
            "/shops/north/resources/ana",
            {
                **ANA,
                "time_off": [
                    {
                        "time_off_id": "x",
                        "starts_at": "0001-01-01T00:00:00+01:00",
                        "ends_at": "2030-06-03T15:30:00Z",
                    }
                ],
            },
            "time_off: [0].starts_at must be in the years 1900 to 8999",
        ),
        ("/shops/north/resources/ana", "[]", "Request body must be a JSON object"),
        ("/shops/north/resources/ana", "{", "Request body must be valid JSON"),
    ],
)
def test_a_bad_body_is_refused_naming_its_field_and_writes_nothing(
    invoke: Invoke, workshop: psycopg.Connection, path: str, body: Any, message: str
) -> None:
    before = catalogue_rows(workshop)

    assert admin(invoke, "PUT", path, body) == (400, {"error": message})
    assert catalogue_rows(workshop) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "answer"),
    [
        ("PUT", "/shops/south/resources/bay-1", {"name": "B"}, (404, "Shop not found")),
        (
            "PUT",
            "/shops/south/services/wash",
            {**OIL_CHANGE, "resource_ids": []},
            (404, "Shop not found"),
        ),
        ("GET", "/shops/south/resources/bay-1", None, (404, "Shop not found")),
        ("GET", "/shops/north/resources/bay-9", None, (404, "Resource not found")),
        ("GET", "/shops/north/services/wash", None, (404, "Service not found")),
        ("GET", "/shops/north/services/Wash", None, (404, "Service not found")),
        ("DELETE", "/shops/north/resources/bay-9", None, (404, "Resource not found")),
        ("DELETE", "/shops/north/services/wash", None, (404, "Service not found")),
        ("DELETE", "/shops/south", None, (404, "Shop not found")),
        ("PUT", "/shops/North", NORTH, (404, "Shop not found")),
    ],
)
def test_what_is_not_there_is_not_found_and_nothing_is_written(
    invoke: Invoke,
    workshop: psycopg.Connection,
    method: str,
    path: str,
    body: Any,
    answer: tuple[int, str],
) -> None:
    before = catalogue_rows(workshop), version(workshop)

    assert admin(invoke, method, path, body) == (answer[0], {"error": answer[1]})
    assert (catalogue_rows(workshop), version(workshop)) == before
    assert version(workshop, "south") is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/shops/default", NORTH),
        ("DELETE", "/shops/default", None),
        ("PUT", "/shops/default/resources/bay-1", {"name": "Bay one"}),
        ("DELETE", "/shops/default/resources/bay-1", None),
        ("PUT", "/shops/default/services/appointment", OIL_CHANGE),
        ("DELETE", "/shops/default/services/appointment", None),
    ],
)
def test_the_default_shop_is_the_templates_and_its_changes_are_refused(
    invoke: Invoke, db: psycopg.Connection, method: str, path: str, body: Any
) -> None:
    before = version(db, "default")

    status, answer = admin(invoke, method, path, body)

    assert status == 409
    assert "OpeningHours" in answer["error"] and "Capacity" in answer["error"]
    assert version(db, "default") == before


def test_an_unsigned_request_is_refused(invoke: Invoke, workshop: psycopg.Connection) -> None:
    status, _ = admin(invoke, "PUT", "/shops/north", NORTH, signed={})
    assert status == 403


# --- Taking it apart ----------------------------------------------------------------


def test_what_has_bookings_still_to_come_is_not_deleted_and_says_how_many(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    soon = datetime.now(UTC) + timedelta(days=2)
    past = datetime.now(UTC) - timedelta(days=2)
    booked(workshop, "bay-1", soon)
    booked(workshop, "bay-1", soon + timedelta(hours=1))
    booked(workshop, "bay-2", past)
    before = catalogue_rows(workshop)

    assert admin(invoke, "DELETE", "/shops/north/resources/bay-1") == (
        409,
        {
            "error": "The resource has 2 confirmed bookings or live holds still to come:"
            " cancel them first (past bookings keep their history)"
        },
    )
    assert admin(invoke, "DELETE", "/shops/north/services/oil-change")[0] == 409
    assert admin(invoke, "DELETE", "/shops/north")[0] == 409
    assert catalogue_rows(workshop) == before

    # bay-2's only booking is past: it goes, and its booking stays as history.
    assert admin(invoke, "DELETE", "/shops/north/resources/bay-2") == (
        200,
        {"shop_id": "north", "resource_id": "bay-2"},
    )
    assert public(invoke, "/services")["services"][0]["resource_ids"] == ["bay-1"]
    history = workshop.execute(
        "SELECT count(*) FROM bookings WHERE shop_id = 'north' AND resource_id = 'bay-2'"
    ).fetchone()
    assert history == (1,)

    workshop.execute(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = now()"
        " WHERE shop_id = 'north' AND resource_id = 'bay-1'"
    )
    assert admin(invoke, "DELETE", "/shops/north") == (200, {"shop_id": "north"})
    assert catalogue_rows(workshop) == []


def test_a_delete_waits_for_a_booking_in_flight_and_then_counts_it(
    database_url: str, invoke: Invoke, workshop: psycopg.Connection
) -> None:
    current = version(workshop)
    assert current is not None
    starts_at = datetime.now(UTC) + timedelta(days=3)
    request = store.SlotRequest(
        "user_bob",
        starts_at.date(),
        starts_at.time(),
        starts_at,
        starts_at + timedelta(minutes=30),
        capacity=0,
        shop_id="north",
        service_id="oil-change",
        resource_ids=("bay-1",),
        catalogue_version=current,
    )
    with (
        psycopg.connect(database_url) as booking,
        psycopg.connect(database_url, autocommit=True) as deleting,
        psycopg.connect(database_url, autocommit=True) as watch,
    ):
        assert store.book_slot(booking, "booking_in_flight", request) == store.Booked(
            "booking_in_flight"
        )
        answers: list[Any] = []
        delete = threading.Thread(
            target=lambda: answers.append(
                deleting.execute(
                    "SELECT item_found, future_bookings FROM delete_resource_v1('north', 'bay-1')"
                ).fetchone()
            )
        )
        delete.start()
        wait_for_lock_waiter(watch, "delete_resource_v1")
        booking.commit()  # the booking commits while the delete waits for it
        delete.join(timeout=30)
    assert answers == [(True, 1)]  # counted, and nothing deleted
    assert admin(invoke, "GET", "/shops/north/resources/bay-1")[0] == 200


def test_two_replaces_of_one_resource_follow_each_other(
    database_url: str, invoke: Invoke, workshop: psycopg.Connection
) -> None:
    """Each replaces the whole time off: never the one's and the other's together."""

    def replace(time_off_id: str) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "SELECT * FROM save_resource_v1('north', 'ana', 'Ana', NULL, ARRAY[%s],"
                " ARRAY[timestamptz '2030-07-01 00:00Z'], ARRAY[timestamptz '2030-07-02 00:00Z'])",
                (time_off_id,),
            )

    with (
        psycopg.connect(database_url) as holder,
        psycopg.connect(database_url, autocommit=True) as watch,
    ):
        # The shop held, as a booking in flight holds it: both replaces queue up.
        holder.execute("SELECT 1 FROM shops WHERE shop_id = 'north' FOR SHARE")
        replaces = [threading.Thread(target=replace, args=(name,)) for name in ("x", "y")]
        for thread in replaces:
            thread.start()
        wait_for_lock_waiter(watch, "save_resource_v1", count=2)
        holder.commit()
        for thread in replaces:
            thread.join(timeout=30)

    time_off = admin(invoke, "GET", "/shops/north/resources/ana")[1]["time_off"]
    assert [period["time_off_id"] for period in time_off] in (["x"], ["y"])


def test_a_live_hold_keeps_what_it_holds_from_being_deleted(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    """Confirming it would book a resource, service or shop that no longer exists."""
    held_id = booked(workshop, "bay-2", datetime.now(UTC) + timedelta(days=2))
    workshop.execute(
        "UPDATE bookings SET status = 'held', hold_expires_at = now() + interval '5 minutes'"
        " WHERE id = %s",
        (held_id,),
    )

    assert admin(invoke, "DELETE", "/shops/north/resources/bay-2")[0] == 409
    assert admin(invoke, "DELETE", "/shops/north")[0] == 409
    workshop.execute("UPDATE bookings SET hold_expires_at = now() WHERE id = %s", (held_id,))
    # Lapsed, it holds nothing: the resource goes.
    assert admin(invoke, "DELETE", "/shops/north/resources/bay-2")[0] == 200
