"""Round trips per request, counted by the server: statement logging, per backend.

psycopg sends each statement as one Parse/Bind/Execute/Sync exchange, which the
server logs once (`execute <unnamed>: ...`, or `statement: ...` for the simple
protocol). Counting those lines for the handler's backend during one warm
invocation is counting its round trips.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from unittest import mock

import psycopg

from bench.environment import LONGEST_RUN_S, quiet_handlers

if TYPE_CHECKING:  # imported in count_per_route(), once Lambda's environment is set
    from appointments.domain.shop import ShopSchedule

T = TypeVar("T")

_STATEMENT = re.compile(r"\[(\d+)\].*LOG:\s+(statement|execute [^:]*):")


def statements_during(log_path: Path, action: Callable[[], T], exclude_pid: int) -> tuple[int, T]:
    """Statements any backend but `exclude_pid` logged while `action` ran, and its result."""
    offset = log_path.stat().st_size
    result = action()
    time.sleep(0.05)  # backends write their log lines before answering; this is slack
    with log_path.open("rb") as log:
        log.seek(offset)
        new_lines = log.read().decode("utf-8", "replace").splitlines()
    count = sum(
        1 for line in new_lines if (m := _STATEMENT.search(line)) and int(m[1]) != exclude_pid
    )
    return count, result


class StatementLogging:
    """log_statement = 'all' for as long as the block runs (superuser, server-wide)."""

    def __init__(self, admin: psycopg.Connection) -> None:
        self.admin = admin

    def __enter__(self) -> StatementLogging:
        self.admin.execute("ALTER SYSTEM SET log_statement = 'all'")
        self.admin.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)  # backends pick the new setting up between statements
        return self

    def __exit__(self, *_: object) -> None:
        self.admin.execute("ALTER SYSTEM RESET log_statement")
        self.admin.execute("SELECT pg_reload_conf()")


# Bookings the lookup, cancel and list requests find, written before counting
# (by the admin connection, whose statements are not counted). user_dave has
# more than a page of them, so his list comes with a next page.
_BOOKINGS_TO_FIND = """
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block)
    SELECT id, user_id, day, start, hour, 'bay-1', hour
    FROM (VALUES ('booking_rt_lookup', 'user_charlie', date '2037-06-01', time '10:00'),
                 ('booking_rt_cancel', 'user_charlie', date '2037-06-01', time '11:00'),
                 ('booking_rt_move', 'user_charlie', date '2037-06-01', time '12:00'))
             AS booked (id, user_id, day, start),
         LATERAL tstzrange((day + start) AT TIME ZONE 'UTC',
                           (day + start) AT TIME ZONE 'UTC' + interval '1 hour') AS hour;
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block)
    SELECT 'booking_rt_list_' || n, 'user_dave', date '2037-01-01' + n, '09:00', hour, 'bay-1',
           hour
    FROM generate_series(1, 60) AS n,
         LATERAL tstzrange((date '2037-01-01' + n + time '09:00') AT TIME ZONE 'UTC',
                           (date '2037-01-01' + n + time '09:00') AT TIME ZONE 'UTC'
                           + interval '1 hour') AS hour;
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block,
                          status, hold_expires_at)
    SELECT id, 'user_charlie', date '2037-06-02', start, hour, 'bay-1', hour, 'held', expires_at
    FROM (VALUES ('booking_rt_hold', time '10:00', now() + interval '1 hour'),
                 ('booking_rt_release', time '11:00', now() + interval '1 hour'),
                 ('booking_rt_lapsed', time '12:00', now() - interval '1 second'))
             AS holds (id, start, expires_at),
         LATERAL tstzrange((date '2037-06-02' + start) AT TIME ZONE 'UTC',
                           (date '2037-06-02' + start) AT TIME ZONE 'UTC' + interval '1 hour')
             AS hour
"""


# Three days running the shop is closed: GET /availability over them has no
# slot to look up, so it asks the database nothing. The container's schedule,
# with these as its CLOSED_DATES, stands in for the slots function's while asked.
CLOSED_DATES = ("2038-12-24", "2038-12-25", "2038-12-26")
_MONTH = ("2038-03-01", "2038-03-31")  # 31 days, the longest range GET /availability answers
SIGN_IN_ISSUER = "https://issuer.example"  # any: the function reads claims, never the token


def count_per_route(database_url: str, log_path: Path) -> dict[str, int]:
    """Round trips of one warm invocation of each route and outcome.

    Each request's answer is checked first: a count for the wrong outcome is
    no count of this one.
    """
    import functions.bookings.app as bookings_function
    import functions.slots.app as slots_function
    from appointments.api import auth
    from appointments.domain import shop
    from functions.bookings.app import handler as bookings
    from functions.catalogue.app import handler as catalogue
    from functions.catalogue_admin.app import handler as catalogue_admin
    from functions.health.app import handler as health
    from functions.slots.app import handler as slots
    from functions.users.app import handler as users
    from local.http_api_event import (
        http_api_event,
        iam_authorizer_context,
        jwt_authorizer_context,
    )
    from local.lambda_context import LocalLambdaContext

    context = LocalLambdaContext("round-trips", timeout_seconds=LONGEST_RUN_S)
    closed_schedule = shop.load_schedule({**os.environ, "CLOSED_DATES": ",".join(CLOSED_DATES)})
    key = f"round-trips-{uuid.uuid4().hex}"  # never recorded before, even on a reused database
    newcomer = f"user_rt_{uuid.uuid4().hex[:12]}"  # never a user before

    def book(user: str, date: str, key: str | None = None) -> Callable[[], Any]:
        body = json.dumps({"user_id": user, "date": date, "time": "10:00"})
        headers = {"Idempotency-Key": key} if key else None
        event = http_api_event("POST", "/bookings", body=body, headers=headers)
        return lambda: bookings(event, context)

    def signed_in_book(caller: str, body: dict[str, str]) -> Callable[[], Any]:
        # As deployed with JwtIssuer set: the claims API Gateway verified.
        claims = {"sub": caller, "iss": SIGN_IN_ISSUER, "name": caller}
        event = http_api_event(
            "POST", "/bookings", body=json.dumps(body), authorizer=jwt_authorizer_context(claims)
        )
        sign_in = auth.load_sign_in({"JWT_ISSUER": SIGN_IN_ISSUER})

        def request() -> Any:
            # As a container deployed with sign-in on reads it.
            with mock.patch.object(bookings_function, "SIGN_IN", sign_in):
                return bookings(event, context)

        return request

    def shop_book(user: str, start: str, service_id: str = "appointment") -> Callable[[], Any]:
        body = {"user_id": user, "service_id": service_id, "date": "2038-01-07", "time": start}
        event = http_api_event(
            "POST",
            "/shops/default/bookings",
            route_key="POST /shops/{shop_id}/bookings",
            path_parameters={"shop_id": "default"},
            body=json.dumps(body),
        )
        return lambda: bookings(event, context)

    def user(method: str, user_id: str, name: str | None = None) -> Callable[[], Any]:
        body = json.dumps({"name": name}) if name else None
        event = http_api_event(
            method, f"/users/{user_id}", body=body, authorizer=iam_authorizer_context()
        )
        return lambda: users(event, context)

    def booking(method: str, booking_id: str) -> Callable[[], Any]:
        event = http_api_event(method, f"/bookings/{booking_id}")
        return lambda: bookings(event, context)

    def move(
        booking_id: str, start: str, if_match: str | None = None, key: str | None = None
    ) -> Callable[[], Any]:
        headers = {"If-Match": if_match} if if_match else {}
        if key:
            headers["Idempotency-Key"] = key
        event = http_api_event(
            "POST",
            f"/bookings/{booking_id}/reschedule",
            route_key="POST /bookings/{booking_id}/reschedule",
            path_parameters={"booking_id": booking_id},
            body=json.dumps({"date": "2037-06-01", "time": start}),
            headers=headers or None,
        )
        return lambda: bookings(event, context)

    def hold(user: str, date: str) -> Callable[[], Any]:
        body = json.dumps({"user_id": user, "date": date, "time": "10:00"})
        event = http_api_event("POST", "/holds", body=body)
        return lambda: bookings(event, context)

    def on_hold(method: str, hold_id: str, action: str = "") -> Callable[[], Any]:
        event = http_api_event(
            method,
            f"/holds/{hold_id}{action}",
            route_key=f"{method} /holds/{{hold_id}}{action}",
            path_parameters={"hold_id": hold_id},
        )
        return lambda: bookings(event, context)

    def listing(raw_query: str) -> Callable[[], Any]:
        event = http_api_event("GET", "/bookings", raw_query=raw_query)
        return lambda: bookings(event, context)

    def catalogue_route(shop_id: str, route: str = "") -> Callable[[], Any]:
        event = http_api_event(
            "GET",
            f"/shops/{shop_id}{route}",
            route_key=f"GET /shops/{{shop_id}}{route}",
            path_parameters={"shop_id": shop_id},
        )
        return lambda: catalogue(event, context)

    def availability(
        first: str, last: str, schedule: ShopSchedule | None = None
    ) -> Callable[[], Any]:
        event = http_api_event("GET", "/availability", raw_query=f"from={first}&to={last}")

        def request() -> Any:
            if schedule is None:
                return slots(event, context)
            # As a container deployed with it reads it.
            with mock.patch.object(slots_function, "SCHEDULE", schedule):
                return slots(event, context)

        return request

    def shop_availability(shop_id: str, query: str) -> Callable[[], Any]:
        event = http_api_event(
            "GET",
            f"/shops/{shop_id}/availability",
            route_key="GET /shops/{shop_id}/availability",
            path_parameters={"shop_id": shop_id},
            raw_query=query,
        )
        return lambda: slots(event, context)

    # A shop of its own, put together and taken apart through the administration.
    scratch_shop = f"rt-{uuid.uuid4().hex[:12]}"
    a_shop = {"name": "Round trips", "time_zone": "UTC", "opening_hours": "Daily 09:00-17:00"}
    a_service = {"name": "Wash", "duration_minutes": 30, "resource_ids": []}

    def shop_admin(method: str, path: str, body: Any = None) -> Callable[[], Any]:
        names = ["shop_id", "service_id"]
        values = path.strip("/").split("/")[1::2]
        template = "/shops/{shop_id}" + ("/services/{service_id}" if len(values) > 1 else "")
        event = http_api_event(
            method,
            path,
            route_key=f"{method} {template}",
            path_parameters=dict(zip(names, values, strict=False)),
            body=None if body is None else json.dumps(body),
            authorizer=iam_authorizer_context(),
        )
        return lambda: catalogue_admin(event, context)

    # The request, and the status it must be answered with.
    requests: dict[str, tuple[Callable[[], Any], int]] = {
        "GET /health": (lambda: health(http_api_event("GET", "/health"), context), 200),
        "GET /slots": (
            lambda: slots(http_api_event("GET", "/slots", raw_query="date=2038-01-01"), context),
            200,
        ),
        "GET /availability (31 days)": (availability(*_MONTH), 200),
        "GET /availability (3 days, all closed)": (
            availability(CLOSED_DATES[0], CLOSED_DATES[-1], closed_schedule),
            200,
        ),
        "GET /shops/{id} (found)": (catalogue_route("default"), 200),
        "GET /shops/{id} (not found)": (catalogue_route("nowhere"), 404),
        "GET /shops/{id} (impossible id)": (catalogue_route("No Such"), 404),
        "GET /shops/{id}/services": (catalogue_route("default", "/services"), 200),
        "GET /shops/{id}/resources": (catalogue_route("default", "/resources"), 200),
        "GET /shops/{id}/availability (31 days)": (
            shop_availability("default", f"service_id=appointment&from={_MONTH[0]}&to={_MONTH[1]}"),
            200,
        ),
        "GET /shops/{id}/availability (unknown service)": (
            shop_availability("default", f"service_id=tyres&from={_MONTH[0]}&to={_MONTH[0]}"),
            404,
        ),
        "POST /bookings (booked)": (book("user_alice", "2038-01-01"), 200),
        "POST /bookings (Slot full)": (book("user_bob", "2038-01-01"), 400),
        "POST /bookings (User not found)": (book("user_nobody", "2038-01-02"), 400),
        "POST /bookings (invalid body)": (book("user_alice", "2038-02-30"), 400),
        "POST /bookings, new Idempotency-Key (booked)": (
            book("user_alice", "2038-01-03", key),
            200,
        ),
        "POST /bookings, same key replayed": (book("user_alice", "2038-01-03", key), 200),
        "POST /bookings, same key, other body (422)": (
            book("user_alice", "2038-01-04", key),
            422,
        ),
        "POST /shops/{id}/bookings (the day read first, then booked)": (
            shop_book("user_alice", "10:00"),
            200,
        ),
        "POST /shops/{id}/bookings (the day kept: booked)": (shop_book("user_alice", "11:00"), 200),
        "POST /shops/{id}/bookings (the day kept: Slot full)": (
            shop_book("user_bob", "11:00"),
            400,
        ),
        "POST /shops/{id}/bookings (unknown service)": (
            shop_book("user_bob", "12:00", "tyres"),
            404,
        ),
        "GET /bookings/{id} (found)": (booking("GET", "booking_rt_lookup"), 200),
        "GET /bookings/{id} (not found)": (booking("GET", "booking_rt_nobody"), 404),
        "GET /bookings/{id} (malformed id)": (booking("GET", "not.a.booking.id"), 404),
        "DELETE /bookings/{id} (first cancel)": (booking("DELETE", "booking_rt_cancel"), 200),
        "DELETE /bookings/{id} (repeat cancel)": (booking("DELETE", "booking_rt_cancel"), 200),
        "DELETE /bookings/{id} (unknown id)": (booking("DELETE", "booking_rt_nobody"), 404),
        "POST /bookings/{id}/reschedule (moved)": (move("booking_rt_move", "13:00", '"1"'), 200),
        "POST /bookings/{id}/reschedule (Slot full)": (move("booking_rt_move", "10:00"), 400),
        "POST /bookings/{id}/reschedule (If-Match stale)": (
            move("booking_rt_move", "14:00", '"1"'),
            412,
        ),
        "POST /bookings/{id}/reschedule (cancelled)": (move("booking_rt_cancel", "15:00"), 409),
        "POST /bookings/{id}/reschedule, new Idempotency-Key (moved)": (
            move("booking_rt_move", "16:00", key=key + "-move"),
            200,
        ),
        "POST /bookings/{id}/reschedule, same key replayed": (
            move("booking_rt_move", "16:00", key=key + "-move"),
            200,
        ),
        "POST /holds (held)": (hold("user_alice", "2038-01-08"), 201),
        "POST /holds (Slot full)": (hold("user_bob", "2038-01-08"), 400),
        "POST /holds/{id}/confirm (booked)": (on_hold("POST", "booking_rt_hold", "/confirm"), 200),
        "POST /holds/{id}/confirm (again)": (on_hold("POST", "booking_rt_hold", "/confirm"), 200),
        "POST /holds/{id}/confirm (expired)": (
            on_hold("POST", "booking_rt_lapsed", "/confirm"),
            409,
        ),
        "DELETE /holds/{id} (released)": (on_hold("DELETE", "booking_rt_release"), 200),
        "GET /holds/{id} (found)": (on_hold("GET", "booking_rt_release"), 200),
        "GET /holds/{id} (not found)": (on_hold("GET", "booking_rt_nobody"), 404),
        "GET /bookings?user_id= (page of 50, next page follows)": (
            listing("user_id=user_dave&limit=50"),
            200,
        ),
        "GET /bookings?user_id= (unknown user)": (listing("user_id=user_nobody"), 400),
        "POST /bookings, signed in, first booking (becomes a user)": (
            signed_in_book(newcomer, {"date": "2038-01-05", "time": "10:00"}),
            200,
        ),
        "POST /bookings, signed in, as another user (403)": (
            signed_in_book(
                newcomer, {"user_id": "user_bob", "date": "2038-01-06", "time": "10:00"}
            ),
            403,
        ),
        "PUT /users/{user_id} (created)": (user("PUT", newcomer + "_admin", "Created"), 201),
        "PUT /users/{user_id} (renamed)": (user("PUT", newcomer + "_admin", "Renamed"), 200),
        "GET /users/{user_id} (found)": (user("GET", newcomer + "_admin"), 200),
        "GET /users/{user_id} (not found)": (user("GET", "user_nobody"), 404),
        "PUT /shops/{id} (created)": (shop_admin("PUT", f"/shops/{scratch_shop}", a_shop), 201),
        "PUT /shops/{id}/services/{id} (created)": (
            shop_admin("PUT", f"/shops/{scratch_shop}/services/wash", a_service),
            201,
        ),
        "GET /shops/{id}/services/{id} (found)": (
            shop_admin("GET", f"/shops/{scratch_shop}/services/wash"),
            200,
        ),
        "DELETE /shops/{id} (deleted)": (shop_admin("DELETE", f"/shops/{scratch_shop}"), 200),
    }
    with (
        psycopg.connect(database_url, autocommit=True) as admin,
        StatementLogging(admin),
        quiet_handlers(),
    ):
        admin.execute(_BOOKINGS_TO_FIND)
        requests["GET /slots"][0]()  # open the warm connection before counting
        admin_pid = admin.info.backend_pid
        counted = {}
        for name, (request, status) in requests.items():
            counted[name], response = statements_during(log_path, request, admin_pid)
            _check_answer(name, response, status)
        return counted


def _check_answer(name: str, response: dict[str, Any], status: int) -> None:
    if response["statusCode"] != status:
        raise RuntimeError(f"{name}: expected {status}, got {response}")
    body = json.loads(response["body"])
    if status == 404 and body not in (
        {"error": "Booking not found"},
        {"error": "User not found"},
        {"error": "Shop not found"},
        {"error": "Service not found"},
        {"error": "Hold not found"},
    ):
        raise RuntimeError(f"{name}: expected the handler's 404, got {body}")  # not routing's
    if "page of 50" in name and (len(body["bookings"]) != 50 or not body["next_cursor"]):
        raise RuntimeError(f"{name}: expected 50 bookings and a next page, got {body}")
    if "replayed" in name and response["headers"].get("Idempotent-Replayed") != "true":
        raise RuntimeError(f"{name}: not answered as a replay: {response}")
    if name.startswith("GET /availability"):
        days = body["days"]
        expected_days = 3 if "closed" in name else 31
        offered = sum(len(day["slots"]) for day in days)
        if len(days) != expected_days or (offered > 0) == ("closed" in name):
            raise RuntimeError(f"{name}: expected {expected_days} days, got {body}")
