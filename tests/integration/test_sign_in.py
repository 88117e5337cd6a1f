"""Sign-in on: the bookings function acts for the caller API Gateway's JWT authorizer verified.

The events carry the claims as API Gateway hands them on (every value a
string, lists as "[a b]"); the token itself is the authorizer's to check,
which tests/unit/test_authorizers.py and the dev server's tests cover.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest

from appointments.api import auth
from appointments.data import store
from local.http_api_event import jwt_authorizer_context
from tests.conftest import Invoke, bookings_in, load_function
from tests.integration.test_holds import hold, on_hold
from tests.integration.test_reschedule import reschedule

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
ALICE = {"sub": "user_alice", "iss": ISSUER, "exp": 4102444800, "scope": "openid"}
BOB = {**ALICE, "sub": "user_bob"}
ADMIN_BY_SCOPE = {**ALICE, "sub": "ops", "scope": "openid appointments/admin"}
ADMIN_BY_GROUP = {**ALICE, "sub": "ops", "cognito:groups": ["staff", "admins"]}
NEWCOMER = {**ALICE, "sub": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "name": "Erin Example"}


@pytest.fixture(autouse=True)
def sign_in_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bookings function as deployed with JwtIssuer set and the admin scope and group."""
    settings = auth.load_sign_in(
        {"JWT_ISSUER": ISSUER, "JWT_ADMIN_SCOPE": "appointments/admin", "JWT_ADMIN_GROUP": "admins"}
    )
    monkeypatch.setattr(load_function("bookings"), "SIGN_IN", settings)


def as_caller(claims: dict[str, Any] | None) -> dict[str, Any]:
    return {} if claims is None else {"authorizer": jwt_authorizer_context(claims)}


def book(
    invoke: Invoke,
    claims: dict[str, Any] | None,
    body: dict[str, str],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    return invoke(
        "bookings",
        "POST",
        "/bookings",
        route_key="POST /bookings",
        body=json.dumps(body),
        headers={"Content-Type": "application/json", **(headers or {})},
        **as_caller(claims),
    )


def by_id(invoke: Invoke, method: str, claims: dict[str, Any], booking_id: str) -> dict[str, Any]:
    return invoke(
        "bookings",
        method,
        f"/bookings/{booking_id}",
        route_key=f"{method} /bookings/{{booking_id}}",
        path_parameters={"booking_id": booking_id},
        **as_caller(claims),
    )


def listing(invoke: Invoke, claims: dict[str, Any], raw_query: str = "") -> dict[str, Any]:
    return invoke(
        "bookings",
        "GET",
        "/bookings",
        route_key="GET /bookings",
        raw_query=raw_query,
        **as_caller(claims),
    )


SLOT = {"date": "2024-01-20", "time": "10:00"}


def alices_booking(invoke: Invoke) -> str:
    response = book(invoke, ALICE, SLOT)
    assert response["statusCode"] == 200, response["json"]
    booking_id: str = response["json"]["booking_id"]
    return booking_id


# Booking as oneself


def test_a_caller_books_as_themselves_without_naming_a_user(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = alices_booking(invoke)
    assert bookings_in(db) == [(booking_id, "user_alice", "2024-01-20", "10:00")]


def test_a_caller_may_name_themselves(invoke: Invoke, db: psycopg.Connection) -> None:
    response = book(invoke, ALICE, {"user_id": "user_alice", **SLOT})
    assert response["statusCode"] == 200
    assert [row[1] for row in bookings_in(db)] == ["user_alice"]


def test_booking_as_someone_else_is_forbidden_and_books_nothing(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    response = book(invoke, ALICE, {"user_id": "user_bob", **SLOT})
    assert (response["statusCode"], response["json"]) == (403, {"error": "Forbidden"})
    assert bookings_in(db) == []


def test_forbidden_is_decided_before_the_idempotency_key_is_recorded(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    headers = {"Idempotency-Key": "attempt-1"}
    assert book(invoke, ALICE, {"user_id": "user_bob", **SLOT}, headers)["statusCode"] == 403
    assert db.execute("SELECT count(*) FROM idempotency_keys").fetchone() == (0,)


@pytest.mark.parametrize("admin", [ADMIN_BY_SCOPE, ADMIN_BY_GROUP], ids=["scope", "group"])
def test_an_admin_books_for_any_user(
    invoke: Invoke, db: psycopg.Connection, admin: dict[str, Any]
) -> None:
    response = book(invoke, admin, {"user_id": "user_bob", **SLOT})
    assert response["statusCode"] == 200, response["json"]
    assert [row[1] for row in bookings_in(db)] == ["user_bob"]


def test_an_admin_booking_for_an_unknown_user_does_not_create_them(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    response = book(invoke, ADMIN_BY_SCOPE, {"user_id": "user_nobody", **SLOT})
    assert response["json"] == {"error": "User not found"}
    assert db.execute("SELECT count(*) FROM users WHERE id = 'user_nobody'").fetchone() == (0,)


def test_a_scope_that_only_contains_the_admin_scope_as_text_is_not_admin(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    lookalike = {**ALICE, "scope": "openid appointments/administrator"}
    assert book(invoke, lookalike, {"user_id": "user_bob", **SLOT})["statusCode"] == 403


# Becoming a user by booking


def test_a_new_caller_becomes_a_user_with_their_first_booking(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    response = book(invoke, NEWCOMER, SLOT)
    assert response["statusCode"] == 200, response["json"]
    assert db.execute("SELECT name FROM users WHERE id = %s", [NEWCOMER["sub"]]).fetchone() == (
        "Erin Example",
    )
    assert [row[1] for row in bookings_in(db)] == [NEWCOMER["sub"]]


def test_a_new_caller_refused_a_full_slot_is_a_user_all_the_same(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    alices_booking(invoke)
    response = book(invoke, NEWCOMER, SLOT)
    assert response["json"] == {"error": "Slot full"}
    assert listing(invoke, NEWCOMER)["json"] == {"bookings": [], "next_cursor": None}


def test_a_returning_user_keeps_their_name(invoke: Invoke, db: psycopg.Connection) -> None:
    book(invoke, {**ALICE, "name": "Someone Else"}, SLOT)
    assert db.execute("SELECT name FROM users WHERE id = 'user_alice'").fetchone() == ("Alice",)


def test_two_first_bookings_of_one_new_caller_at_once_both_succeed(
    database_url: str, db: psycopg.Connection
) -> None:
    # Each in its own connection, started together: both insert the user; the
    # second waits for the first and goes on with the row it committed.
    newcomer = "user_racing_newcomer"
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def first_booking(hour: int) -> None:
        starts_at = datetime(2024, 1, 20, hour, tzinfo=UTC)
        request = store.SlotRequest(
            newcomer,
            starts_at.date(),
            time(hour),
            starts_at,
            starts_at + timedelta(hours=1),
            capacity=1,
            new_user_name="Racer",
        )
        with psycopg.connect(database_url, autocommit=True) as conn:
            start.wait()
            outcomes.append(store.book_slot(conn, store.new_booking_id(), request))

    threads = [threading.Thread(target=first_booking, args=(hour,)) for hour in (10, 11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [type(outcome) for outcome in outcomes] == [store.Booked, store.Booked]
    assert db.execute("SELECT count(*) FROM users WHERE id = %s", [newcomer]).fetchone() == (1,)
    assert len(bookings_in(db)) == 2


# Reading, listing and cancelling


def test_a_caller_reads_and_cancels_their_own_booking(invoke: Invoke) -> None:
    booking_id = alices_booking(invoke)
    assert by_id(invoke, "GET", ALICE, booking_id)["json"]["user_id"] == "user_alice"
    assert by_id(invoke, "DELETE", ALICE, booking_id)["json"]["status"] == "cancelled"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_someone_elses_booking_is_not_found_and_stays_as_it_was(
    invoke: Invoke, db: psycopg.Connection, method: str
) -> None:
    booking_id = alices_booking(invoke)
    response = by_id(invoke, method, BOB, booking_id)
    assert (response["statusCode"], response["json"]) == (404, {"error": "Booking not found"})
    assert db.execute("SELECT status FROM bookings").fetchone() == ("confirmed",)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_admin_reads_and_cancels_anyones_booking(invoke: Invoke, method: str) -> None:
    booking_id = alices_booking(invoke)
    response = by_id(invoke, method, ADMIN_BY_GROUP, booking_id)
    assert response["statusCode"] == 200
    assert response["json"]["booking_id"] == booking_id


def move(
    invoke: Invoke, claims: dict[str, Any], booking_id: str, if_match: str | None = None
) -> dict[str, Any]:
    to = {"date": "2030-01-21", "time": "12:00"}
    return reschedule(invoke, booking_id, to, if_match, **as_caller(claims))


def test_a_caller_moves_their_own_booking_and_is_remembered_as_its_mover(
    invoke: Invoke,
) -> None:
    booking_id = alices_booking(invoke)

    moved = move(invoke, ALICE, booking_id)

    assert (moved["statusCode"], moved["json"]["time"]) == (200, "12:00")
    assert [m["moved_by"] for m in moved["json"]["moved_from"]] == ["user_alice"]


@pytest.mark.parametrize("if_match", [None, '"1"', '"9"'])
def test_someone_elses_booking_does_not_move_and_its_version_is_not_told(
    invoke: Invoke, db: psycopg.Connection, if_match: str | None
) -> None:
    booking_id = alices_booking(invoke)

    response = move(invoke, BOB, booking_id, if_match)

    assert (response["statusCode"], response["json"]) == (404, {"error": "Booking not found"})
    assert db.execute("SELECT slot_time::text, version FROM bookings").fetchone() == (
        "10:00:00",
        1,
    )


def test_an_admin_moves_anyones_booking(invoke: Invoke) -> None:
    booking_id = alices_booking(invoke)

    moved = move(invoke, ADMIN_BY_SCOPE, booking_id, '"1"')

    assert (moved["statusCode"], moved["json"]["user_id"]) == (200, "user_alice")
    assert [m["moved_by"] for m in moved["json"]["moved_from"]] == ["ops"]


def test_the_list_is_the_callers_own_without_naming_them(invoke: Invoke) -> None:
    booking_id = alices_booking(invoke)
    book(invoke, ADMIN_BY_SCOPE, {"user_id": "user_bob", "date": "2024-01-20", "time": "11:00"})
    listed = listing(invoke, ALICE)["json"]["bookings"]
    assert [entry["booking_id"] for entry in listed] == [booking_id]


def test_listing_someone_elses_bookings_is_forbidden(invoke: Invoke) -> None:
    alices_booking(invoke)
    response = listing(invoke, BOB, "user_id=user_alice")
    assert (response["statusCode"], response["json"]) == (403, {"error": "Forbidden"})


def test_an_admin_lists_anyones_bookings(invoke: Invoke) -> None:
    booking_id = alices_booking(invoke)
    listed = listing(invoke, ADMIN_BY_SCOPE, "user_id=user_alice")["json"]["bookings"]
    assert [entry["booking_id"] for entry in listed] == [booking_id]


def test_a_caller_who_never_booked_has_an_empty_list(invoke: Invoke) -> None:
    assert listing(invoke, NEWCOMER)["json"] == {"bookings": [], "next_cursor": None}


def test_an_admin_listing_an_unknown_user_hears_so(invoke: Invoke) -> None:
    response = listing(invoke, ADMIN_BY_SCOPE, "user_id=user_nobody")
    assert response["json"] == {"error": "User not found"}


# A guarded route reached without a caller


@pytest.mark.parametrize(
    "claims",
    [None, {"iss": ISSUER}, {**ALICE, "sub": ""}, {**ALICE, "sub": "x" * 129}],
    ids=["no authorizer context", "no sub", "empty sub", "sub too long"],
)
def test_without_a_usable_caller_nothing_is_done(
    invoke: Invoke, db: psycopg.Connection, claims: dict[str, Any] | None
) -> None:
    booking_id = alices_booking(invoke)
    for response in (
        book(invoke, claims, {"user_id": "user_bob", "date": "2024-01-20", "time": "12:00"}),
        by_id(invoke, "DELETE", claims or {}, booking_id) if claims else None,
        listing(invoke, claims or {}, "user_id=user_alice") if claims else None,
    ):
        if response is not None:
            assert (response["statusCode"], response["json"]) == (401, {"error": "Unauthorized"})
    assert [row[1] for row in bookings_in(db)] == ["user_alice"]
    assert db.execute("SELECT status FROM bookings").fetchone() == ("confirmed",)


def test_the_user_claim_is_configurable(
    invoke: Invoke, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = auth.load_sign_in({"JWT_ISSUER": ISSUER, "JWT_USER_CLAIM": "username"})
    monkeypatch.setattr(load_function("bookings"), "SIGN_IN", settings)
    response = book(invoke, {"sub": "opaque-1234", "username": "user_dave"}, SLOT)
    assert response["statusCode"] == 200, response["json"]
    assert [row[1] for row in bookings_in(db)] == ["user_dave"]


def test_no_claim_appears_in_the_logs(invoke: Invoke, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    booking_id = alices_booking(invoke)
    book(invoke, NEWCOMER, SLOT)
    by_id(invoke, "GET", BOB, booking_id)
    listing(invoke, ALICE)
    printed = capsys.readouterr()
    assert printed.out.count("request handled") == 4  # the logs were there to read
    for secret in ("user_alice", NEWCOMER["sub"], "Erin Example", ISSUER, "appointments/admin"):
        assert secret not in printed.out + printed.err


# A shop's service: the same rules


def book_at_shop(invoke: Invoke, claims: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return invoke(
        "bookings",
        "POST",
        "/shops/north/bookings",
        route_key="POST /shops/{shop_id}/bookings",
        path_parameters={"shop_id": "north"},
        body=json.dumps(body),
        headers={"Content-Type": "application/json"},
        **as_caller(claims),
    )


OIL_CHANGE = {"service_id": "oil-change", "date": "2030-06-03", "time": "09:00"}


def test_a_shops_service_is_booked_as_the_caller_and_for_no_one_else(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    forbidden = book_at_shop(invoke, ALICE, {"user_id": "user_bob", **OIL_CHANGE})
    mine = book_at_shop(invoke, ALICE, OIL_CHANGE)
    newcomer = book_at_shop(invoke, NEWCOMER, OIL_CHANGE)

    assert (forbidden["statusCode"], forbidden["json"]) == (403, {"error": "Forbidden"})
    assert mine["statusCode"] == newcomer["statusCode"] == 200
    rows = workshop.execute(
        "SELECT b.user_id, u.name FROM bookings b JOIN users u ON u.id = b.user_id"
        " WHERE b.shop_id = 'north' ORDER BY b.resource_id"
    ).fetchall()
    # A first booking makes the caller a user, under the token's name.
    assert rows == [("user_alice", "Alice"), (NEWCOMER["sub"], "Erin Example")]
    # Another's booking of a shop is not found for Bob, as any booking.
    other = by_id(invoke, "GET", BOB, mine["json"]["booking_id"])
    assert other["statusCode"] == 404


def test_a_caller_holds_for_themselves_and_only_they_see_confirm_or_release_it(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    held = hold(invoke, {"date": "2030-01-21", "time": "10:00"}, **as_caller(ALICE))
    assert held["statusCode"] == 201, held["json"]
    hold_id = held["json"]["hold_id"]

    for method, action in (("GET", ""), ("POST", "/confirm"), ("DELETE", "")):
        response = on_hold(invoke, method, hold_id, action, **as_caller(BOB))
        assert (response["statusCode"], response["json"]) == (404, {"error": "Hold not found"})
    assert db.execute("SELECT user_id, status FROM bookings").fetchall() == [("user_alice", "held")]
    assert on_hold(invoke, "GET", hold_id, **as_caller(ALICE))["json"]["user_id"] == "user_alice"
    assert (
        on_hold(invoke, "POST", hold_id, "/confirm", **as_caller(ADMIN_BY_SCOPE))["statusCode"]
        == 200
    )


def test_holding_for_someone_else_is_forbidden_and_holds_nothing(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    response = hold(invoke, {"user_id": "user_alice", **SLOT}, **as_caller(BOB))

    assert (response["statusCode"], response["json"]) == (403, {"error": "Forbidden"})
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (0,)
