"""The catalogue (issue 19, first stage): its tables, the default shop the
template's parameters make, and the public routes that read them."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from appointments.data import store
from appointments.domain import default_shop, shop
from tests.conftest import Invoke, load_function

CATALOGUE_TABLES = {"shops", "resources", "resource_time_off", "services", "service_resources"}

# Every key of a table with a shop_id, and its first column: constraints, and
# unique indexes made without one. An exclusion constraint's first element may
# be an expression: its text stands for it (pg_get_indexdef of column 1).
_KEYS_AND_THEIR_FIRST_COLUMNS = """
    SELECT key.conrelid::regclass::text, key.conname, key.contype::text,
           CASE WHEN key.contype = 'x' THEN pg_get_indexdef(key.conindid, 1, true)
                ELSE (SELECT attname FROM pg_attribute
                      WHERE attrelid = key.conrelid AND attnum = key.conkey[1])
           END,
           (SELECT attname FROM pg_attribute
            WHERE attrelid = key.confrelid AND attnum = key.confkey[1])
    FROM pg_constraint AS key
    WHERE key.contype IN ('p', 'u', 'f', 'x')
      AND key.connamespace = current_schema()::regnamespace
      AND EXISTS (SELECT 1 FROM pg_attribute
                  WHERE attrelid = key.conrelid AND attname = 'shop_id' AND NOT attisdropped)
    UNION ALL
    SELECT index.indrelid::regclass::text, index.indexrelid::regclass::text, 'unique index',
           (SELECT attname FROM pg_attribute
            WHERE attrelid = index.indrelid AND attnum = index.indkey[0]),
           NULL
    FROM pg_index AS index
    JOIN pg_class AS tab ON tab.oid = index.indrelid
    WHERE index.indisunique
      AND tab.relnamespace = current_schema()::regnamespace
      AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = index.indexrelid)
      AND EXISTS (SELECT 1 FROM pg_attribute
                  WHERE attrelid = index.indrelid AND attname = 'shop_id' AND NOT attisdropped)
"""

# shop_id itself, or the shop as the one-point range an exclusion constraint
# compares by overlap (0016): equality either way.
SHOP_FIRST = {"shop_id", "catalogue_id_range(shop_id, shop_id, '[]'::text)"}

# Users are shared by every shop: a reference table on Citus, which a
# distributed table may refer to. Nothing else may be added here.
LED_BY_A_REFERENCE_TABLE = {"bookings_user_id_fkey"}


def test_shop_id_leads_every_key_of_a_shops_tables(db: psycopg.Connection) -> None:
    keys = db.execute(_KEYS_AND_THEIR_FIRST_COLUMNS).fetchall()

    assert {table for table, *_ in keys} >= CATALOGUE_TABLES | {"bookings", "idempotency_keys"}
    not_led_by_shop = {
        name: (table, kind, first, referenced_first)
        for table, name, kind, first, referenced_first in keys
        if first not in SHOP_FIRST or (kind == "f" and referenced_first != "shop_id")
    }
    assert not_led_by_shop.keys() == LED_BY_A_REFERENCE_TABLE, not_led_by_shop
    exclusion = {name: first for _, name, kind, first, _ in keys if kind == "x"}
    assert exclusion["bookings_one_hold_or_booking_per_resource_at_a_time"] in SHOP_FIRST


@pytest.fixture
def default_shop_restored(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """The default shop rewritten from the test environment afterwards, as migrate writes it."""
    yield db
    default_shop.write_default_shop(db, shop.load_schedule(os.environ))


def get(invoke: Invoke, shop_id: str, route: str = "") -> tuple[int, Any]:
    """GET /shops/{shop_id}<route>, as API Gateway hands it on: the id decoded."""
    response = invoke(
        "catalogue",
        "GET",
        f"/shops/{quote(shop_id, safe='')}{route}",
        route_key=f"GET /shops/{{shop_id}}{route}",
        path_parameters={"shop_id": shop_id},
    )
    return response["statusCode"], response["json"]


def test_the_default_shop_is_the_one_the_templates_parameters_configure(invoke: Invoke) -> None:
    # The template's defaults: test_template_defaults keeps them these.
    assert get(invoke, "default") == (
        200,
        {
            "shop_id": "default",
            "name": "Default shop",
            "time_zone": "UTC",
            "opening_hours": "Mon-Sun 09:00-17:00",
            "closed_dates": [],
            "minimum_notice_minutes": None,
            "booking_horizon_days": None,
            "hold_seconds": None,
            "change_notice_minutes": None,
        },
    )
    assert get(invoke, "default", "/services") == (
        200,
        {
            "services": [
                {
                    "service_id": "appointment",
                    "name": "Appointment",
                    "duration_minutes": 60,
                    "buffer_before_minutes": 0,
                    "buffer_after_minutes": 0,
                    "step_minutes": 60,
                    "resource_ids": ["bay-1"],
                }
            ]
        },
    )
    assert get(invoke, "default", "/resources") == (
        200,
        {
            "resources": [
                {"resource_id": "bay-1", "name": "Bay 1", "opening_hours": "Mon-Sun 09:00-17:00"}
            ]
        },
    )


def test_the_default_shop_follows_the_parameters_and_keeps_nothing_else(
    invoke: Invoke, default_shop_restored: psycopg.Connection
) -> None:
    db = default_shop_restored
    db.execute(
        "INSERT INTO resources (shop_id, resource_id, name) VALUES ('default', 'ana', 'Ana')"
    )
    db.execute(
        "INSERT INTO services (shop_id, service_id, name, duration_minutes)"
        " VALUES ('default', 'oil-change', 'Oil change', 30)"
    )
    settings = {
        "SHOP_TIME_ZONE": "Europe/Lisbon",
        "OPENING_HOURS": "Sat 09:00-13:00; Mon-Fri 08:00-12:00, 13:00-18:00",
        "CLOSED_DATES": "2033-12-25,2033-01-01",
        "SLOT_MINUTES": "30",
        "CAPACITY": "3",
        "MINIMUM_NOTICE_MINUTES": "120",
        "BOOKING_HORIZON_DAYS": "60",
    }

    default_shop.write_default_shop(db, shop.load_schedule(settings))

    assert get(invoke, "default")[1] == {
        "shop_id": "default",
        "name": "Default shop",
        "time_zone": "Europe/Lisbon",
        "opening_hours": "Mon-Fri 08:00-12:00, 13:00-18:00; Sat 09:00-13:00",
        "closed_dates": ["2033-01-01", "2033-12-25"],
        "minimum_notice_minutes": 120,
        "booking_horizon_days": 60,
        "hold_seconds": None,
        "change_notice_minutes": None,
    }
    services = get(invoke, "default", "/services")[1]["services"]
    assert [(s["duration_minutes"], s["step_minutes"], s["resource_ids"]) for s in services] == [
        (30, 30, ["bay-1", "bay-2", "bay-3"])
    ]
    resources = get(invoke, "default", "/resources")[1]["resources"]
    assert [r["resource_id"] for r in resources] == ["bay-1", "bay-2", "bay-3"]

    default_shop.write_default_shop(db, shop.load_schedule({**settings, "CAPACITY": "2"}))

    resources = get(invoke, "default", "/resources")[1]["resources"]
    assert [r["resource_id"] for r in resources] == ["bay-1", "bay-2"]
    services = get(invoke, "default", "/services")[1]["services"]
    assert services[0]["resource_ids"] == ["bay-1", "bay-2"]


def test_writing_the_same_default_shop_again_changes_nothing(
    default_shop_restored: psycopg.Connection,
) -> None:
    db = default_shop_restored
    schedule = shop.load_schedule(os.environ)
    default_shop.write_default_shop(db, schedule)
    before = row_versions(db)

    default_shop.write_default_shop(db, schedule)

    assert len(before) == 4  # the shop, its service, bay-1, and the link between them
    assert row_versions(db) == before


def row_versions(db: psycopg.Connection) -> list[tuple[str, ...]]:
    """The version (xmin) of every row of the default shop: a write makes a new one."""
    rows = db.execute(
        "SELECT 'shop', shop_id, xmin::text FROM shops WHERE shop_id = 'default'"
        " UNION ALL SELECT 'service', service_id, xmin::text FROM services"
        "  WHERE shop_id = 'default'"
        " UNION ALL SELECT 'resource', resource_id, xmin::text FROM resources"
        "  WHERE shop_id = 'default'"
        " UNION ALL SELECT 'link', resource_id, xmin::text FROM service_resources"
        "  WHERE shop_id = 'default'"
        " ORDER BY 1, 2"
    ).fetchall()
    return [tuple(row) for row in rows]


def test_closed_dates_hold_real_days_only(db: psycopg.Connection) -> None:
    for dates in ("{2033-01-01,NULL}", "{infinity}", "{-infinity}"):
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute(
                "INSERT INTO shops (shop_id, name, time_zone, opening_hours, closed_dates)"
                " VALUES ('odd-dates', 'Odd', 'UTC', 'Mon 09:00-10:00', %s::date[])",
                [dates],
            )


def test_a_shop_with_nothing_in_it_lists_nothing(invoke: Invoke, db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO shops (shop_id, name, time_zone, opening_hours)"
        " VALUES ('empty-shop', 'Empty', 'UTC', 'Mon 09:00-10:00')"
    )
    try:
        assert get(invoke, "empty-shop", "/services") == (200, {"services": []})
        assert get(invoke, "empty-shop", "/resources") == (200, {"resources": []})
    finally:
        db.execute("DELETE FROM shops WHERE shop_id = 'empty-shop'")


def test_a_resources_own_hours_are_listed_instead_of_the_shops(
    invoke: Invoke, default_shop_restored: psycopg.Connection
) -> None:
    default_shop_restored.execute(
        "UPDATE resources SET opening_hours = 'Tue 10:00-12:00'"
        " WHERE shop_id = 'default' AND resource_id = 'bay-1'"
    )
    resources = get(invoke, "default", "/resources")[1]["resources"]
    assert resources[0]["opening_hours"] == "Tue 10:00-12:00"


@pytest.mark.parametrize("route", ["", "/services", "/resources"])
@pytest.mark.parametrize(
    "shop_id", ["nowhere", "Default", "x" * 65, "a b", "bay\x00", "../default"]
)
def test_an_unknown_or_impossible_shop_is_not_found(
    invoke: Invoke, route: str, shop_id: str
) -> None:
    assert get(invoke, shop_id, route) == (404, {"error": "Shop not found"})


def test_the_migrate_function_writes_the_default_shop(
    empty_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appointments.platform.settings import get_settings
    from local.lambda_context import LocalLambdaContext

    monkeypatch.setenv("DATABASE_URL", empty_schema_url)
    monkeypatch.setenv("CAPACITY", "2")
    get_settings.cache_clear()
    try:
        load_function("migrate").handler({}, LocalLambdaContext(function_name="migrate"))
    finally:
        get_settings.cache_clear()

    with psycopg.connect(empty_schema_url) as conn:
        shops = conn.execute("SELECT shop_id, time_zone FROM shops").fetchall()
        eligible = conn.execute(
            "SELECT service_id, resource_id FROM service_resources ORDER BY resource_id"
        ).fetchall()
    assert shops == [("default", "UTC")]
    assert eligible == [("appointment", "bay-1"), ("appointment", "bay-2")]


# --- The catalogue's version, which a booking checks in its own statement ----


# What a catalogue change does to the default shop's version.
NEW_VERSION = (
    "UPDATE shops SET catalogue_version = nextval('catalogue_versions') WHERE shop_id = 'default'"
)


def catalogue_version(db: psycopg.Connection, shop_id: str = "default") -> int:
    row = db.execute(
        "SELECT catalogue_version FROM shops WHERE shop_id = %s", (shop_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def versioned_request(user_id: str, version: int) -> store.SlotRequest:
    starts_at = datetime(2033, 3, 7, 10, tzinfo=UTC)
    return store.SlotRequest(
        user_id,
        starts_at.date(),
        starts_at.time(),
        starts_at,
        starts_at + timedelta(hours=1),
        capacity=1,
        catalogue_version=version,
    )


def test_a_change_to_the_default_shop_gives_it_a_new_version_and_a_rewrite_does_not(
    default_shop_restored: psycopg.Connection,
) -> None:
    db = default_shop_restored
    schedule = shop.load_schedule(os.environ)
    default_shop.write_default_shop(db, schedule)
    unchanged = catalogue_version(db)

    default_shop.write_default_shop(db, schedule)
    assert catalogue_version(db) == unchanged
    default_shop.write_default_shop(db, shop.load_schedule({**os.environ, "CAPACITY": "2"}))
    assert catalogue_version(db) != unchanged


def test_a_booking_made_from_an_older_catalogue_writes_nothing(db: psycopg.Connection) -> None:
    current = catalogue_version(db)
    key = store.IdempotencyKey("stale-key", "fingerprint")

    stale = store.book_slot(db, "booking_stale", versioned_request("user_alice", -1), key)

    assert stale == store.CatalogueChanged()
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM idempotency_keys").fetchone() == (0,)
    fresh = store.book_slot(db, "booking_fresh", versioned_request("user_alice", current), key)
    assert fresh == store.Booked("booking_fresh")


def test_a_catalogue_change_waits_for_a_booking_made_from_the_version_before_it(
    database_url: str, db: psycopg.Connection
) -> None:
    current = catalogue_version(db)
    with psycopg.connect(database_url) as booking, psycopg.connect(database_url) as change:
        # The booking's transaction is still open: it holds the shop's row.
        outcome = store.book_slot(booking, "booking_held", versioned_request("user_bob", current))
        assert outcome == store.Booked("booking_held")
        change.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            change.execute(NEW_VERSION)
        change.rollback()
        booking.commit()
        change.execute(NEW_VERSION)
        change.commit()
    # And a booking from the version before the change is refused after it.
    late = store.book_slot(db, "booking_late", versioned_request("user_bob", current))
    assert late == store.CatalogueChanged()


def test_a_booking_that_meets_a_catalogue_change_in_flight_waits_and_is_told_of_it(
    database_url: str, db: psycopg.Connection
) -> None:
    current = catalogue_version(db)
    with (
        psycopg.connect(database_url) as change,
        psycopg.connect(database_url, autocommit=True) as watch,
    ):
        change.execute(NEW_VERSION)
        booked: list[object] = []
        booking = threading.Thread(
            target=lambda: booked.append(
                store.book_slot(db, "booking_waited", versioned_request("user_bob", current))
            )
        )
        booking.start()
        wait_for_lock_waiter(watch, "book_slot_v4")
        change.commit()
        booking.join(timeout=30)
    assert booked == [store.CatalogueChanged()]
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (0,)


def test_a_retry_after_a_catalogue_change_is_still_told_its_first_attempt_booked(
    db: psycopg.Connection,
) -> None:
    current = catalogue_version(db)
    request = versioned_request("user_bob", current)
    assert store.book_slot(db, "booking_first", request) == store.Booked("booking_first")
    db.execute(NEW_VERSION)

    assert store.book_slot(db, "booking_first", request) == store.Booked("booking_first")


def wait_for_lock_waiter(conn: psycopg.Connection, statement: str, count: int = 1) -> None:
    """Until `count` other sessions wait on a lock while running `statement`.

    `conn` in autocommit: within a transaction pg_stat_activity would not change.
    """
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE %s AND pid <> pg_backend_pid()",
            (f"%{statement}%",),
        ).fetchone()
        if row and row[0] >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"no session waited on a lock running {statement}")
