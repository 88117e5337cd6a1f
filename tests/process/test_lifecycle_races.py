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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pytest

from appointments.api.booking_views import request_fingerprint
from appointments.api.models import parse_booking_request
from appointments.domain.schedule import rfc3339_utc
from tests.conftest import Invoke, insert_booking
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
# The churn goes on until each slot was booked this many times, this many
# bookings were refused, and the sampler looked this many times, whatever the
# machine's speed: about 3 s here, 6 s on one core. It gives up after CHURN_GIVE_UP_S.
MIN_TAKES_PER_SLOT = 20
MIN_SLOT_FULL = 200
MIN_SAMPLES = 100
CHURN_GIVE_UP_S = 90.0
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


@dataclass(frozen=True)
class Running:
    """Worker processes under way: `collect` their results, or check that none crashed."""

    processes: list[Any]
    results: Any  # a multiprocessing Queue

    def check_alive(self) -> None:
        crashed = [p.exitcode for p in self.processes if p.exitcode not in (None, 0)]
        assert not crashed, f"workers exited with {crashed} before reporting"

    def until(self, enough: Callable[[], bool], give_up_s: float) -> None:
        """Poll `enough` while the workers run, until it holds or `give_up_s` have passed."""
        give_up = time.monotonic() + give_up_s
        while time.monotonic() < give_up:
            self.check_alive()
            if enough():
                return
            time.sleep(0.1)

    def collect(self, n: int) -> list[Any]:
        """The last `n` results, then every worker's clean exit."""
        collected = self.collect_some(n)
        for process in self.processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        return collected

    def collect_some(self, n: int) -> list[Any]:
        """`n` results, failing fast if a worker died without reporting."""
        collected: list[Any] = []
        give_up = time.monotonic() + 120
        while len(collected) < n:
            try:
                collected.append(self.results.get(timeout=1))
            except queue.Empty:
                self.check_alive()
                assert time.monotonic() < give_up, f"{len(collected)} of {n} results arrived"
        return collected


@contextmanager
def workers(target: Callable[..., None], each: list[tuple[Any, ...]]) -> Iterator[Running]:
    """Start one process per argument tuple (then a barrier and a queue).

    Every process is ended when the block ends.
    """
    release = SPAWN.Barrier(len(each))
    results = SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*args, release, results)) for args in each]
    for process in processes:
        process.start()
    try:
        yield Running(processes, results)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)


def send_at_once(database_url: str, requests: list[Request]) -> list[dict[str, Any]]:
    with workers(send_when_released, [(database_url, r) for r in requests]) as running:
        return running.collect(len(requests))


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


def wait_for_lock_waiters(
    db: psycopg.Connection, statement: str, count: int, running: Running
) -> None:
    """Until `count` sessions wait on a lock while running `statement` (all at once)."""
    give_up = time.monotonic() + 90
    most = 0
    while time.monotonic() < give_up:
        running.check_alive()
        row = db.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE %s AND pid <> pg_backend_pid()",
            (f"%{statement}%",),
        ).fetchone()
        waiting = row[0] if row else 0
        if waiting == count:
            return
        most = max(most, waiting)
        time.sleep(0.05)
    raise AssertionError(f"at most {most} of {count} sessions ever waited on the lock at once")


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
        with workers(send_when_released, [(database_url, r) for r in requests]) as running:
            wait_for_lock_waiters(db, "UPDATE bookings", WORKERS, running)
            locker.execute("COMMIT")  # every waiter goes at once
            answers = running.collect(WORKERS)

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


# What a move does to a booking, as far as its version goes: a later interval.
MOVE_AN_HOUR_LATER = """
    UPDATE bookings
    SET slot_time = slot_time + interval '1 hour',
        during = tstzrange(lower(during) + interval '1 hour', upper(during) + interval '1 hour'),
        block = tstzrange(lower(block) + interval '1 hour', upper(block) + interval '1 hour')
    WHERE id = %s
"""


@pytest.mark.slow
@pytest.mark.parametrize("move", ["COMMIT", "ROLLBACK"])
def test_cancels_at_a_version_wait_for_a_change_and_obey_its_outcome(
    database_url: str, db: psycopg.Connection, invoke: Invoke, move: str
) -> None:
    """Every cancel naming version 1 waits behind a change under way, then all go at once.

    Committed, the change made version 2: every cancel is refused (412) and the
    booking stays confirmed, moved. Rolled back: every cancel is answered the
    one cancellation, made once (version 2).
    """
    booking_id = book(invoke, "user_bob", "2030-03-06", "10:00")
    requests = [delete_booking(booking_id, if_match='"1"') for _ in range(WORKERS)]
    with psycopg.connect(database_url, autocommit=True) as mover:
        mover.execute("BEGIN")
        mover.execute(MOVE_AN_HOUR_LATER, (booking_id,))
        with workers(send_when_released, [(database_url, r) for r in requests]) as running:
            wait_for_lock_waiters(db, "UPDATE bookings", WORKERS, running)
            mover.execute(move)
            answers = running.collect(WORKERS)

    status, version, start = db.execute(
        "SELECT status, version, to_char(slot_time, 'HH24:MI') FROM bookings WHERE id = %s",
        (booking_id,),
    ).fetchone() or (None, None, None)
    if move == "COMMIT":
        assert [(a["status"], a["body"]) for a in answers] == [
            (412, {"error": "Booking changed"})
        ] * WORKERS
        assert (status, version, start) == ("confirmed", 2, "11:00")
    else:
        assert {a["status"] for a in answers} == {200}
        assert len({json.dumps(a["body"], sort_keys=True) for a in answers}) == 1
        assert (status, version, start) == ("cancelled", 2, "10:00")


@pytest.mark.slow
def test_booking_and_cancelling_churn_never_double_books_and_loses_nothing(
    database_url: str, db: psycopg.Connection, users: list[str], invoke: Invoke
) -> None:
    """Workers book and cancel until every slot was taken many times, however long that takes.

    The churn stops on the work done (MIN_TAKES_PER_SLOT, MIN_SLOT_FULL,
    MIN_SAMPLES), not after a fixed time, so that a slow machine churns as much
    as a fast one; CHURN_GIVE_UP_S only bounds a churn that makes no progress.
    """
    slots = [("2030-03-06", "09:00"), ("2030-03-06", "10:00"), ("2030-03-06", "11:00")]
    bookers = [*users, "user_alice", "user_bob"]
    seen_double: list[tuple[Any, ...]] = []
    samples = 0
    stop_sampling = threading.Event()

    def sample() -> None:
        nonlocal samples
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop_sampling.is_set():
                seen_double.extend(conn.execute(DOUBLE_BOOKED).fetchall())
                samples += 1
                time.sleep(0.005)

    def takes() -> Counter[tuple[str, str]]:
        rows = db.execute(
            "SELECT to_char(slot_date, 'YYYY-MM-DD'), to_char(slot_time, 'HH24:MI'), count(*)"
            " FROM bookings GROUP BY 1, 2"
        ).fetchall()
        return Counter({(day, start): n for day, start, n in rows})

    stop, slot_fulls = SPAWN.Event(), SPAWN.Value("i", 0)
    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        each = [
            (database_url, n, bookers, slots, stop, slot_fulls, CHURN_GIVE_UP_S)
            for n in range(CHURN_WORKERS)
        ]
        with workers(churn, each) as running:
            running.until(
                lambda: (
                    min(takes()[slot] for slot in slots) >= MIN_TAKES_PER_SLOT
                    and slot_fulls.value >= MIN_SLOT_FULL
                    and samples >= MIN_SAMPLES
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
        f" {samples} samples, {sum(r['slot_full'] for r in reports)} Slot full, {takes()}"
    )

    assert seen_double == [] and samples >= MIN_SAMPLES, f"{samples} samples, saw {seen_double}"
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
    assert min(taken[slot] for slot in slots) >= MIN_TAKES_PER_SLOT, (taken, churned_s)
    assert sum(r["slot_full"] for r in reports) >= MIN_SLOT_FULL, churned_s
    # Each user's list of confirmed bookings agrees.
    for user_id in bookers:
        request = list_bookings(user_id)
        listed = invoke("bookings", "GET", "/bookings", raw_query=request.raw_query)
        assert listed["statusCode"] == 200
        ids = {b["booking_id"] for b in listed["json"]["bookings"]}
        assert ids == {b for b in believed if booked[b][0] == user_id}, user_id


@contextmanager
def slots_held(database_url: str, day: str, starts: list[str]) -> Iterator[Callable[[], None]]:
    """Bookings of the slots, by user_bob, in a transaction left open; yields its rollback.

    A booking of one of these slots waits for this transaction (its insert's
    ON CONFLICT must know whether the row commits) before its statement goes
    on to record its Idempotency-Key: every keyed request sent meanwhile
    queues, with nothing recorded, until the rollback (at the latest when the
    block ends).
    """
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        for n, start in enumerate(starts):
            insert_booking(holder, f"booking_holder_{n}", "user_bob", day, start)

        def release() -> None:
            if holder.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                holder.execute("ROLLBACK")

        try:
            yield release
        finally:
            release()


def send_all_queued(
    database_url: str, db: psycopg.Connection, requests: list[Request], day: str, held: list[str]
) -> list[Any]:
    """Send the keyed bookings at once while their slots are held; let them go once all wait.

    Every request's statement is seen waiting on the lock, all at the same
    time, before any could record its key: they overlap, by construction and
    as checked.
    """
    each = [(database_url, r) for r in requests]
    with (
        slots_held(database_url, day, held) as release,
        workers(send_when_released, each) as running,
    ):
        wait_for_lock_waiters(db, "book_slot_v4", len(requests), running)
        release()  # the slots are free again: every waiter goes at once
        return running.collect(len(requests))


@pytest.mark.slow
def test_simultaneous_requests_with_one_idempotency_key_make_one_booking(
    database_url: str, db: psycopg.Connection
) -> None:
    """All queue behind a rival's hold on the slot, then race for it: one books, one records.

    The others find the slot taken by the winner's insert, wait for its
    transaction, and are then refused the key it recorded: each is answered
    from that key, as a replay of the winner's booking.
    """
    day, start = "2030-03-07", "12:00"
    request = post_booking("user_charlie", day, start, idempotency_key="race-key-1")

    answers = send_all_queued(database_url, db, [request] * WORKERS, day, held=[start])

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

    Both slots are held until all 16 wait. Its senders all get its booking;
    the others are told the key was reused, and book nothing: a request of the
    other slot may have booked it, but its statement then waits for the
    winner's key, fails on it, and its booking is rolled back with it.
    """
    day = "2030-03-08"
    one = post_booking("user_dave", day, "13:00", idempotency_key="race-key-2")
    other = post_booking("user_dave", day, "14:00", idempotency_key="race-key-2")

    requests = [one, other] * (WORKERS // 2)
    answers = send_all_queued(database_url, db, requests, day, held=["13:00", "14:00"])

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
