"""bench/floor: each bare handler gives the seed contract's answers, as its function does.

So the cold start measured beside a function's is the cost of the same work:
the same statement, the same answer, nothing else.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import psycopg

from local.http_api_event import http_api_event, iam_authorizer_context
from tests.conftest import Invoke


def floor(function: str, method: str, path: str, **event_fields: Any) -> dict[str, Any]:
    """Call bench/floor/<function>.py's handler: its status and parsed body."""
    module = importlib.import_module(f"bench.floor.{function}")  # connects to DATABASE_URL
    response = module.handler(http_api_event(method, path, **event_fields), None)
    return {"status": response["statusCode"], "json": json.loads(response["body"])}


def real(invoke: Invoke, function: str, method: str, path: str, **fields: Any) -> dict[str, Any]:
    response = invoke(function, method, path, **fields)
    return {"status": response["statusCode"], "json": response["json"]}


def booking(user_id: str, day: str, time: str) -> dict[str, Any]:
    body = json.dumps({"user_id": user_id, "date": day, "time": time})
    return {"body": body, "headers": {"Content-Type": "application/json"}}


def test_the_health_floor_answers_ok(invoke: Invoke) -> None:
    expected = {"status": 200, "json": {"status": "ok"}}
    assert real(invoke, "health", "GET", "/health") == expected
    assert floor("health", "GET", "/health") == expected


def test_the_slots_floor_offers_the_free_slots_the_function_offers(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    real(invoke, "bookings", "POST", "/bookings", **booking("user_bob", "2033-03-01", "11:00"))
    day = {"raw_query": "date=2033-03-01"}

    expected = real(invoke, "slots", "GET", "/slots", **day)

    free = ["09:00", "10:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    assert expected == {"status": 200, "json": {"available_times": free}}
    assert floor("slots", "GET", "/slots", **day) == expected


def test_the_bookings_floor_books_refuses_a_full_slot_and_an_unknown_user(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booked = floor("bookings", "POST", "/bookings", **booking("user_alice", "2033-03-02", "10:00"))

    assert booked["status"] == 200 and booked["json"]["booking_id"].startswith("booking_")
    (row,) = db.execute("SELECT id, user_id, resource_id FROM bookings").fetchall()
    assert row == (booked["json"]["booking_id"], "user_alice", "bay-1")
    for user, answer in (("user_bob", "Slot full"), ("user_nobody", "User not found")):
        request = booking(user, "2033-03-02", "10:00")
        expected = real(invoke, "bookings", "POST", "/bookings", **request)
        assert expected == {"status": 400, "json": {"error": answer}}
        assert floor("bookings", "POST", "/bookings", **request) == expected


def test_the_users_floor_finds_a_user_and_not_a_stranger(invoke: Invoke) -> None:
    for user_id, status in (("user_alice", 200), ("user_nobody", 404)):
        request: dict[str, Any] = {
            "route_key": "GET /users/{user_id}",
            "path_parameters": {"user_id": user_id},
            "authorizer": iam_authorizer_context(),
        }
        expected = real(invoke, "users", "GET", f"/users/{user_id}", **request)
        assert expected["status"] == status
        assert floor("users", "GET", f"/users/{user_id}", **request) == expected


def test_the_catalogue_floor_lists_the_services_and_knows_no_other_shop(invoke: Invoke) -> None:
    for shop_id, status in (("default", 200), ("nowhere", 404)):
        request: dict[str, Any] = {
            "route_key": "GET /shops/{shop_id}/services",
            "path_parameters": {"shop_id": shop_id},
        }
        path = f"/shops/{shop_id}/services"
        expected = real(invoke, "catalogue", "GET", path, **request)
        assert expected["status"] == status
        assert floor("catalogue", "GET", path, **request) == expected


def test_the_catalogue_admin_floor_finds_a_service_and_knows_what_is_missing(
    invoke: Invoke,
) -> None:
    cases = (("default", "appointment", 200), ("default", "tyres", 404), ("nowhere", "x", 404))
    for shop_id, service_id, status in cases:
        request: dict[str, Any] = {
            "route_key": "GET /shops/{shop_id}/services/{service_id}",
            "path_parameters": {"shop_id": shop_id, "service_id": service_id},
            "authorizer": iam_authorizer_context(),
        }
        path = f"/shops/{shop_id}/services/{service_id}"
        expected = real(invoke, "catalogue_admin", "GET", path, **request)
        assert expected["status"] == status
        assert floor("catalogue_admin", "GET", path, **request) == expected


def test_the_relay_and_webhooks_floors_send_their_claims_and_answer_as_their_functions(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    from local.lambda_context import LocalLambdaContext
    from tests.conftest import load_function

    drained = {"until_drained": True}
    for function, answer in (("relay", {"published": 0}), ("webhooks", {"claimed": 0})):
        real_answer = load_function(function).handler(drained, LocalLambdaContext(function))
        floor_answer = importlib.import_module(f"bench.floor.{function}").handler(drained, None)
        assert real_answer == floor_answer == answer
