"""A booking's life under contention: freed slots, repeated cancels, churn, shared keys.

As in test_booking_race, each worker is a separate process with its own
connection, as each Lambda container is, calling the real handler with the
events API Gateway sends; a barrier releases them together. Only the database
decides who wins.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import pytest

from appointments.booking_views import request_fingerprint, rfc3339_utc
from appointments.models import parse_booking_request
from tests.conftest import Invoke
from tests.process.lifecycle_worker import (
    Request,
    churn,
    delete_booking,
    list_bookings,
    post_booking,
    send_when_released,
)

WORKERS = 16
CHURN_WORKERS = 12
CHURN_SECONDS = 3.0
# Later than the first wave's statements by more than a second, so that their
# now() differs even as the API writes it (to the second).
SECOND_WAVE_DELAY_S = 1.2

SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters, like new containers

DOUBLE_BOOKED = """
    SELECT slot_date, slot_time, count(*) FROM bookings WHERE status = 'confirmed'
    GROUP BY 1, 2 HAVING count(*) > 1
"""


@pytest.fixture
def users(db: psycopg.Connection) -> list[str]:
    names = [f"user_lifecycle_{n:02d}" for n in range(WORKERS)]
    with db.cursor() as cursor:
        cursor.executemany("INSERT INTO users (id, name) VALUES (%s, %s)", [(u, u) for u in names])
    return names


@contextmanager
def workers(
    target: Callable[..., None], each: list[tuple[Any, ...]]
) -> Iterator[Callable[[int], list[Any]]]:
    """Start one process per argument tuple (then a barrier and a queue); yield a collector.

    The collector returns `n` results, failing fast if a worker died without
    reporting. Every process is ended when the block ends.
    """
    release = SPAWN.Barrier(len(each))
    results = SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*args, release, results)) for args in each]
    for process in processes:
        process.start()

    def collect(n: int) -> list[Any]:
        collected: list[Any] = []
        give_up = time.monotonic() + 120
        while len(collected) < n:
            try:
                collected.append(results.get(timeout=1))
            except queue.Empty:
                crashed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                assert not crashed, f"workers exited with {crashed} before reporting"
                assert time.monotonic() < give_up, f"{len(collected)} of {n} results arrived"
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        return collected

    try:
        yield collect
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)


def send_at_once(database_url: str, requests: list[Request]) -> list[dict[str, Any]]:
    with workers(send_when_released, [(database_url, r) for r in requests]) as collect:
        return collect(len(requests))


def slot_rows(db: psycopg.Connection, day: str, start: str) -> list[tuple[str, str, str]]:
    rows = db.execute(
        "SELECT id, user_id, status FROM bookings WHERE slot_date = %s AND slot_time = %s"
        " ORDER BY status",
        (day, start),
    ).fetchall()
    return [tuple(row) for row in rows]


def book(invoke: Invoke, user_id: str, day: str, start: str) -> str:
    body = json.dumps({"user_id": user_id, "date": day, "time": start})
    answer = invoke("bookings", "POST", "/bookings", body=body)
    assert answer["statusCode"] == 200, answer
    return str(answer["json"]["booking_id"])


def cancel(invoke: Invoke, booking_id: str) -> dict[str, Any]:
    request = delete_booking(booking_id)
    return invoke(
        "bookings",
        "DELETE",
        request.path,
        route_key=request.route_key,
        path_parameters=request.path_parameters,
    )


def wait_for_lock_waiters(db: psycopg.Connection, statement: str, count: int) -> None:
    """Until `count` sessions wait on a lock while running `statement`."""
    give_up = time.monotonic() + 90
    waiting = 0
    while time.monotonic() < give_up:
        row = db.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE %s AND pid <> pg_backend_pid()",
            (f"%{statement}%",),
        ).fetchone()
        waiting = row[0] if row else 0
        if waiting == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"only {waiting} of {count} sessions ever waited on the lock")


@pytest.mark.slow
def test_a_cancelled_slot_is_taken_again_by_exactly_one_of_many(
    database_url: str, db: psycopg.Connection, users: list[str], invoke: Invoke
) -> None:
    day, start = "2030-03-04", "09:00"
    first = book(invoke, "user_alice", day, start)
    cancelled = cancel(invoke, first)
    assert (cancelled["statusCode"], cancelled["json"]["status"]) == (200, "cancelled")

    answers = send_at_once(database_url, [post_booking(u, day, start) for u in users])

    winners = [a for a in answers if a["status"] == 200]
    losers = [a for a in answers if a["status"] != 200]
    assert len(winners) == 1, f"{len(winners)} rebookings succeeded"
    assert [(a["status"], a["body"]) for a in losers] == [(400, {"error": "Slot full"})] * (
        WORKERS - 1
    )
    winner_user = json.loads(winners[0]["request"]["body"])["user_id"]
    assert slot_rows(db, day, start) == [
        (first, "user_alice", "cancelled"),
        (winners[0]["body"]["booking_id"], winner_user, "confirmed"),
    ]


@pytest.mark.slow
def test_simultaneous_cancels_all_answer_the_first_cancellation(
    database_url: str, db: psycopg.Connection, invoke: Invoke
) -> None:
    """Every cancel waits behind a row lock, then all go at once.

    Half of them started SECOND_WAVE_DELAY_S later than the others, so a
    cancel that wrote its own now() over an earlier one would answer another
    cancelled_at, even to the second.
    """
    booking_id = book(invoke, "user_bob", "2030-03-05", "10:00")
    requests = [
        delete_booking(booking_id, delay_s=SECOND_WAVE_DELAY_S if n % 2 else 0.0)
        for n in range(WORKERS)
    ]
    with psycopg.connect(database_url, autocommit=True) as locker:
        locker.execute("BEGIN")
        locker.execute("SELECT 1 FROM bookings WHERE id = %s FOR UPDATE", (booking_id,))
        with workers(send_when_released, [(database_url, r) for r in requests]) as collect:
            wait_for_lock_waiters(db, "UPDATE bookings", WORKERS)
            locker.execute("COMMIT")  # every waiter goes at once
            answers = collect(WORKERS)

    assert {a["status"] for a in answers} == {200}
    bodies = {json.dumps(a["body"], sort_keys=True) for a in answers}
    assert len(bodies) == 1, f"{len(bodies)} different answers: {sorted(bodies)}"
    body = answers[0]["body"]
    assert (body["booking_id"], body["status"]) == (booking_id, "cancelled")
    status, cancelled_at = db.execute(
        "SELECT status, cancelled_at FROM bookings WHERE id = %s", (booking_id,)
    ).fetchone() or (None, None)
    assert status == "cancelled" and isinstance(cancelled_at, datetime)
    assert body["cancelled_at"] == rfc3339_utc(cancelled_at)


@pytest.mark.slow
def test_booking_and_cancelling_churn_never_double_books_and_loses_nothing(
    database_url: str, db: psycopg.Connection, users: list[str], invoke: Invoke
) -> None:
    slots = [("2030-03-06", "09:00"), ("2030-03-06", "10:00"), ("2030-03-06", "11:00")]
    bookers = [*users, "user_alice", "user_bob"]
    seen_double: list[tuple[Any, ...]] = []
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal samples
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                seen_double.extend(conn.execute(DOUBLE_BOOKED).fetchall())
                samples += 1
                time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        each = [(database_url, n, bookers, slots, CHURN_SECONDS) for n in range(CHURN_WORKERS)]
        with workers(churn, each) as collect:
            reports = collect(CHURN_WORKERS)
    finally:
        stop.set()
        sampler.join()

    assert seen_double == [] and samples >= 100, f"{samples} samples, saw {seen_double}"
    assert [r["wrong"] for r in reports] == [[]] * CHURN_WORKERS
    rows = {
        booking_id: (user_id, day, start, status, cancelled_at)
        for booking_id, user_id, day, start, status, cancelled_at in db.execute(
            "SELECT id, user_id, to_char(slot_date, 'YYYY-MM-DD'), to_char(slot_time, 'HH24:MI'),"
            " status, cancelled_at FROM bookings"
        ).fetchall()
    }
    booked = {b[0]: tuple(b[1:]) for r in reports for b in r["booked"]}
    cancelled = [c for r in reports for c in r["cancelled"]]
    believed = {c for r in reports for c in r["confirmed"]}

    # Every 200 has its row, as answered, and every row was answered 200 to one worker.
    assert sum(len(r["booked"]) for r in reports) == len(booked)
    assert set(rows) == set(booked)
    assert all(rows[b][:3] == where for b, where in booked.items())
    # Every cancel answered 200 is cancelled; what the workers hold is what is confirmed.
    assert len(set(cancelled)) == len(cancelled)
    assert all(rows[c][3] == "cancelled" and rows[c][4] is not None for c in cancelled)
    assert believed == {b for b, row in rows.items() if row[3] == "confirmed"}
    assert believed | set(cancelled) == set(booked)
    assert db.execute(DOUBLE_BOOKED).fetchall() == []
    # The churn was real: every slot was freed and taken again, under contention.
    taken = Counter(row[1:3] for row in rows.values())
    assert min(taken[slot] for slot in slots) >= 10, taken
    assert sum(r["slot_full"] for r in reports) >= 100
    # Each user's list of confirmed bookings agrees.
    for user_id in bookers:
        request = list_bookings(user_id)
        listed = invoke("bookings", "GET", "/bookings", raw_query=request.raw_query)
        assert listed["statusCode"] == 200
        ids = {b["booking_id"] for b in listed["json"]["bookings"]}
        assert ids == {b for b in believed if booked[b][0] == user_id}, user_id


@pytest.mark.slow
def test_simultaneous_requests_with_one_idempotency_key_make_one_booking(
    database_url: str, db: psycopg.Connection
) -> None:
    day, start = "2030-03-07", "12:00"
    request = post_booking("user_charlie", day, start, idempotency_key="race-key-1")

    answers = send_at_once(database_url, [request] * WORKERS)

    assert [a["status"] for a in answers] == [200] * WORKERS, answers
    booking_ids = {a["body"]["booking_id"] for a in answers}
    assert len(booking_ids) == 1
    replayed = [a["headers"].get("idempotent-replayed") for a in answers]
    assert sorted(replayed, key=str) == [None] + ["true"] * (WORKERS - 1)
    (booking_id,) = booking_ids
    assert slot_rows(db, day, start) == [(booking_id, "user_charlie", "confirmed")]
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (1,)
    assert db.execute(
        "SELECT user_id, key, outcome, attempt_id FROM idempotency_keys"
    ).fetchall() == [("user_charlie", "race-key-1", "booked", booking_id)]


@pytest.mark.slow
def test_one_idempotency_key_sent_with_two_requests_at_once_is_kept_by_one(
    database_url: str, db: psycopg.Connection
) -> None:
    """Half the workers send one slot, half another, with the same key: one request wins it.

    Its senders all get its booking; the others are told the key was reused,
    and book nothing.
    """
    day = "2030-03-08"
    one = post_booking("user_dave", day, "13:00", idempotency_key="race-key-2")
    other = post_booking("user_dave", day, "14:00", idempotency_key="race-key-2")

    answers = send_at_once(database_url, [one, other] * (WORKERS // 2))

    by_body: dict[str, list[dict[str, Any]]] = {one.body or "": [], other.body or "": []}
    for answer in answers:
        by_body[answer["request"]["body"]].append(answer)
    won, lost = sorted(by_body.values(), key=lambda group: group[0]["status"])
    assert [a["status"] for a in won] == [200] * (WORKERS // 2)
    assert len({a["body"]["booking_id"] for a in won}) == 1
    reused = {"error": "Idempotency-Key reused with a different request"}
    assert [(a["status"], a["body"]) for a in lost] == [(422, reused)] * (WORKERS // 2)
    winner = json.loads(won[0]["request"]["body"])
    booking_id = won[0]["body"]["booking_id"]
    assert slot_rows(db, day, winner["time"]) == [(booking_id, "user_dave", "confirmed")]
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (1,)
    fingerprint = request_fingerprint(parse_booking_request(won[0]["request"]["body"].encode()))
    assert db.execute(
        "SELECT key, request_fingerprint, attempt_id FROM idempotency_keys"
    ).fetchall() == [("race-key-2", fingerprint, booking_id)]
