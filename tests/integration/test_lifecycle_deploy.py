"""The deploy that brings cancellation: its migrations on a table with bookings,
and the previous code, still running during the deploy, on the migrated schema.

The previous code's statements are copied here as they were shipped, so these
tests keep describing that deploy however the code changes later.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time

import psycopg
import pytest

from appointments import booking_records, migrations, store
from tests.conftest import DB_FOLDER

MIGRATIONS = migrations.load_migrations(DB_FOLDER / "migrations")
BEFORE_CANCELLATION = [m for m in MIGRATIONS if m.version.startswith("0001_")]

# The previous release's booking statement and slot query, verbatim.
PREVIOUS_BOOK_SLOT = """
    WITH inserted AS (
        INSERT INTO bookings (id, user_id, slot_date, slot_time)
        SELECT %(booking_id)s, users.id, %(day)s, %(start)s
        FROM users
        WHERE users.id = %(user_id)s
        ON CONFLICT DO NOTHING
        RETURNING id
    )
    SELECT
        EXISTS (SELECT 1 FROM users WHERE id = %(user_id)s) AS user_exists,
        (SELECT id FROM inserted) AS inserted_id,
        (SELECT id FROM bookings WHERE slot_date = %(day)s AND slot_time = %(start)s) AS holder
"""
PREVIOUS_BOOKED_STARTS = "SELECT slot_time FROM bookings WHERE slot_date = %(day)s"

DAY = date(2024, 1, 20)


@pytest.fixture
def old_schema(empty_schema_url: str) -> Iterator[psycopg.Connection]:
    """A database as the previous release left it: two users, bookings at 09:00 and 10:00."""
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        migrations.apply_migrations(conn, BEFORE_CANCELLATION)
        conn.execute("INSERT INTO users (id, name) VALUES ('alice', 'A'), ('bob', 'B')")
        for hour in (9, 10):
            assert previous_book(conn, f"old_{hour}", "alice", time(hour)) == "booked"
        yield conn


def previous_book(conn: psycopg.Connection, booking_id: str, user_id: str, start: time) -> str:
    params = {"booking_id": booking_id, "user_id": user_id, "day": DAY, "start": start}
    user_exists, inserted_id, holder = conn.execute(PREVIOUS_BOOK_SLOT, params).fetchone()  # type: ignore[misc]
    if not user_exists:
        return "user not found"
    return "booked" if booking_id in (inserted_id, holder) else "slot full"


def test_existing_bookings_come_through_confirmed_and_still_hold_their_slots(
    old_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(old_schema, MIGRATIONS)

    rows = old_schema.execute(
        "SELECT id, status, cancelled_at FROM bookings ORDER BY id"
    ).fetchall()
    assert rows == [("old_10", "confirmed", None), ("old_9", "confirmed", None)]
    assert store.book_slot(old_schema, "new", "bob", DAY, time(9)) == store.SlotFull()
    assert store.select_booked_starts(old_schema, DAY) == [time(9), time(10)]


def test_the_previous_code_books_as_before_on_the_migrated_schema(
    old_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(old_schema, MIGRATIONS)

    # Its ON CONFLICT DO NOTHING names no index, so the new partial one is an arbiter too.
    assert previous_book(old_schema, "prev_9", "bob", time(9)) == "slot full"
    assert previous_book(old_schema, "prev_11", "bob", time(11)) == "booked"
    assert previous_book(old_schema, "prev_12", "carol", time(12)) == "user not found"
    assert store.book_slot(old_schema, "new_11", "alice", DAY, time(11)) == store.SlotFull()
    status = old_schema.execute("SELECT status FROM bookings WHERE id = 'prev_11'").fetchone()
    assert status == ("confirmed",)


def test_when_both_releases_run_a_cancelled_slot_is_never_double_booked(
    old_schema: psycopg.Connection,
) -> None:
    # For the seconds in which Lambda may route a request to either release.
    migrations.apply_migrations(old_schema, MIGRATIONS)
    booking_records.cancel_booking(old_schema, "old_9")

    # The previous release sees a cancelled slot as taken: it does not offer it...
    assert time(9) in [t for (t,) in old_schema.execute(PREVIOUS_BOOKED_STARTS, {"day": DAY})]
    # ...but if asked, the index lets its insert through, so it books it: once.
    assert previous_book(old_schema, "prev_9", "bob", time(9)) == "booked"
    with pytest.raises(psycopg.errors.CardinalityViolation):
        # Two rows for the slot (cancelled, confirmed): its `holder` subquery
        # fails, the statement rolls back, the client gets a 500. Nothing is booked.
        previous_book(old_schema, "prev_9b", "alice", time(9))
    confirmed = old_schema.execute(
        "SELECT count(*) FROM bookings WHERE slot_time = '09:00' AND status = 'confirmed'"
    ).fetchone()
    assert confirmed == (1,)


def test_cancelled_bookings_cannot_be_left_half_cancelled(old_schema: psycopg.Connection) -> None:
    migrations.apply_migrations(old_schema, MIGRATIONS)
    with pytest.raises(psycopg.errors.CheckViolation):
        old_schema.execute("UPDATE bookings SET status = 'cancelled' WHERE id = 'old_9'")
    with pytest.raises(psycopg.errors.CheckViolation):
        old_schema.execute("UPDATE bookings SET status = 'pending' WHERE id = 'old_9'")


def test_the_slot_index_is_partial_unique_and_valid(old_schema: psycopg.Connection) -> None:
    migrations.apply_migrations(old_schema, MIGRATIONS)
    indexes = dict(
        old_schema.execute(
            "SELECT c.relname, i.indisunique AND i.indisvalid AND i.indpred IS NOT NULL"
            " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'bookings'::regclass"
        ).fetchall()
    )
    assert indexes["bookings_one_confirmed_per_slot"] is True
    assert "bookings_one_per_slot" not in indexes
    assert "bookings_by_user" in indexes
