"""One database round trip per request, counted by the server (its statement log)."""

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
        "POST /bookings (booked)": 1,
        "POST /bookings (Slot full)": 1,
        "POST /bookings (User not found)": 1,
        "POST /bookings (invalid body)": 0,
    }
