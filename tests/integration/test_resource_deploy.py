"""The deploy that brings the catalogue to bookings (0016-0023): bookings gain a
shop, a service, a resource and a block, and races are decided by resource.

Tested from the schema the previous release ran on (up to 0015), with that
release's booking statement, copied here as it shipped, still running on the
migrated schema: it books by bay, and the trigger of 0016 gives its bookings
the resource of their bay.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from appointments.data import migrations, store
from tests import previous_release
from tests.conftest import DB_FOLDER, index_serving

MIGRATIONS = migrations.load_migrations(DB_FOLDER / "migrations")
BEFORE_RESOURCES = [m for m in MIGRATIONS if m.version < "0016"]
# What that deploy applied: the next ones drop what the previous release
# needed (0025, 0026), tested in test_shop_keys_deploy.
THIS_DEPLOY = [m for m in MIGRATIONS if m.version < "0024"]

# The previous release's (64681e4) booking statement, verbatim.
PREVIOUS_BOOK_SLOT = """
    SELECT user_exists, booked
    FROM book_slot_v2(
        %(booking_id)s, %(user_id)s, %(day)s, %(start)s, %(starts_at)s, %(ends_at)s,
        %(capacity)s, %(key)s, %(fingerprint)s, %(new_user_name)s
    )
"""

# Its cancel, verbatim.
PREVIOUS_CANCEL = """
    UPDATE bookings
    SET status = 'cancelled', cancelled_at = COALESCE(cancelled_at, now())
    WHERE id = %(booking_id)s AND (%(owner)s::text IS NULL OR user_id = %(owner)s)
    RETURNING id, user_id, slot_date, slot_time, lower(during), upper(during),
              status, created_at, cancelled_at
"""

DAY = date(2030, 1, 14)
CAPACITY = 2


def slot(start: time, minutes: int = 60) -> tuple[datetime, datetime]:
    starts_at = datetime.combine(DAY, start, tzinfo=UTC)
    return starts_at, starts_at + timedelta(minutes=minutes)


def previous_book(conn: psycopg.Connection, booking_id: str, user_id: str, start: time) -> str:
    starts_at, ends_at = slot(start)
    params = {
        "booking_id": booking_id,
        "user_id": user_id,
        "day": DAY,
        "start": start,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "capacity": CAPACITY,
        "key": None,
        "fingerprint": None,
        "new_user_name": None,
    }
    user_exists, booked = conn.execute(PREVIOUS_BOOK_SLOT, params).fetchone()  # type: ignore[misc]
    return "booked" if booked else "slot full" if user_exists else "user not found"


def request(
    user_id: str,
    start: time,
    resource_ids: tuple[str, ...] | None = None,
    buffers: tuple[int, int] = (0, 0),
    shop_id: str = "default",
) -> store.SlotRequest:
    """What this release asks for: the default shop's bays, or the resources named."""
    starts_at, ends_at = slot(start)
    before, after = (timedelta(minutes=m) for m in buffers)
    return store.SlotRequest(
        user_id,
        DAY,
        start,
        starts_at,
        ends_at,
        capacity=CAPACITY,
        shop_id=shop_id,
        resource_ids=resource_ids,
        block=(starts_at - before, ends_at + after),
    )


def held(conn: psycopg.Connection, booking_id: str) -> tuple[object, ...]:
    """The booking's shop, service, resource, bay and block."""
    row = conn.execute(
        "SELECT shop_id, service_id, resource_id, bay, lower(block), upper(block)"
        " FROM bookings WHERE id = %s",
        (booking_id,),
    ).fetchone()
    assert row is not None
    return row


@pytest.fixture
def previous_schema(empty_schema_url: str) -> Iterator[psycopg.Connection]:
    """A database as the previous release left it: at 09:00 both bays booked, bay-2's
    then cancelled; at 10:00 one bay booked."""
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        migrations.apply_migrations(conn, BEFORE_RESOURCES)
        conn.execute("INSERT INTO users (id, name) VALUES ('alice', 'A'), ('bob', 'B')")
        for booking_id, start in [("old_9a", 9), ("old_9b", 9), ("old_10", 10)]:
            assert previous_book(conn, booking_id, "alice", time(start)) == "booked"
        conn.execute(PREVIOUS_CANCEL, {"booking_id": "old_9b", "owner": None})
        yield conn


def test_existing_bookings_become_the_default_shops_on_the_resource_of_their_bay(
    previous_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(previous_schema, THIS_DEPLOY)

    assert held(previous_schema, "old_9a") == ("default", "appointment", "bay-1", 1, *slot(time(9)))
    assert held(previous_schema, "old_9b") == ("default", "appointment", "bay-2", 2, *slot(time(9)))
    assert held(previous_schema, "old_10") == (
        "default",
        "appointment",
        "bay-1",
        1,
        *slot(time(10)),
    )
    required = previous_schema.execute(
        "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'bookings'::regclass"
        " AND attname IN ('shop_id', 'service_id', 'resource_id', 'block') ORDER BY attname"
    ).fetchall()
    assert required == [
        ("block", True),
        ("resource_id", True),
        ("service_id", True),
        ("shop_id", True),
    ]
    constraints = previous_schema.execute(
        "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'bookings'::regclass"
        " AND conname LIKE 'bookings_%%' AND contype IN ('c', 'x') ORDER BY conname"
    ).fetchall()
    assert constraints == [
        ("bookings_block_holds_interval", True),
        ("bookings_one_per_resource_at_a_time", True),
        ("bookings_status_is_known", True),
    ]


def test_the_previous_release_and_this_one_see_each_others_bookings(
    previous_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(previous_schema, THIS_DEPLOY)
    conn = previous_schema

    # 09:00: bay-2 was freed by a cancel; this release takes it, and then the
    # previous one finds the slot full.
    assert previous_release.book_slot(conn, "new_9", request("bob", time(9))) == store.Booked(
        "new_9"
    )
    assert held(conn, "new_9")[2:4] == ("bay-2", 2)
    assert previous_book(conn, "prev_9", "bob", time(9)) == "slot full"
    # 10:00: the previous release takes bay-2 (trigger: resource bay-2), and
    # this one finds the slot full.
    assert previous_book(conn, "prev_10", "bob", time(10)) == "booked"
    assert held(conn, "prev_10") == ("default", "appointment", "bay-2", 2, *slot(time(10)))
    assert previous_release.book_slot(conn, "new_10", request("bob", time(10))) == store.SlotFull()
    # Its retry still recognises its booking; a user it does not know is still unknown.
    assert previous_book(conn, "prev_10", "bob", time(10)) == "booked"
    assert previous_book(conn, "prev_11", "carol", time(11)) == "user not found"


def test_a_buffer_keeps_the_resource_busy_for_the_next_booking(
    previous_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(previous_schema, THIS_DEPLOY)
    conn = previous_schema

    # 12:00-13:00 with 15 minutes of clean-up: bay-1 is busy until 13:15.
    cleaned = request("alice", time(12), ("bay-1",), buffers=(0, 15))
    assert previous_release.book_slot(conn, "noon", cleaned) == store.Booked("noon")
    assert held(conn, "noon")[4:] == (slot(time(12))[0], slot(time(13), 15)[1])
    assert (
        previous_release.book_slot(conn, "one", request("bob", time(13), ("bay-1",)))
        == store.SlotFull()
    )
    # With 15 minutes of set-up before it, a 14:00 booking wants bay-1 from
    # 13:45: free. bay-2 was free all along.
    set_up = request("bob", time(14), ("bay-1",), buffers=(15, 0))
    assert previous_release.book_slot(conn, "two", set_up) == store.Booked("two")
    assert previous_release.book_slot(
        conn, "one_b", request("bob", time(13), ("bay-1", "bay-2"))
    ) == (store.Booked("one_b"))
    assert held(conn, "one_b")[2:4] == ("bay-2", 2)
    # The previous release books by interval only: bay-1 is free for it at
    # 13:00 (the clean-up is not in its interval), but the constraint by
    # resource refuses the overlap with the clean-up, so it takes nothing.
    assert previous_book(conn, "prev_13", "bob", time(13)) == "slot full"


def test_a_block_must_hold_the_booking_and_a_resource_is_one_shops(
    previous_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(previous_schema, THIS_DEPLOY)
    conn = previous_schema
    starts_at, ends_at = slot(time(15))
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id,"
            " block) VALUES ('narrow', 'alice', %s, '15:00', tstzrange(%s, %s), 'bay-1',"
            " tstzrange(%s, %s))",
            (DAY, starts_at, ends_at, starts_at, ends_at - timedelta(minutes=1)),
        )
    # Another shop's bay-1 is another resource. (It holds bay 1, the column's
    # default, as every other shop's booking does: 0023 dropped the bay's
    # constraint, which knew no shops.)
    conn.execute(
        "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, shop_id, resource_id,"
        " block) VALUES ('elsewhere', 'alice', %s, '15:00', tstzrange(%s, %s), 'north',"
        " 'bay-1', tstzrange(%s, %s))",
        (DAY, starts_at, ends_at, starts_at, ends_at),
    )
    assert previous_release.book_slot(conn, "here", request("bob", time(15), ("bay-1",))) == (
        store.Booked("here")
    )
    with pytest.raises(psycopg.errors.ExclusionViolation):
        conn.execute(
            "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, shop_id,"
            " resource_id, block) VALUES ('again', 'alice', %s, '15:30',"
            " tstzrange(%s, %s), 'north', 'bay-1', tstzrange(%s, %s))",
            (DAY, ends_at, ends_at + timedelta(hours=1), starts_at, ends_at + timedelta(hours=1)),
        )


# The previous release's (64681e4) slots statement, verbatim.
PREVIOUS_BUSY_BAYS = """
    SELECT bay, lower(during), upper(during)
    FROM bookings
    WHERE status = 'confirmed' AND during && tstzrange(%(from)s, %(to)s)
"""


def test_the_bays_busy_for_either_release_are_found_through_an_index(
    previous_schema: psycopg.Connection,
) -> None:
    """0023 drops the index the previous release's reads used; 0022 stands in for it."""
    migrations.apply_migrations(previous_schema, THIS_DEPLOY)

    nine = dict(zip(("from", "to"), slot(time(9)), strict=True))
    assert index_serving(previous_schema, PREVIOUS_BUSY_BAYS, nine) == (
        "bookings_confirmed_by_interval"
    )
    assert index_serving(previous_schema, previous_release.BUSY_BAYS, nine) == (
        "bookings_one_per_resource_at_a_time"
    )


def test_a_keys_answer_is_recorded_with_the_shop_of_its_booking(
    previous_schema: psycopg.Connection,
) -> None:
    migrations.apply_migrations(previous_schema, THIS_DEPLOY)
    key = store.IdempotencyKey("key-1", "fingerprint")

    outcome = previous_release.book_slot(previous_schema, "keyed", request("bob", time(16)), key)

    assert outcome == store.Booked("keyed")
    recorded = previous_schema.execute(
        "SELECT shop_id, outcome, attempt_id FROM idempotency_keys WHERE key = 'key-1'"
    ).fetchall()
    assert recorded == [("default", "booked", "keyed")]
