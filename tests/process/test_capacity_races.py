"""Bays under contention: with Capacity=3, never more than three confirmed bookings at once.

As in test_booking_race and test_lifecycle_races, each worker is a separate
process with its own connection, as each Lambda container is, calling the real
bookings handler with the events API Gateway sends; a barrier releases them
together. Each worker reads its schedule (CAPACITY=3, and a SLOT_MINUTES of its
own in the churn) at its cold start, as a container does; only the database
(book_slot_v4 and the exclusion constraint
bookings_one_hold_or_booking_per_resource_at_a_time, over the default shop's
bays) decides who wins.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.conftest import Invoke
from tests.process.capacity_worker import churn_with, send_in_rounds
from tests.process.lifecycle_worker import delete_booking, post_booking
from tests.process.test_lifecycle_races import SPAWN, Running, workers

CAPACITY = 3
BAYS = ["bay-1", "bay-2", "bay-3"]
RACERS = 24
CHURN_WORKERS = 12  # half on 60-minute slots, half on 30-minute ones
SLOT_FULL = (400, {"error": "Slot full"})

# The churn goes on until every slot of both grids was booked this many times,
# this many bookings were refused, and the sampler looked this many times (and
# saw this many full moments mixing both slot lengths), whatever the machine's
# speed. It gives up after CHURN_GIVE_UP_S.
MIN_TAKES_PER_SLOT = 15
MIN_SLOT_FULL = 150
MIN_SAMPLES = 100
MIN_MIXED_FULL_SAMPLES = 10
CHURN_GIVE_UP_S = 90.0

CHURN_DAY = "2030-04-02"
GRIDS = {  # SLOT_MINUTES -> the slots those workers book, all within 09:00-11:00
    60: ["09:00", "10:00"],
    30: ["09:00", "09:30", "10:00", "10:30"],
}

# The most confirmed bookings at one instant, and how many bookings' starts
# find the shop full with bookings of more than one length. Counted at each
# confirmed booking's start: the most bookings that hold at one instant all
# hold at the start of the latest of them. (Counting every booking that
# overlaps a booking would count too many across grids: a 60-minute booking
# may overlap two 30-minute ones in each half, four, with three at most at once.)
AT_ONE_INSTANT = """
    SELECT coalesce(max(n), 0), count(*) FILTER (WHERE n = %(capacity)s AND lengths > 1)
    FROM (
        SELECT count(*) AS n, count(DISTINCT upper(b.during) - lower(b.during)) AS lengths
        FROM bookings AS a
        JOIN bookings AS b ON b.status = 'confirmed' AND b.during @> lower(a.during)
        WHERE a.status = 'confirmed'
        GROUP BY a.id
    ) AS at_starts
"""


@pytest.fixture
def racers(db: psycopg.Connection) -> list[str]:
    names = [f"user_capacity_{n:02d}" for n in range(RACERS)]
    with db.cursor() as cursor:
        cursor.executemany("INSERT INTO users (id, name) VALUES (%s, %s)", [(u, u) for u in names])
    return names


def settings(slot_minutes: int = 60) -> dict[str, str]:
    return {"CAPACITY": str(CAPACITY), "SLOT_MINUTES": str(slot_minutes)}


def confirmed_bays(db: psycopg.Connection, day: str, start: str) -> dict[str, tuple[str, str]]:
    """The slot's confirmed bookings: id -> (user, bay)."""
    rows = db.execute(
        "SELECT id, user_id, resource_id FROM bookings"
        " WHERE slot_date = %s AND slot_time = %s AND status = 'confirmed'",
        (day, start),
    ).fetchall()
    return {booking_id: (user_id, bay) for booking_id, user_id, bay in rows}


def grid_of(worker: int) -> int:
    """The SLOT_MINUTES of churn worker `worker`: 60 and 30 in turn."""
    return 60 if worker % 2 == 0 else 30


def user_of(answer: dict[str, Any]) -> str:
    return str(json.loads(answer["request"]["body"])["user_id"])


@pytest.mark.slow
def test_three_bays_go_to_three_of_many_and_a_freed_bay_to_exactly_one_more(
    database_url: str, db: psycopg.Connection, racers: list[str], invoke: Invoke
) -> None:
    """24 containers race for one slot, twice: once empty, once after a cancel frees a bay.

    The same processes race both rounds; the test process is a party of
    their barrier and lets the second round go after the cancel.
    """
    day, start = "2030-04-01", "10:00"
    release = SPAWN.Barrier(RACERS + 1)
    results = SPAWN.Queue()
    processes = [
        SPAWN.Process(
            target=send_in_rounds,
            args=(settings(), database_url, post_booking(user, day, start), 2, release, results),
        )
        for user in racers
    ]
    for process in processes:
        process.start()
    running = Running(processes, results)
    try:
        release.wait(timeout=180)  # round 1: every bay free
        first = [running.results.get(timeout=120) for _ in range(RACERS)]

        winners = [a for a in first if a["status"] == 200]
        assert len(winners) == CAPACITY, [(a["status"], a["body"]) for a in first]
        assert [(a["status"], a["body"]) for a in first if a["status"] != 200] == [SLOT_FULL] * (
            RACERS - CAPACITY
        )
        rows = confirmed_bays(db, day, start)
        assert {b: user for b, (user, _) in rows.items()} == {
            a["body"]["booking_id"]: user_of(a) for a in winners
        }
        assert sorted(bay for _, bay in rows.values()) == BAYS
        assert db.execute("SELECT count(*) FROM bookings").fetchone() == (CAPACITY,)

        # Cancel the booking in bay 2 through the handler: that bay, and only it, is free.
        freed = next(booking_id for booking_id, (_, bay) in rows.items() if bay == "bay-2")
        request = delete_booking(freed)
        cancelled = invoke(
            "bookings",
            "DELETE",
            request.path,
            route_key=request.route_key,
            path_parameters=request.path_parameters,
        )
        assert (cancelled["statusCode"], cancelled["json"]["status"]) == (200, "cancelled")

        release.wait(timeout=60)  # round 2: one bay free
        second = running.collect(RACERS)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)

    again = [a for a in second if a["status"] == 200]
    assert len(again) == 1, [(a["status"], a["body"]) for a in second]
    assert [(a["status"], a["body"]) for a in second if a["status"] != 200] == [SLOT_FULL] * (
        RACERS - 1
    )
    retaken = again[0]["body"]["booking_id"]
    after = confirmed_bays(db, day, start)
    assert set(after) == (set(rows) - {freed}) | {retaken}
    assert after[retaken] == (user_of(again[0]), "bay-2")
    assert sorted(bay for _, bay in after.values()) == BAYS
    assert db.execute(
        "SELECT status, count(*) FROM bookings GROUP BY status ORDER BY status"
    ).fetchall() == [("cancelled", 1), ("confirmed", CAPACITY)]


@pytest.mark.slow
def test_churn_on_two_slot_grids_at_once_never_puts_more_than_three_in_the_shop(
    database_url: str, db: psycopg.Connection, racers: list[str]
) -> None:
    """Containers of two deploys (60- and 30-minute slots) book and cancel over 09:00-11:00.

    A 60-minute booking at 09:00 shares its time with 30-minute ones at 09:00
    and 09:30: the three bays are shared across both grids. The churn stops on
    the work done (as in test_lifecycle_races), not after a fixed time.
    """
    bookers = racers[:8]
    stop, slot_fulls = SPAWN.Event(), SPAWN.Value("i", 0)
    each = [
        (
            settings(grid_of(n)),
            database_url,
            n,
            bookers,
            [(CHURN_DAY, start) for start in GRIDS[grid_of(n)]],
            stop,
            slot_fulls,
            CHURN_GIVE_UP_S,
        )
        for n in range(CHURN_WORKERS)
    ]
    most_at_once: list[int] = []
    mixed_full = 0
    stop_sampling = threading.Event()

    def sample() -> None:
        nonlocal mixed_full
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop_sampling.is_set():
                row = conn.execute(AT_ONE_INSTANT, {"capacity": CAPACITY}).fetchone()
                assert row is not None
                most_at_once.append(row[0])
                mixed_full += row[1] > 0
                time.sleep(0.005)

    def takes() -> Counter[tuple[int, str]]:
        rows = db.execute(
            "SELECT extract(epoch FROM upper(during) - lower(during))::int / 60,"
            " to_char(slot_time, 'HH24:MI'), count(*) FROM bookings GROUP BY 1, 2"
        ).fetchall()
        return Counter({(minutes, start): n for minutes, start, n in rows})

    wanted = [(minutes, start) for minutes, starts in GRIDS.items() for start in starts]
    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        with workers(churn_with, each) as running:
            running.until(
                lambda: (
                    min(takes()[slot] for slot in wanted) >= MIN_TAKES_PER_SLOT
                    and slot_fulls.value >= MIN_SLOT_FULL
                    and len(most_at_once) >= MIN_SAMPLES
                    and mixed_full >= MIN_MIXED_FULL_SAMPLES
                ),
                CHURN_GIVE_UP_S,
            )
            stop.set()
            reports = running.collect(CHURN_WORKERS)
    finally:
        stop.set()
        stop_sampling.set()
        sampler.join()
    churned_s = time.monotonic() - started
    print(
        f"churn took {churned_s:.1f} s: {sum(r['sent'] for r in reports)} requests,"
        f" {len(most_at_once)} samples ({mixed_full} full with both lengths),"
        f" {sum(r['slot_full'] for r in reports)} Slot full, {takes()}"
    )

    assert most_at_once and max(most_at_once) <= CAPACITY, Counter(most_at_once)
    assert len(most_at_once) >= MIN_SAMPLES and mixed_full >= MIN_MIXED_FULL_SAMPLES, churned_s
    assert [r["wrong"] for r in reports] == [[]] * CHURN_WORKERS
    rows = {
        booking_id: (user_id, day, start, minutes, status, bay)
        for booking_id, user_id, day, start, minutes, status, bay in db.execute(
            "SELECT id, user_id, to_char(slot_date, 'YYYY-MM-DD'), to_char(slot_time, 'HH24:MI'),"
            " upper(during) - lower(during), status, resource_id FROM bookings"
        ).fetchall()
    }
    # Every 200 has its row, as answered and as long as its worker's slots; nothing else was booked.
    booked = {b[0]: (r["worker"], *b[1:]) for r in reports for b in r["booked"]}
    assert sum(len(r["booked"]) for r in reports) == len(booked)
    assert set(rows) == set(booked)
    for booking_id, (worker, user_id, day, start) in booked.items():
        assert rows[booking_id][:4] == (user_id, day, start, timedelta(minutes=grid_of(worker)))
    assert {row[5] for row in rows.values()} <= set(BAYS)
    # What the workers hold is what is confirmed; every cancel answered 200 is cancelled.
    believed = {c for r in reports for c in r["confirmed"]}
    assert believed == {b for b, row in rows.items() if row[4] == "confirmed"}
    cancelled = [c for r in reports for c in r["cancelled"]]
    assert len(set(cancelled)) == len(cancelled)
    assert all(rows[c][4] == "cancelled" for c in cancelled)
    assert db.execute(AT_ONE_INSTANT, {"capacity": CAPACITY}).fetchone()[0] <= CAPACITY
    # The churn was real: every slot of both grids taken again and again, under contention.
    taken = takes()
    assert min(taken[slot] for slot in wanted) >= MIN_TAKES_PER_SLOT, (taken, churned_s)
    assert sum(r["slot_full"] for r in reports) >= MIN_SLOT_FULL, churned_s
