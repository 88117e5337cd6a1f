"""`make dev DEV_ARGS=--example-catalogue`'s workshop, written as the administration writes."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from local import example_catalogue
from tests.conftest import Invoke


@pytest.fixture
def written(db: psycopg.Connection) -> Iterator[str]:
    yield example_catalogue.write()
    db.execute("SELECT * FROM delete_shop_v1('north')")


def catalogue(db: psycopg.Connection) -> list[tuple[str, ...]]:
    rows = db.execute(
        "SELECT 'resource', resource_id, name, coalesce(opening_hours, '') FROM resources"
        " WHERE shop_id = 'north'"
        " UNION ALL SELECT 'service', service_id, name, duration_minutes::text FROM services"
        " WHERE shop_id = 'north'"
        " UNION ALL SELECT 'link', service_id, resource_id, '' FROM service_resources"
        " WHERE shop_id = 'north' ORDER BY 1, 2, 3"
    ).fetchall()
    return [tuple(row) for row in rows]


def test_the_workshop_has_three_bays_two_mechanics_and_two_services(
    invoke: Invoke, db: psycopg.Connection, written: str
) -> None:
    assert written.startswith("example catalogue: shop north")
    services = invoke(
        "catalogue",
        "GET",
        "/shops/north/services",
        route_key="GET /shops/{shop_id}/services",
        path_parameters={"shop_id": "north"},
    )["json"]["services"]
    assert {s["service_id"]: s["resource_ids"] for s in services} == {
        "diagnosis": ["ana", "rui"],
        "oil-change": ["bay-1", "bay-2", "bay-3"],
    }
    before = catalogue(db)
    example_catalogue.write()  # again: the same things, replaced
    assert catalogue(db) == before
