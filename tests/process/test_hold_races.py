"""Holds under contention, each request from its own process (a container of its
own) through the real handler, released together by a barrier: the database
alone decides. After every run, no two blocks that keep a resource busy (a
confirmed booking, a live hold) overlap, and every booking acknowledged is there.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import psycopg
import pytest

from tests.conftest import Invoke
from tests.process.lifecycle_worker import (
    Request,
    confirm_hold,
    post_booking,
    post_hold,
    send_when_released,
)
from tests.process.test_lifecycle_races import WORKERS, send_at_once, workers

DAY = "2030-03-11"
HOURS = [f"{hour:02d}:00" for hour in range(9, 17)]  # the default schedule's eight slots

# Rows keeping a resource busy now: confirmed, or held and live.
BUSY_OVERLAPS = """
    WITH busy AS (
        SELECT id, shop_id, resource_id, block FROM bookings
        WHERE status = 'confirmed' OR (status = 'held' AND hold_expires_at > now())
    )
    SELECT a.id, b.id FROM busy AS a JOIN busy AS b
      ON a.shop_id = b.shop_id AND a.resource_id = b.resource_id AND a.id < b.id
     AND a.block && b.block
"""


@pytest.fixture(autouse=True)
def no_overlap_afterwards(db: psycopg.Connection) -> Iterator[None]:
    yield
    assert db.execute(BUSY_OVERLAPS).fetchall() == []


def held(invoke: Invoke, user_id: str, start: str) -> str:
    body = json.dumps({"user_id": user_id, "date": DAY, "time": start})
    answer = invoke("bookings", "POST", "/holds", body=body)
    assert answer["statusCode"] == 201, answer["json"]
    return str(answer["json"]["hold_id"])


def post_booking_now(invoke: Invoke, user_id: str, start: str) -> dict[str, Any]:
    body = json.dumps({"user_id": user_id, "date": DAY, "time": start})
    return invoke("bookings", "POST", "/bookings", body=body)


def statuses(db: psycopg.Connection, ids: list[str]) -> dict[str, str]:
    rows = db.execute("SELECT id, status FROM bookings WHERE id = ANY (%s)", (ids,)).fetchall()
    return dict(rows)  # type: ignore[arg-type]


@pytest.mark.slow
def test_holds_and_bookings_for_the_last_bay_leave_exactly_one(
    database_url: str, db: psycopg.Connection
) -> None:
    requests = [
        (post_hold if n % 2 else post_booking)(("user_alice", "user_bob")[n % 4 // 2], DAY, "10:00")
        for n in range(WORKERS)
    ]

    answers = send_at_once(database_url, requests)

    won = [a for a in answers if a["status"] in (200, 201)]
    assert len(won) == 1, [(a["status"], a["body"]) for a in answers]
    assert [a["body"] for a in answers if a not in won] == [{"error": "Slot full"}] * (WORKERS - 1)
    winner = won[0]["body"].get("booking_id") or won[0]["body"]["hold_id"]
    expected = "confirmed" if won[0]["status"] == 200 else "held"
    assert db.execute("SELECT id, status FROM bookings").fetchall() == [(winner, expected)]


@pytest.mark.slow
def test_ten_holds_by_one_user_at_once_leave_exactly_the_limit(
    database_url: str, db: psycopg.Connection
) -> None:
    slots = [(day, hour) for day in (DAY, "2030-03-12") for hour in HOURS][:10]

    answers = send_at_once(
        database_url, [post_hold("user_alice", day, hour) for day, hour in slots]
    )

    assert Counter(a["status"] for a in answers) == {201: 3, 409: 7}
    assert {a["body"]["error"] for a in answers if a["status"] == 409} == {"Too many holds"}
    held = sorted(a["body"]["hold_id"] for a in answers if a["status"] == 201)
    rows = db.execute(
        "SELECT id FROM bookings WHERE user_id = 'user_alice' AND status = 'held' ORDER BY id"
    ).fetchall()
    assert [row_id for (row_id,) in rows] == held
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (3,)


@dataclass(frozen=True)
class Lapse:
    """Time reaching the holds' expiry, `delay_s` after the barrier."""

    hold_ids: list[str]
    delay_s: float


def send_or_lapse(
    database_url: str, item: Request | Lapse, release: Barrier, results: Queue[Any]
) -> None:
    """A worker: send a request, or make the holds lapse, when every worker is ready."""
    if isinstance(item, Request):
        send_when_released(database_url, item, release, results)
        return
    with psycopg.connect(database_url, autocommit=True) as conn:
        release.wait(timeout=90)
        time.sleep(item.delay_s)
        conn.execute(
            "UPDATE bookings SET hold_expires_at = now() WHERE id = ANY (%s) AND status = 'held'",
            (item.hold_ids,),
        )
        results.put({"lapsed_at": time.time()})


@pytest.mark.slow
def test_a_confirmation_racing_its_holds_expiry_books_or_gives_way_never_both(
    database_url: str, db: psycopg.Connection, invoke: Invoke
) -> None:
    """Eight holds lapse a second after the barrier; each one's confirmation, and
    another user's booking of its slot, are sent around that moment (0.8 to 1.2 s).
    Per slot: the hold's booking, or "Hold expired" and the slot free for anyone or
    the other user's - never both booked, never a refusal that leaves it held."""
    hold_ids = [
        held(invoke, ("user_alice", "user_bob", "user_charlie")[n % 3], hour)
        for n, hour in enumerate(HOURS)
    ]
    items: list[Request | Lapse] = [Lapse(hold_ids, 1.0)]
    for n, (hold_id, hour) in enumerate(zip(hold_ids, HOURS, strict=True)):
        spread = 0.8 + 0.05 * n
        items.append(confirm_hold(hold_id, delay_s=spread))
        items.append(post_booking("user_dave", DAY, hour, delay_s=2.0 - spread))

    with workers(send_or_lapse, [(database_url, item) for item in items]) as running:
        answers = [a for a in running.collect(len(items)) if "lapsed_at" not in a]

    by_route = {
        route: [a for a in answers if a["request"]["route_key"] == route]
        for route in ("POST /holds/{hold_id}/confirm", "POST /bookings")
    }
    confirmed = {
        a["request"]["path_parameters"]["hold_id"]: a
        for a in by_route["POST /holds/{hold_id}/confirm"]
    }
    booked = {json.loads(a["request"]["body"])["time"]: a for a in by_route["POST /bookings"]}
    # The first were sent well before the expiry, the last well after: both sides ran.
    assert {confirmed[hold_ids[0]]["status"], confirmed[hold_ids[-1]]["status"]} == {200, 409}
    for hold_id, hour in zip(hold_ids, HOURS, strict=True):
        confirmation, booking = confirmed[hold_id], booked[hour]
        assert (confirmation["status"], booking["status"]) != (200, 200), hour
        if confirmation["status"] == 200:
            assert confirmation["body"] == {"booking_id": hold_id}
            assert booking["body"] == {"error": "Slot full"}
            assert statuses(db, [hold_id]) == {hold_id: "confirmed"}
            continue
        assert (confirmation["status"], confirmation["body"]) == (409, {"error": "Hold expired"})
        assert statuses(db, [hold_id])[hold_id] in ("held", "expired")
        if booking["status"] == 200:
            assert statuses(db, [booking["body"]["booking_id"]]) == {
                booking["body"]["booking_id"]: "confirmed"
            }
        else:  # sent while the hold was live: the slot is free now for anyone
            assert booking["body"] == {"error": "Slot full"}
            assert post_booking_now(invoke, "user_charlie", hour)["statusCode"] == 200
