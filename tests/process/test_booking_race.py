"""Many containers book the same slot at the same instant: exactly one wins.

Each worker is a separate process with its own connection, as each Lambda
container is; a barrier releases them together for every slot. Only the
unique index decides.
"""

from __future__ import annotations

import multiprocessing
from collections import defaultdict
from typing import Any

import psycopg
import pytest

from tests.conftest import bookings_in
from tests.process.booking_worker import book_each_slot_when_released

WORKERS = 24
SLOTS = [
    ("2024-01-20", "09:00"),
    ("2024-01-20", "10:00"),
    ("2024-01-20", "16:00"),
    ("2028-02-29", "12:00"),
]


@pytest.fixture
def worker_users(db: psycopg.Connection) -> list[str]:
    users = [f"user_worker_{n:02d}" for n in range(WORKERS)]
    with db.cursor() as cursor:
        cursor.executemany("INSERT INTO users (id, name) VALUES (%s, %s)", [(u, u) for u in users])
    return users


def race(database_url: str, users: list[str]) -> list[dict[str, Any]]:
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, like new containers
    release = spawn.Barrier(len(users))
    results = spawn.Queue()
    workers = [
        spawn.Process(
            target=book_each_slot_when_released,
            args=(database_url, user, SLOTS, release, results),
        )
        for user in users
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in range(len(users) * len(SLOTS))]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return outcomes


@pytest.mark.slow
def test_simultaneous_bookings_of_one_slot_give_exactly_one_booking(
    database_url: str, db: psycopg.Connection, worker_users: list[str]
) -> None:
    by_slot: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for outcome in race(database_url, worker_users):
        by_slot[tuple(outcome["slot"])].append(outcome)

    rows = {(day, start): (booking_id, user) for booking_id, user, day, start in bookings_in(db)}
    assert sorted(rows) == sorted(SLOTS)
    for slot in SLOTS:
        winners = [o for o in by_slot[slot] if o["status"] == 200]
        losers = [o for o in by_slot[slot] if o["status"] != 200]
        assert len(winners) == 1, f"{slot}: {len(winners)} bookings succeeded"
        assert {(o["status"], o["body"]["error"]) for o in losers} == {(400, "Slot full")}
        assert len(losers) == WORKERS - 1
        winner = winners[0]
        assert rows[slot] == (winner["body"]["booking_id"], winner["user_id"])
