"""One database round trip per request, counted by the server (its statement log).

The exceptions: a replayed Idempotency-Key (the booking's statement is refused
by the recorded key, and the answer is read from it: two), and a shop's
booking on a day its container has not read yet (the day, then the booking), and
a move of another shop's booking (the booking, for its service, then the move;
the default shop's moves are counted here: one). GET
/availability reads a month's bookings in one, and asks nothing over days the
shop is closed.
"""

from pathlib import Path

import psycopg
import pytest

from bench.round_trips import count_per_route


def test_each_request_costs_one_round_trip_and_health_none(
    db: psycopg.Connection, database_url: str, embedded_data_dir: Path | None
) -> None:
    if embedded_data_dir is None:
        pytest.skip("needs the embedded server's log (TEST_DATABASE_URL is set)")
    counted = count_per_route(database_url, embedded_data_dir / "log")
    assert counted == {
        "GET /health": 0,
        "GET /slots": 1,
        "GET /availability (31 days)": 1,
        "GET /availability (3 days, all closed)": 0,
        "GET /shops/{id} (found)": 1,
        "GET /shops/{id} (not found)": 1,
        "GET /shops/{id} (impossible id)": 0,
        "GET /shops/{id}/services": 1,
        "GET /shops/{id}/resources": 1,
        "GET /shops/{id}/availability (31 days)": 1,
        "GET /shops/{id}/availability (unknown service)": 1,
        "POST /bookings (booked)": 1,
        "POST /bookings (Slot full)": 1,
        "POST /bookings (User not found)": 1,
        "POST /bookings (invalid body)": 0,
        "POST /bookings, new Idempotency-Key (booked)": 1,
        "POST /bookings, same key replayed": 2,
        "POST /bookings, same key, other body (422)": 2,
        "POST /shops/{id}/bookings (the day read first, then booked)": 2,
        "POST /shops/{id}/bookings (the day kept: booked)": 1,
        "POST /shops/{id}/bookings (the day kept: Slot full)": 1,
        "POST /shops/{id}/bookings (unknown service)": 1,
        "GET /bookings/{id} (found)": 1,
        "GET /bookings/{id} (not found)": 1,
        "GET /bookings/{id} (malformed id)": 0,
        "DELETE /bookings/{id} (first cancel)": 1,
        "DELETE /bookings/{id} (repeat cancel)": 1,
        "DELETE /bookings/{id} (unknown id)": 1,
        "POST /bookings/{id}/reschedule (moved)": 1,
        "POST /bookings/{id}/reschedule (Slot full)": 1,
        "POST /bookings/{id}/reschedule (If-Match stale)": 1,
        "POST /bookings/{id}/reschedule (cancelled)": 1,
        "POST /bookings/{id}/reschedule, new Idempotency-Key (moved)": 1,
        "POST /bookings/{id}/reschedule, same key replayed": 2,
        "POST /holds (held)": 1,
        "POST /holds (Slot full)": 1,
        "POST /holds/{id}/confirm (booked)": 1,
        "POST /holds/{id}/confirm (again)": 1,
        "POST /holds/{id}/confirm (expired)": 1,
        "DELETE /holds/{id} (released)": 1,
        "GET /holds/{id} (found)": 1,
        "GET /holds/{id} (not found)": 1,
        "GET /bookings?user_id= (page of 50, next page follows)": 1,
        "GET /bookings?user_id= (unknown user)": 1,
        "POST /bookings, signed in, first booking (becomes a user)": 1,
        "POST /bookings, signed in, as another user (403)": 0,
        "PUT /users/{user_id} (created)": 1,
        "PUT /users/{user_id} (renamed)": 1,
        "GET /users/{user_id} (found)": 1,
        "GET /users/{user_id} (not found)": 1,
        "PUT /shops/{id} (created)": 1,
        "PUT /shops/{id}/services/{id} (created)": 1,
        "GET /shops/{id}/services/{id} (found)": 1,
        "DELETE /shops/{id} (deleted)": 1,
    }
