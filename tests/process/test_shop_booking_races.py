"""Bookings of a shop's services racing in separate processes, through the real
bookings handler: the exclusion constraint on (shop, resource, block) decides
who wins, whatever services and buffers the racers book, and a change to the
catalogue decides from the moment it commits.

Each worker is a warm container of its own (tests/process/shop_booking_worker.py);
the workshop is tests/workshop.py's. After every race the table is checked: no
two confirmed blocks of one resource overlap, and every booking answered 200
is there.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import psycopg
import pytest

from tests.process.lifecycle_worker import Answer
from tests.process.shop_booking_worker import shop_booking, warm_then_send_in_rounds
from tests.process.test_lifecycle_races import SPAWN, Running, send_at_once
from tests.process.test_resource_races import OVERLAPPING_BLOCKS

RACERS = 16
# How long after the racers are released the change begins: in the midst of
# their bookings on this machine (some commit before it, some meet it; which,
# varies from run to run, and every interleaving must keep the rules).
CHANGE_AFTER_S = 0.01


@pytest.fixture
def racers(workshop: psycopg.Connection) -> list[str]:
    names = [f"user_shop_{n:02d}" for n in range(RACERS)]
    with workshop.cursor() as cursor:
        cursor.executemany("INSERT INTO users (id, name) VALUES (%s, %s)", [(u, u) for u in names])
    return names


def confirmed(db: psycopg.Connection) -> dict[str, tuple[str, str, str, str]]:
    """North's confirmed bookings: id -> (resource, service, block start, block end), Lisbon."""
    rows = db.execute(
        "SELECT id, resource_id, service_id,"
        " to_char(lower(block) AT TIME ZONE 'Europe/Lisbon', 'HH24:MI'),"
        " to_char(upper(block) AT TIME ZONE 'Europe/Lisbon', 'HH24:MI')"
        " FROM bookings WHERE shop_id = 'north' AND status = 'confirmed'"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}  # type: ignore[misc]


def check_table(db: psycopg.Connection, answers: list[Answer]) -> dict[str, Any]:
    """No overlapping blocks; every booking answered is confirmed; nothing else was written."""
    assert db.execute(OVERLAPPING_BLOCKS).fetchall() == []
    booked = {a["body"]["booking_id"] for a in answers if a["status"] == 200}
    held = confirmed(db)
    assert set(held) == booked
    return held


def outcomes(answers: list[Answer]) -> Counter[str]:
    return Counter(a["body"].get("error", "booked") for a in answers)


def test_sixteen_bookings_for_the_last_free_resource_leave_exactly_one(
    racers: list[str], workshop: psycopg.Connection, database_url: str
) -> None:
    """Ana is off all afternoon: bay-1 is the full service's last resource at 14:00.
    Half the racers name it, half take any."""
    workshop.execute(
        "INSERT INTO resource_time_off (shop_id, resource_id, time_off_id, during) VALUES"
        " ('north', 'ana', 'off', tstzrange('2030-06-03 12:00+01', '2030-06-03 17:00+01'))"
    )
    requests = [
        shop_booking(user, "full-service", "14:00", "bay-1" if n % 2 else None)
        for n, user in enumerate(racers)
    ]

    answers = send_at_once(database_url, requests)

    assert outcomes(answers) == Counter({"booked": 1, "Slot full": RACERS - 1})
    assert list(check_table(workshop, answers).values()) == [
        ("bay-1", "full-service", "13:45", "16:00")
    ]


def test_services_of_different_lengths_race_for_one_resource_by_their_blocks(
    racers: list[str], workshop: psycopg.Connection, database_url: str
) -> None:
    """On bay-1: oil changes at 11:30 (block 11:30-12:10) against full services at
    12:00 (block 11:45-14:00). Their intervals overlap nowhere but 12:00-12:10."""
    requests = [
        shop_booking(user, "oil-change", "11:30", "bay-1")
        if n % 2
        else shop_booking(user, "full-service", "12:00", "bay-1")
        for n, user in enumerate(racers)
    ]

    answers = send_at_once(database_url, requests)

    assert outcomes(answers) == Counter({"booked": 1, "Slot full": RACERS - 1})
    assert len(check_table(workshop, answers)) == 1


def test_named_and_any_resource_bookings_take_each_resource_once(
    racers: list[str], workshop: psycopg.Connection, database_url: str
) -> None:
    requests = [
        shop_booking(user, "oil-change", "10:00", "bay-2" if n % 2 else None)
        for n, user in enumerate(racers)
    ]

    answers = send_at_once(database_url, requests)

    assert outcomes(answers) == Counter({"booked": 2, "Slot full": RACERS - 2})
    held = check_table(workshop, answers)
    assert sorted(held.values()) == [
        ("bay-1", "oil-change", "10:00", "10:40"),
        ("bay-2", "oil-change", "10:00", "10:40"),
    ]


# What a change of the shop's hours does, as PUT /shops/{shop_id} does it (0021):
# the shop's row first (a booking in flight holds it FOR SHARE: the change
# waits for it), then the bookings it came after, then the change, which a
# booking's statement then sees as a new catalogue version.
_CLOSE_AT_NOON = [
    "SELECT 1 FROM shops WHERE shop_id = 'north' FOR UPDATE",
    "SELECT coalesce(array_agg(id), '{}') FROM bookings WHERE shop_id = 'north'",
    "UPDATE shops SET opening_hours = 'Mon-Fri 09:00-12:00',"
    " catalogue_version = nextval('catalogue_versions') WHERE shop_id = 'north'",
]


def test_hours_shortened_while_bookings_race_are_obeyed_from_their_commit(
    racers: list[str], workshop: psycopg.Connection, database_url: str
) -> None:
    """Every container has read the day under the old hours (09:00-17:00) and kept
    it. As they book the afternoon, one place each, the shop closes at noon:
    a booking may be in only if it committed before the change."""
    # Without its clean-up, so that the afternoon's places are 20 apart from each other.
    workshop.execute(
        "UPDATE services SET buffer_after_minutes = 0 WHERE shop_id = 'north';"
        " UPDATE shops SET catalogue_version = nextval('catalogue_versions')"
        " WHERE shop_id = 'north'"
    )
    afternoon = [f"{12 + n // 4}:{'30' if n // 2 % 2 else '00'}" for n in range(RACERS)]
    rounds = [
        [
            shop_booking(user, "oil-change", afternoon[n], f"bay-{n % 2 + 1}"),
            # Once the change has committed: the same container, another place.
            shop_booking(user, "oil-change", afternoon[(n + 2) % RACERS], f"bay-{n % 2 + 1}"),
        ]
        for n, user in enumerate(racers)
    ]
    # Refused (the shop opens at 09:00), but read and kept by each container.
    warm_up = shop_booking(racers[0], "oil-change", "08:00")
    release = SPAWN.Barrier(RACERS + 1)
    results = SPAWN.Queue()
    processes = [
        SPAWN.Process(
            target=warm_then_send_in_rounds,
            args=(database_url, warm_up, rounds[n], release, results),
        )
        for n in range(RACERS)
    ]
    for process in processes:
        process.start()
    try:
        running = Running(processes, results)
        warmed = running.collect_some(RACERS)
        assert {a["body"]["error"] for a in warmed} == {"Shop closed"}
        with psycopg.connect(database_url) as changer:
            release.wait(timeout=120)  # round 0: the bookings, and the change among them
            time.sleep(CHANGE_AFTER_S)
            with changer.transaction():
                changer.execute(_CLOSE_AT_NOON[0])
                before_change = set(changer.execute(_CLOSE_AT_NOON[1]).fetchone()[0])  # type: ignore[index]
                changer.execute(_CLOSE_AT_NOON[2])
        first_round = running.collect_some(RACERS)
        release.wait(timeout=120)  # round 1: after the change
        second_round = running.collect(RACERS)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()

    answers = first_round + second_round
    assert set(outcomes(answers)) <= {"booked", "Shop closed"}
    held = check_table(workshop, answers)
    # In only if committed before the change; everything after it refused.
    assert set(held) <= before_change
    assert outcomes(second_round) == Counter({"Shop closed": RACERS})
