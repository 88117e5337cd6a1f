"""The IAM-only administration routes through the real handler: create, rename, look up.

API Gateway's IAM authorizer decides who gets here (the dev server's tests
sign requests with botocore); this function decides what the request may do.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from local.http_api_event import iam_authorizer_context
from tests.conftest import Invoke

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


# As API Gateway's IAM authorizer hands a request on once its signature checked out.
SIGNED = {"authorizer": iam_authorizer_context()}


def put_user(invoke: Invoke, user_id: str, body: Any, signed: Any = SIGNED) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return invoke(
        "users",
        "PUT",
        f"/users/{quote(user_id, safe='')}",
        route_key="PUT /users/{user_id}",
        path_parameters={"user_id": user_id},
        body=text,
        headers={"Content-Type": "application/json"},
        **signed,
    )


def get_user(invoke: Invoke, user_id: str, signed: Any = SIGNED) -> dict[str, Any]:
    return invoke(
        "users",
        "GET",
        f"/users/{quote(user_id, safe='')}",
        route_key="GET /users/{user_id}",
        path_parameters={"user_id": user_id},
        **signed,
    )


def users_in(db: psycopg.Connection) -> list[tuple[str, str]]:
    return [tuple(row) for row in db.execute("SELECT id, name FROM users ORDER BY id")]  # type: ignore[misc]


def test_putting_a_new_user_creates_them(invoke: Invoke, db: psycopg.Connection) -> None:
    response = put_user(invoke, "user_erin", {"name": "Erin"})
    assert response["statusCode"] == 201
    assert response["json"]["user_id"] == "user_erin"
    assert response["json"]["name"] == "Erin"
    assert RFC3339_UTC.fullmatch(response["json"]["created_at"])
    assert ("user_erin", "Erin") in users_in(db)


def test_putting_an_existing_user_renames_them_and_keeps_their_creation_time(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    before = get_user(invoke, "user_alice")["json"]
    response = put_user(invoke, "user_alice", {"name": "Alice Liddell"})
    assert response["statusCode"] == 200
    assert response["json"] == {**before, "name": "Alice Liddell"}
    assert ("user_alice", "Alice Liddell") in users_in(db)


def test_putting_the_same_user_twice_is_the_same_result(invoke: Invoke) -> None:
    first = put_user(invoke, "user_erin", {"name": "Erin"})
    again = put_user(invoke, "user_erin", {"name": "Erin"})
    assert (first["statusCode"], again["statusCode"]) == (201, 200)
    assert first["json"] == again["json"]


def test_a_created_user_can_book(invoke: Invoke) -> None:
    put_user(invoke, "user_erin", {"name": "Erin"})
    body = json.dumps({"user_id": "user_erin", "date": "2024-01-20", "time": "10:00"})
    assert invoke("bookings", "POST", "/bookings", body=body)["statusCode"] == 200


def test_a_user_id_is_read_decoded_from_the_path(invoke: Invoke, db: psycopg.Connection) -> None:
    # API Gateway decodes path parameters; the raw path keeps "%20".
    assert put_user(invoke, "user erin/1", {"name": "Erin"})["statusCode"] == 201
    assert ("user erin/1", "Erin") in users_in(db)
    assert get_user(invoke, "user erin/1")["json"]["user_id"] == "user erin/1"


def test_getting_a_user(invoke: Invoke) -> None:
    response = get_user(invoke, "user_bob")
    assert response["statusCode"] == 200
    assert {k: v for k, v in response["json"].items() if k != "created_at"} == {
        "user_id": "user_bob",
        "name": "Bob",
    }


@pytest.mark.parametrize("user_id", ["user_nobody", "x" * 129, "tab\there"])
def test_an_unknown_user_is_not_found(invoke: Invoke, user_id: str) -> None:
    response = get_user(invoke, user_id)
    assert (response["statusCode"], response["json"]) == (404, {"error": "User not found"})


@pytest.mark.parametrize(
    ("user_id", "body", "error"),
    [
        ("user_erin", {}, "name: Field required"),
        ("user_erin", {"name": ""}, "name must be 1 to 200 printable characters"),
        ("user_erin", {"name": "x" * 201}, "name must be 1 to 200 printable characters"),
        ("user_erin", {"name": "bell\u0007"}, "name must be 1 to 200 printable characters"),
        ("user_erin", {"name": 42}, "name must be 1 to 200 printable characters"),
        ("user_erin", "[]", "Request body must be a JSON object"),
        ("user_erin", "{", "Request body must be valid JSON"),
        ("user_erin", json.dumps({"name": "x" * 5000}), "Request body too large"),
        ("x" * 129, {"name": "Erin"}, "user_id must be 1 to 128 printable characters"),
        ("new\nline", {"name": "Erin"}, "user_id must be 1 to 128 printable characters"),
    ],
)
def test_a_bad_request_is_refused_and_changes_nothing(
    invoke: Invoke, db: psycopg.Connection, user_id: str, body: Any, error: str
) -> None:
    before = users_in(db)
    response = put_user(invoke, user_id, body)
    assert (response["statusCode"], response["json"]) == (400, {"error": error})
    assert users_in(db) == before


def test_a_request_the_iam_authorizer_did_not_vouch_for_is_refused_and_changes_nothing(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    # A route that lost its authorizer (a template edited by hand) stays shut.
    before = users_in(db)
    for response in (
        put_user(invoke, "user_erin", {"name": "Erin"}, signed={}),
        put_user(invoke, "user_alice", {"name": "Mallory"}, signed={}),
        get_user(invoke, "user_alice", signed={}),
    ):
        assert (response["statusCode"], response["json"]) == (403, {"error": "Forbidden"})
    assert users_in(db) == before
