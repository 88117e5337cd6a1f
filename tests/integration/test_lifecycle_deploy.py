"""The deploys since the first release: their migrations on a table with bookings,
and the code of earlier releases, still running while a deploy goes through, on
the migrated schema: every migration up to 0033, which dropped the triggers
those releases relied on, long after the last of them was gone. The data they
wrote comes through every migration up to the newest.

The earlier releases' statements are copied here as they were shipped, so these
tests keep describing those deploys however the code changes later. Neither
writes a booking's interval: the trigger of 0007 fills it in (UTC, one hour),
and the exclusion constraint of 0010 arbitrates their ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from appointments.data import busy_bays, migrations, store
from tests import previous_release
from tests.conftest import DB_FOLDER

MIGRATIONS = migrations.load_migrations(DB_FOLDER / "migrations")
BEFORE_CANCELLATION = [m for m in MIGRATIONS if m.version.startswith("0001_")]
# What the release of issue 10 (idempotency keys, 6e213a8) ran on.
BEFORE_CAPACITY = [m for m in MIGRATIONS if m.version < "0007"]
# The newest schema those releases could still run beside.
WHILE_THEY_RAN = [m for m in MIGRATIONS if m.version < "0033"]

# The previous release's (01302c5) booking statement and slot query, verbatim.
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

# The booking statement of the release of issue 10 (6e213a8), verbatim.
ISSUE_10_BOOK_SLOT = """
    WITH inserted AS (
        INSERT INTO bookings (id, user_id, slot_date, slot_time)
        SELECT %(booking_id)s, users.id, %(day)s, %(start)s
        FROM users
        WHERE users.id = %(user_id)s
        ON CONFLICT DO NOTHING
        RETURNING id
    ),
    outcome AS (
        SELECT
            EXISTS (SELECT 1 FROM users WHERE id = %(user_id)s) AS user_exists,
            (SELECT id FROM inserted) AS inserted_id,
            (
                SELECT id FROM bookings
                WHERE slot_date = %(day)s AND slot_time = %(start)s AND status = 'confirmed'
            ) AS holder
    ),
    recorded AS (
        INSERT INTO idempotency_keys (user_id, key, request_fingerprint, outcome, attempt_id)
        SELECT
            %(user_id)s,
            %(key)s::text,
            %(fingerprint)s,
            CASE
                WHEN %(booking_id)s IN (inserted_id, holder) THEN 'booked'
                WHEN user_exists THEN 'slot_full'
                ELSE 'user_not_found'
            END,
            %(booking_id)s
        FROM outcome
        WHERE %(key)s::text IS NOT NULL
    )
    SELECT user_exists, inserted_id, holder FROM outcome
"""

DAY = date(2024, 1, 20)
MIDNIGHT = datetime.combine(DAY, time(0), tzinfo=UTC)
WHOLE_DAY = (MIDNIGHT, MIDNIGHT + timedelta(days=1))


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


def issue_10_book(conn: psycopg.Connection, booking_id: str, user_id: str, start: time) -> str:
    params = {
        "booking_id": booking_id,
        "user_id": user_id,
        "day": DAY,
        "start": start,
        "key": None,
        "fingerprint": None,
    }
    user_exists, inserted_id, holder = conn.execute(ISSUE_10_BOOK_SLOT, params).fetchone()  # type: ignore[misc]
    if not user_exists:
        return "user not found"
    return "booked" if booking_id in (inserted_id, holder) else "slot full"


def slot(start: time) -> tuple[datetime, datetime]:
    """A slot of the default schedule (UTC, one hour) on DAY: what the trigger fills in."""
    starts_at = datetime.combine(DAY, start, tzinfo=UTC)
    return starts_at, starts_at + timedelta(hours=1)


def request(user_id: str, start: time) -> store.SlotRequest:
    """What this release asks for under the default schedule (capacity 1)."""
    return store.SlotRequest(user_id, DAY, start, *slot(start), capacity=1)


def bays_busy_all_day(
    conn: psycopg.Connection,
    read: Callable[..., list[busy_bays.BusyBay]] = busy_bays.select_busy_bays,
) -> list[busy_bays.BusyBay]:
    return sorted(read(conn, *WHOLE_DAY), key=lambda busy: busy.starts_at)


def held(conn: psycopg.Connection, booking_id: str) -> tuple[str, datetime, datetime]:
    """The booking's resource (its bay) and interval."""
    row = conn.execute(
        "SELECT resource_id, lower(during), upper(during) FROM bookings WHERE id = %s",
        (booking_id,),
    ).fetchone()
    assert row is not None
    return row


def test_existing_bookings_come_through_confirmed_and_still_hold_their_slots(
    old_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(old_schema, MIGRATIONS)

    rows = old_schema.execute(
        "SELECT id, status, cancelled_at FROM bookings ORDER BY id"
    ).fetchall()
    assert rows == [("old_10", "confirmed", None), ("old_9", "confirmed", None)]
    # 0008 gave them the interval of a one-hour slot in UTC, on bay 1.
    assert held(old_schema, "old_9") == ("bay-1", *slot(time(9)))
    assert held(old_schema, "old_10") == ("bay-1", *slot(time(10)))
    assert store.book_slot(old_schema, "new", request("bob", time(9))) == store.SlotFull()
    assert bays_busy_all_day(old_schema) == [
        busy_bays.BusyBay("bay-1", *slot(time(9))),
        busy_bays.BusyBay("bay-1", *slot(time(10))),
    ]


def test_the_previous_code_books_as_before_on_the_migrated_schema(
    old_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(old_schema, WHILE_THEY_RAN)

    # Its ON CONFLICT DO NOTHING names no constraint, so the exclusion constraint
    # is an arbiter too, on the interval the trigger filled in.
    assert previous_book(old_schema, "prev_9", "bob", time(9)) == "slot full"
    assert previous_book(old_schema, "prev_11", "bob", time(11)) == "booked"
    assert previous_book(old_schema, "prev_12", "carol", time(12)) == "user not found"
    assert (
        previous_release.book_slot(old_schema, "new_11", request("alice", time(11)))
        == store.SlotFull()
    )
    status = old_schema.execute("SELECT status FROM bookings WHERE id = 'prev_11'").fetchone()
    assert status == ("confirmed",)
    assert held(old_schema, "prev_11") == ("bay-1", *slot(time(11)))
    # And the other way round: a slot this release booked is full for the previous one.
    assert previous_release.book_slot(
        old_schema, "new_13", request("alice", time(13))
    ) == store.Booked("new_13")
    assert previous_book(old_schema, "prev_13", "bob", time(13)) == "slot full"


def test_when_both_releases_run_a_cancelled_slot_is_never_double_booked(
    old_schema: psycopg.Connection,
) -> None:
    # For the seconds in which Lambda may route a request to either release.
    migrations.apply_migrations(old_schema, WHILE_THEY_RAN)
    previous_release.cancel(old_schema, "old_9")

    # The previous release sees a cancelled slot as taken: it does not offer it...
    assert time(9) in [t for (t,) in old_schema.execute(PREVIOUS_BOOKED_STARTS, {"day": DAY})]
    # ...but if asked, the exclusion constraint (confirmed bookings only) lets
    # its insert through, so it books it: once.
    assert previous_book(old_schema, "prev_9", "bob", time(9)) == "booked"
    with pytest.raises(psycopg.errors.CardinalityViolation):
        # Two rows for the slot (cancelled, confirmed): its `holder` subquery
        # fails, the statement rolls back, the client gets a 500. Nothing is booked.
        previous_book(old_schema, "prev_9b", "alice", time(9))
    confirmed = old_schema.execute(
        "SELECT count(*) FROM bookings WHERE slot_time = '09:00' AND status = 'confirmed'"
    ).fetchone()
    assert confirmed == (1,)
    # This release sees the slot taken by the previous one's booking.
    assert bays_busy_all_day(old_schema, previous_release.select_busy_bays) == [
        busy_bays.BusyBay("bay-1", *slot(time(9))),
        busy_bays.BusyBay("bay-1", *slot(time(10))),
    ]
    assert (
        previous_release.book_slot(old_schema, "new_9", request("alice", time(9)))
        == store.SlotFull()
    )


def test_cancelled_bookings_cannot_be_left_half_cancelled(old_schema: psycopg.Connection) -> None:
    migrations.apply_migrations(old_schema, MIGRATIONS)
    with pytest.raises(psycopg.errors.CheckViolation):
        old_schema.execute("UPDATE bookings SET status = 'cancelled' WHERE id = 'old_9'")
    with pytest.raises(psycopg.errors.CheckViolation):
        old_schema.execute("UPDATE bookings SET status = 'pending' WHERE id = 'old_9'")


def test_the_issue_10_release_books_and_refuses_as_before_on_the_migrated_schema(
    old_schema: psycopg.Connection,
) -> None:
    """The release before this one, still running while 0007-0012 go through."""
    migrations.apply_migrations(old_schema, BEFORE_CAPACITY)
    assert issue_10_book(old_schema, "issue10_12", "alice", time(12)) == "booked"
    migrations.apply_migrations(old_schema, WHILE_THEY_RAN)

    assert held(old_schema, "issue10_12") == ("bay-1", *slot(time(12)))  # filled in by 0008
    assert issue_10_book(old_schema, "issue10_11", "bob", time(11)) == "booked"
    # Filled in by the triggers of 0007 and 0016.
    assert held(old_schema, "issue10_11") == ("bay-1", *slot(time(11)))
    # Its retry recognises its own booking; anyone else finds the slot full.
    assert issue_10_book(old_schema, "issue10_11", "bob", time(11)) == "booked"
    assert issue_10_book(old_schema, "issue10_11b", "alice", time(11)) == "slot full"
    assert issue_10_book(old_schema, "issue10_9", "bob", time(9)) == "slot full"
    assert issue_10_book(old_schema, "issue10_13", "carol", time(13)) == "user not found"
    # Both releases see each other's bookings.
    assert (
        previous_release.book_slot(old_schema, "new_11", request("alice", time(11)))
        == store.SlotFull()
    )
    assert previous_release.book_slot(
        old_schema, "new_14", request("alice", time(14))
    ) == store.Booked("new_14")
    assert issue_10_book(old_schema, "issue10_14", "bob", time(14)) == "slot full"
    # A cancelled slot is free again for it, as before.
    previous_release.cancel(old_schema, "issue10_12")
    assert issue_10_book(old_schema, "issue10_12b", "bob", time(12)) == "booked"

    confirmed = old_schema.execute(
        "SELECT id FROM bookings WHERE status = 'confirmed' ORDER BY slot_time"
    ).fetchall()
    assert confirmed == [("old_9",), ("old_10",), ("issue10_11",), ("issue10_12b",), ("new_14",)]


def test_the_final_schema_decides_by_resource_and_block(old_schema: psycopg.Connection) -> None:
    """The bay's constraint (0010) decided until the catalogue's (0019) took over
    and 0023 dropped it, and 0038's, which counts holds too, replaced that one:
    one exclusion constraint, valid, decides races."""
    migrations.apply_migrations(old_schema, MIGRATIONS)
    constraints = old_schema.execute(
        "SELECT c.conname, c.convalidated, i.indisvalid, i.indisready"
        " FROM pg_constraint c JOIN pg_index i ON i.indexrelid = c.conindid"
        " WHERE c.conrelid = 'bookings'::regclass AND c.contype = 'x'"
    ).fetchall()
    assert constraints == [
        ("bookings_one_hold_or_booking_per_resource_at_a_time", True, True, True)
    ]
    indexes = [
        name
        for (name,) in old_schema.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'bookings'::regclass"
        )
    ]
    assert "bookings_one_confirmed_per_slot" not in indexes  # dropped by 0011
    assert "bookings_one_per_slot" not in indexes
    assert "bookings_by_user" in indexes
    during_required = old_schema.execute(
        "SELECT attnotnull FROM pg_attribute"
        " WHERE attrelid = 'bookings'::regclass AND attname = 'during'"
    ).fetchone()
    assert during_required == (True,)
