"""The deploy that keys bookings and keys' answers by shop (0025-0030), and drops
what the releases before the catalogue needed (book_slot_v1/v2, 0022's index).

Tested from the schema the previous release (b550899) ran on, up to 0023, with
its statements that differ from this release's, copied here as they shipped,
still running on the migrated schema: its slots read the bay, and it looks a
key's answer up by user and key alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from appointments.data import booking_records, migrations, store
from tests import previous_release
from tests.conftest import DB_FOLDER, index_serving

MIGRATIONS = migrations.load_migrations(DB_FOLDER / "migrations")
PREVIOUS_SCHEMA = [m for m in MIGRATIONS if m.version < "0024"]
# What that deploy applied: the next one (0033, 0034) drops what the previous
# release still read, tested in test_bay_drop_deploy.
THIS_DEPLOY = [m for m in MIGRATIONS if m.version < "0033"]

# The previous release's slots statement, verbatim.
PREVIOUS_BUSY_BAYS = """
    SELECT bay, lower(during), upper(during)
    FROM bookings
    WHERE status = 'confirmed'
      AND catalogue_id_range(shop_id, shop_id, '[]')
          && catalogue_id_range('default', 'default', '[]')
      AND block && tstzrange(%(from)s, %(to)s)
      AND during && tstzrange(%(from)s, %(to)s)
"""

# Its lookup of a key's answer, verbatim. (Its booking statement is this
# release's: book_slot_v3, refused by a key already recorded with a unique
# violation of idempotency_keys_pkey.)
PREVIOUS_RECORDED_ANSWER = """
    WITH expired AS (
        DELETE FROM idempotency_keys
        WHERE user_id = %(user_id)s AND key = %(key)s AND created_at <= now() - %(ttl)s
    )
    SELECT request_fingerprint, outcome, attempt_id, created_at <= now() - %(ttl)s
    FROM idempotency_keys
    WHERE user_id = %(user_id)s AND key = %(key)s
"""

DAY = date(2030, 1, 14)
KEY = store.IdempotencyKey("key-1", "fingerprint")


def slot(start: time) -> tuple[datetime, datetime]:
    starts_at = datetime.combine(DAY, start, tzinfo=UTC)
    return starts_at, starts_at + timedelta(hours=1)


def request(user_id: str, start: time, shop_id: str = "default") -> store.SlotRequest:
    resource_ids = None if shop_id == "default" else ("bay-1",)
    return store.SlotRequest(
        user_id, DAY, start, *slot(start), capacity=2, shop_id=shop_id, resource_ids=resource_ids
    )


def previous_recorded_answer(conn: psycopg.Connection, user_id: str) -> list[tuple[object, ...]]:
    params = {"user_id": user_id, "key": KEY.key, "ttl": store.IDEMPOTENCY_KEY_TTL}
    return conn.execute(PREVIOUS_RECORDED_ANSWER, params).fetchall()


@pytest.fixture
def previous_schema(empty_schema_url: str) -> Iterator[psycopg.Connection]:
    """A database as the previous release left it: alice booked bay-1 at 09:00 with a key."""
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        migrations.apply_migrations(conn, PREVIOUS_SCHEMA)
        conn.execute("INSERT INTO users (id, name) VALUES ('alice', 'A'), ('bob', 'B')")
        assert previous_release.book_slot(conn, "old_9", request("alice", time(9)), KEY) == (
            store.Booked("old_9")
        )
        yield conn


def primary_key_columns(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT attname FROM pg_index JOIN pg_attribute ON attrelid = indrelid"
        " AND attnum = ANY (indkey) WHERE indrelid = %s::regclass AND indisprimary"
        " ORDER BY array_position(indkey::int2[], attnum)",
        (table,),
    ).fetchall()
    return [name for (name,) in rows]


def test_the_shop_leads_both_keys_and_what_no_release_needs_is_gone(
    previous_schema: psycopg.Connection,
) -> None:
    conn = previous_schema
    migrations.apply_migrations(conn, MIGRATIONS)

    assert primary_key_columns(conn, "bookings") == ["shop_id", "id"]
    assert primary_key_columns(conn, "idempotency_keys") == ["shop_id", "user_id", "key"]
    functions = conn.execute(
        "SELECT proname FROM pg_proc WHERE proname LIKE 'book_slot_v%%'"
        " AND pronamespace = current_schema()::regnamespace"
    ).fetchall()
    assert sorted(functions) == [("book_slot_v3",), ("book_slot_v4",)]
    assert conn.execute("SELECT to_regclass('bookings_confirmed_by_interval')").fetchone() == (
        None,
    )
    # The booking made before still holds its slot, and its key its answer.
    assert store.book_slot(conn, "new_9", request("bob", time(9), "default")) == store.Booked(
        "new_9"
    )
    assert store.book_slot(conn, "again_9", request("bob", time(9))) == store.SlotFull()
    assert store.recorded_answer(conn, "default", "alice", KEY) == (
        store.Replayed(store.Booked("old_9"))
    )


def test_the_previous_release_answers_keys_and_reads_slots_on_the_migrated_schema(
    previous_schema: psycopg.Connection,
) -> None:
    conn = previous_schema
    migrations.apply_migrations(conn, THIS_DEPLOY)

    # Its keyed retry is refused by the key's primary key, under the name it
    # answers from the recorded row...
    with pytest.raises(psycopg.errors.UniqueViolation) as refused:
        conn.execute(
            previous_release.BOOK_SLOT,
            store.book_slot_params("retry_9", request("alice", time(9)), KEY),
        )
    assert refused.value.diag.constraint_name == "idempotency_keys_pkey"
    # ...which it finds by user and key, through the index 0029 keeps for it.
    assert previous_recorded_answer(conn, "alice") == [("fingerprint", "booked", "old_9", False)]
    params = {"user_id": "alice", "key": KEY.key, "ttl": store.IDEMPOTENCY_KEY_TTL}
    assert index_serving(conn, PREVIOUS_RECORDED_ANSWER, params, "idempotency_keys") == (
        "idempotency_keys_by_user_and_key"
    )
    # Its slots read the bay, which the trigger of 0016 still keeps in step
    # with this release's resource.
    assert previous_release.book_slot(conn, "new_10", request("bob", time(10))) == (
        store.Booked("new_10")
    )
    whole_day = {"from": slot(time(0))[0], "to": slot(time(23))[1]}
    assert conn.execute(PREVIOUS_BUSY_BAYS, whole_day).fetchall() == [
        (1, *slot(time(9))),
        (1, *slot(time(10))),
    ]


def test_a_key_is_one_users_at_one_shop(previous_schema: psycopg.Connection) -> None:
    conn = previous_schema
    migrations.apply_migrations(conn, MIGRATIONS)

    # The key alice used at the default shop records a second answer at north.
    at_north = request("alice", time(9), shop_id="north")
    assert store.book_slot(conn, "north.b", at_north, KEY) == store.Booked("north.b")
    assert store.recorded_answer(conn, "north", "alice", KEY, "north.b") == (
        store.Booked("north.b")
    )
    assert store.recorded_answer(conn, "default", "alice", KEY) == (
        store.Replayed(store.Booked("old_9"))
    )
    # Found by its shop and id, as booking ids carry their shop.
    found = booking_records.select_booking(conn, "north.b")
    assert found is not None
    assert (found.shop_id, found.resource_id) == ("north", "bay-1")
