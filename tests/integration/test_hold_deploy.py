"""The deploy that brings holds (0035-0040), tested from the schema the previous
release (0dff36b) ran on, up to 0032, with that release's statements that this
one changed (tests/previous_release), still running on the migrated schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from appointments.data import migrations, store
from tests import previous_release
from tests.conftest import DB_FOLDER, index_serving

MIGRATIONS = migrations.load_migrations(DB_FOLDER / "migrations")
PREVIOUS_SCHEMA = [m for m in MIGRATIONS if m.version < "0033"]
TERMS = store.HoldTerms(seconds=300, limit=3)
DAY = date(2030, 1, 14)


def slot(start: time) -> tuple[datetime, datetime]:
    starts_at = datetime.combine(DAY, start, tzinfo=UTC)
    return starts_at, starts_at + timedelta(hours=1)


def request(user_id: str, start: time) -> store.SlotRequest:
    return store.SlotRequest(user_id, DAY, start, *slot(start), capacity=1)


@pytest.fixture
def migrated(empty_schema_url: str) -> Iterator[psycopg.Connection]:
    """The previous release's database, with its 09:00 booking, migrated."""
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        migrations.apply_migrations(conn, PREVIOUS_SCHEMA)
        conn.execute("INSERT INTO users (id, name) VALUES ('alice', 'A'), ('bob', 'B')")
        assert previous_release.book_slot(conn, "old_9", request("alice", time(9))) == (
            store.Booked("old_9")
        )
        migrations.apply_migrations(conn, MIGRATIONS)
        yield conn


def test_the_previous_release_sees_holds_as_taken_and_lapsed_ones_as_free(
    migrated: psycopg.Connection,
) -> None:
    conn = migrated
    assert isinstance(store.hold_slot(conn, "held_10", request("bob", time(10)), TERMS), store.Held)
    assert isinstance(store.hold_slot(conn, "held_11", request("bob", time(11)), TERMS), store.Held)
    conn.execute("UPDATE bookings SET hold_expires_at = now() WHERE id = 'held_11'")

    # Its booking meets the live hold's block under the new constraint...
    assert previous_release.book_slot(conn, "prev_10", request("alice", time(10))) == (
        store.SlotFull()
    )
    # ...and gets past the lapsed one, which the trigger marks expired.
    assert previous_release.book_slot(conn, "prev_11", request("alice", time(11))) == (
        store.Booked("prev_11")
    )
    rows = conn.execute("SELECT id, status FROM bookings ORDER BY id").fetchall()
    assert rows == [
        ("held_10", "held"),
        ("held_11", "expired"),
        ("old_9", "confirmed"),
        ("prev_11", "confirmed"),
    ]


def test_one_constraint_decides_and_serves_the_previous_releases_reads(
    migrated: psycopg.Connection,
) -> None:
    constraints = migrated.execute(
        "SELECT conname, convalidated FROM pg_constraint"
        " WHERE conrelid = 'bookings'::regclass AND contype IN ('x', 'c') ORDER BY conname"
    ).fetchall()
    assert ("bookings_one_hold_or_booking_per_resource_at_a_time", True) in constraints
    assert ("bookings_status_is_known_v2", True) in constraints
    names = {name for name, _ in constraints}
    assert not names & {"bookings_one_per_resource_at_a_time", "bookings_status_is_known"}
    nine = dict(zip(("from", "to"), slot(time(9)), strict=True))
    assert index_serving(migrated, previous_release.BUSY_BAYS, nine) == (
        "bookings_one_hold_or_booking_per_resource_at_a_time"
    )


def test_a_status_the_check_does_not_know_is_refused(migrated: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        migrated.execute("UPDATE bookings SET status = 'held' WHERE id = 'old_9'")  # no expiry
    with pytest.raises(psycopg.errors.CheckViolation):
        migrated.execute("UPDATE bookings SET status = 'pending' WHERE id = 'old_9'")
