"""Bookings racing for resources, in separate processes: the exclusion constraint
on (shop, resource, block) of 0038, through book_slot_v4, decides who wins.

Each request's interval is its own, apart from every other's; only the blocks
its buffers widen it to overlap. tests/process/test_shop_booking_races.py races
whole requests of a shop's services through the handler.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from appointments.data import store
from tests.process.resource_worker import book_when_released
from tests.process.test_lifecycle_races import workers

RACERS = 16
DAY = date(2030, 5, 6)
OPENING = datetime.combine(DAY, time(9), tzinfo=UTC)

# Confirmed bookings of one resource of one shop whose blocks overlap: none, ever.
OVERLAPPING_BLOCKS = """
    SELECT a.id, b.id FROM bookings AS a
    JOIN bookings AS b
      ON a.id < b.id AND a.shop_id = b.shop_id AND a.resource_id = b.resource_id
     AND a.block && b.block
    WHERE a.status = 'confirmed' AND b.status = 'confirmed'
"""


@pytest.fixture
def racers(db: psycopg.Connection) -> list[str]:
    names = [f"user_resource_{n:02d}" for n in range(RACERS)]
    with db.cursor() as cursor:
        cursor.executemany("INSERT INTO users (id, name) VALUES (%s, %s)", [(u, u) for u in names])
    return names


def buffered_request(user_id: str, n: int, resource_ids: tuple[str, ...]) -> store.SlotRequest:
    """Racer n: 5 minutes of its own at 10:00 + 5n, with buffers of different
    lengths that make every racer's block cover 10:00-11:25."""
    starts_at = OPENING + timedelta(hours=1, minutes=5 * n)
    ends_at = starts_at + timedelta(minutes=5)
    before = timedelta(minutes=5 * n + 5 * (n % 3))
    after = timedelta(minutes=80 - 5 * n + 5 * (n % 2))
    return store.SlotRequest(
        user_id,
        DAY,
        starts_at.time(),
        starts_at,
        ends_at,
        capacity=0,
        resource_ids=resource_ids,
        block=(starts_at - before, ends_at + after),
    )


def race(database_url: str, requests: list[store.SlotRequest]) -> dict[str, str]:
    each = [(database_url, f"booking_race_{n:02d}", r) for n, r in enumerate(requests)]
    with workers(book_when_released, each) as running:
        return dict(running.collect(len(each)))


@pytest.mark.slow
def test_sixteen_buffered_bookings_for_the_last_resource_leave_exactly_one(
    database_url: str, db: psycopg.Connection, racers: list[str]
) -> None:
    requests = [buffered_request(user, n, ("bay-1",)) for n, user in enumerate(racers)]

    outcomes = race(database_url, requests)

    assert Counter(outcomes.values()) == {"Booked": 1, "SlotFull": RACERS - 1}
    (winner,) = [booking_id for booking_id, outcome in outcomes.items() if outcome == "Booked"]
    confirmed = db.execute(
        "SELECT id, resource_id FROM bookings WHERE status = 'confirmed'"
    ).fetchall()
    assert confirmed == [(winner, "bay-1")]
    assert db.execute(OVERLAPPING_BLOCKS).fetchall() == []


@pytest.mark.slow
def test_any_resource_and_named_resource_bookings_share_two_resources_between_two(
    database_url: str, db: psycopg.Connection, racers: list[str]
) -> None:
    # A third ask for either resource, a third for bay-2 by name, a third for
    # bay-2 first and then bay-1: two win, one on each.
    orders = [("bay-1", "bay-2"), ("bay-2",), ("bay-2", "bay-1")]
    requests = [buffered_request(user, n, orders[n % len(orders)]) for n, user in enumerate(racers)]

    outcomes = race(database_url, requests)

    assert Counter(outcomes.values()) == {"Booked": 2, "SlotFull": RACERS - 2}
    held = db.execute(
        "SELECT resource_id FROM bookings WHERE status = 'confirmed' ORDER BY resource_id"
    ).fetchall()
    assert held == [("bay-1",), ("bay-2",)]
    assert db.execute(OVERLAPPING_BLOCKS).fetchall() == []
