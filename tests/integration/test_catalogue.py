"""The catalogue (issue 19, first stage): its tables, the default shop the
template's parameters make, and the public routes that read them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from appointments.domain import default_shop, shop
from tests.conftest import Invoke, load_function

CATALOGUE_TABLES = {"shops", "resources", "resource_time_off", "services", "service_resources"}

# Every key of a table with a shop_id, and its first column: constraints, and
# unique indexes made without one. An exclusion constraint over an expression
# has no column first (attnum 0), and breaks the rule as it should.
_KEYS_AND_THEIR_FIRST_COLUMNS = """
    SELECT key.conrelid::regclass::text, key.conname, key.contype::text,
           (SELECT attname FROM pg_attribute
            WHERE attrelid = key.conrelid AND attnum = key.conkey[1]),
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


def test_shop_id_leads_every_key_of_a_shops_tables(db: psycopg.Connection) -> None:
    keys = db.execute(_KEYS_AND_THEIR_FIRST_COLUMNS).fetchall()

    assert {table for table, *_ in keys} >= CATALOGUE_TABLES
    not_led_by_shop = [
        (table, name, kind, first, referenced_first)
        for table, name, kind, first, referenced_first in keys
        if first != "shop_id" or (kind == "f" and referenced_first != "shop_id")
    ]
    assert not_led_by_shop == []


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
