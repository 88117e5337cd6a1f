"""The deploy that drops what no running release reads any more (0033, 0034): the
bay, the triggers that wrote a booking's interval, resource and block for the
releases that left them out (0007, 0016), and 0029's index of keys' answers.

Tested from the schema the previous release (0dff36b) ran on, up to 0032, with
bookings and a key's answer it wrote. Its statements are this release's, so
the rest of the suite, which runs on every migration, is its test beside the
migrated schema; this one checks what the deploy drops and what it keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from appointments.data import booking_records, migrations, store
from tests import previous_release
from tests.conftest import DB_FOLDER

MIGRATIONS = migrations.load_migrations(DB_FOLDER / "migrations")
PREVIOUS_SCHEMA = [m for m in MIGRATIONS if m.version < "0033"]

DAY = date(2030, 1, 14)
KEY = store.IdempotencyKey("key-1", "fingerprint")


def slot(start: time) -> tuple[datetime, datetime]:
    starts_at = datetime.combine(DAY, start, tzinfo=UTC)
    return starts_at, starts_at + timedelta(hours=1)


def request(user_id: str, start: time) -> store.SlotRequest:
    return store.SlotRequest(user_id, DAY, start, *slot(start), capacity=2)


def row_of(conn: psycopg.Connection, booking_id: str) -> tuple[object, ...]:
    row = conn.execute(
        "SELECT status, resource_id, lower(during), lower(block), version FROM bookings"
        " WHERE id = %s",
        (booking_id,),
    ).fetchone()
    assert row is not None
    return row


@pytest.fixture
def previous_schema(empty_schema_url: str) -> Iterator[psycopg.Connection]:
    """As the previous release left it: alice on bay-1 at 09:00 with a key, bob on
    bay-2 at 09:00, moved to 11:00, carol's 10:00 cancelled."""
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        migrations.apply_migrations(conn, PREVIOUS_SCHEMA)
        conn.execute(
            "INSERT INTO users (id, name) VALUES ('alice', 'A'), ('bob', 'B'), ('carol', 'C')"
        )
        assert previous_release.book_slot(conn, "alice_9", request("alice", time(9)), KEY) == (
            store.Booked("alice_9")
        )
        assert previous_release.book_slot(conn, "bob_9", request("bob", time(9))) == store.Booked(
            "bob_9"
        )
        to_eleven = booking_records.Move(
            DAY, time(11), *slot(time(11)), ("bay-2", "bay-1"), slot(time(11))
        )
        params = booking_records.move_params("bob_9", None, None, to_eleven, "bob")
        moved = conn.execute(previous_release.MOVE, params).fetchone()
        assert moved is not None and moved[0] == "moved"
        assert previous_release.book_slot(conn, "carol_10", request("carol", time(10))) == (
            store.Booked("carol_10")
        )
        conn.execute(  # as its cancel wrote it
            "UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = 'carol_10'"
        )
        yield conn


def test_the_bay_its_triggers_and_the_old_keys_index_are_gone(
    previous_schema: psycopg.Connection,
) -> None:
    conn = previous_schema
    migrations.apply_migrations(conn, MIGRATIONS)

    columns = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'bookings'::regclass"
        " AND attnum > 0 AND NOT attisdropped"
    ).fetchall()
    assert ("bay",) not in columns
    triggers = conn.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'bookings'::regclass AND NOT tgisinternal"
    ).fetchall()
    gone = {"bookings_keep_bay_and_resource_in_step", "bookings_fill_in_interval"}
    assert gone.isdisjoint(name for (name,) in triggers)
    for function in gone:
        assert conn.execute("SELECT to_regproc(%s)", (function,)).fetchone() == (None,)
    assert conn.execute("SELECT to_regclass('idempotency_keys_by_user_and_key')").fetchone() == (
        None,
    )


def test_bookings_and_answers_come_through_and_still_hold_their_blocks(
    previous_schema: psycopg.Connection,
) -> None:
    conn = previous_schema
    before = {b: row_of(conn, b) for b in ("alice_9", "bob_9", "carol_10")}
    migrations.apply_migrations(conn, MIGRATIONS)

    assert {b: row_of(conn, b) for b in before} == before
    assert before["bob_9"][:3] == ("confirmed", "bay-2", slot(time(11))[0])
    assert store.recorded_answer(conn, "default", "alice", KEY) == (
        store.Replayed(store.Booked("alice_9"))
    )
    # 09:00 has bay-2 again (bob moved away); 11:00 has bay-1; carol's 10:00 is free.
    assert store.book_slot(conn, "dave_9", request("alice", time(9))) == store.Booked("dave_9")
    assert row_of(conn, "dave_9")[1] == "bay-2"
    assert store.book_slot(conn, "dave_11", request("alice", time(11))) == store.Booked("dave_11")
    assert store.book_slot(conn, "eve_11", request("carol", time(11))) == store.SlotFull()
    assert store.book_slot(conn, "eve_10", request("carol", time(10))) == store.Booked("eve_10")


def test_a_write_that_leaves_out_its_interval_or_resource_is_refused_not_filled_in(
    previous_schema: psycopg.Connection,
) -> None:
    conn = previous_schema
    migrations.apply_migrations(conn, MIGRATIONS)
    starts_at, ends_at = slot(time(15))

    with pytest.raises(psycopg.errors.NotNullViolation) as no_interval:
        conn.execute(
            "INSERT INTO bookings (id, user_id, slot_date, slot_time, resource_id, block)"
            " VALUES ('old_style', 'alice', %s, '15:00', 'bay-1', tstzrange(%s, %s))",
            (DAY, starts_at, ends_at),
        )
    assert no_interval.value.diag.column_name == "during"
    with pytest.raises(psycopg.errors.NotNullViolation) as no_resource:
        conn.execute(
            "INSERT INTO bookings (id, user_id, slot_date, slot_time, during)"
            " VALUES ('old_style', 'alice', %s, '15:00', tstzrange(%s, %s))",
            (DAY, starts_at, ends_at),
        )
    assert no_resource.value.diag.column_name == "resource_id"
    assert conn.execute("SELECT count(*) FROM bookings WHERE id = 'old_style'").fetchone() == (0,)
