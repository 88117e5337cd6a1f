"""Stand-in Lambda containers for the lifecycle races, each run in its own process.

Kept apart from the test module so a spawned process imports only this. Each
worker warms up like a container (its handler imported, its connection open),
then calls the bookings function's real handler with the events API Gateway
HTTP API (payload 2.0) would send for the template's routes.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier, Event
from typing import Any
from urllib.parse import urlencode

Answer = dict[str, Any]  # status, body (parsed), headers (lower-case names)
Call = Callable[["Request"], Answer]


@dataclass(frozen=True)
class Request:
    """One HTTP request to the bookings API, as a route of template.yaml receives it."""

    method: str
    path: str
    route_key: str
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    path_parameters: dict[str, str] | None = None
    raw_query: str = ""
    # How long to wait after the barrier before sending: a later wave of the same race.
    delay_s: float = 0.0


def post_booking(
    user_id: str, day: str, start: str, idempotency_key: str | None = None, delay_s: float = 0.0
) -> Request:
    headers = {"content-type": "application/json"}
    if idempotency_key is not None:
        headers["idempotency-key"] = idempotency_key
    body = json.dumps({"user_id": user_id, "date": day, "time": start})
    return Request("POST", "/bookings", "POST /bookings", body, headers, delay_s=delay_s)


def post_hold(user_id: str, day: str, start: str, delay_s: float = 0.0) -> Request:
    body = json.dumps({"user_id": user_id, "date": day, "time": start})
    headers = {"content-type": "application/json"}
    return Request("POST", "/holds", "POST /holds", body, headers, delay_s=delay_s)


def confirm_hold(hold_id: str, delay_s: float = 0.0) -> Request:
    return Request(
        "POST",
        f"/holds/{hold_id}/confirm",
        "POST /holds/{hold_id}/confirm",
        path_parameters={"hold_id": hold_id},
        delay_s=delay_s,
    )


def reschedule_booking(
    booking_id: str, day: str, start: str, if_match: str | None = None, delay_s: float = 0.0
) -> Request:
    headers = {"content-type": "application/json"}
    if if_match is not None:
        headers["if-match"] = if_match
    return Request(
        "POST",
        f"/bookings/{booking_id}/reschedule",
        "POST /bookings/{booking_id}/reschedule",
        json.dumps({"date": day, "time": start}),
        headers,
        path_parameters={"booking_id": booking_id},
        delay_s=delay_s,
    )


def delete_booking(booking_id: str, delay_s: float = 0.0, if_match: str | None = None) -> Request:
    return Request(
        "DELETE",
        f"/bookings/{booking_id}",
        "DELETE /bookings/{booking_id}",
        headers={} if if_match is None else {"if-match": if_match},
        path_parameters={"booking_id": booking_id},
        delay_s=delay_s,
    )


def get_booking(booking_id: str) -> Request:
    return Request(
        "GET",
        f"/bookings/{booking_id}",
        "GET /bookings/{booking_id}",
        path_parameters={"booking_id": booking_id},
    )


def list_bookings(user_id: str, status: str = "confirmed") -> Request:
    query = urlencode({"user_id": user_id, "status": status, "limit": "100"})
    return Request("GET", "/bookings", "GET /bookings", raw_query=query)


def warm_container(database_url: str) -> Call:
    """Import the handler and open the connection, as a warm container holds them."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    from appointments.data import database
    from functions.bookings.app import handler
    from local.http_api_event import http_api_event
    from local.lambda_context import LocalLambdaContext

    database.get_connection()

    def call(request: Request) -> Answer:
        event = http_api_event(
            request.method,
            request.path,
            route_key=request.route_key,
            raw_query=request.raw_query,
            headers=request.headers,
            body=request.body,
            path_parameters=request.path_parameters,
        )
        response = handler(event, LocalLambdaContext(function_name="bookings"))
        headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
        return {
            "status": response["statusCode"],
            "body": json.loads(response["body"]),
            "headers": headers,
        }

    return call


def send_when_released(
    database_url: str, request: Request, release: Barrier, results: Queue[Answer]
) -> None:
    """Send one request the moment every worker is ready (after its own delay, if any)."""
    call = warm_container(database_url)
    release.wait(timeout=90)
    if request.delay_s:
        time.sleep(request.delay_s)
    sent_at = time.time()
    results.put({**call(request), "request": asdict(request), "sent_at": sent_at})


def churn(
    database_url: str,
    worker: int,
    users: list[str],
    slots: list[tuple[str, str]],
    stop: Event,
    slot_fulls: Synchronized[int],
    give_up_s: float,
    release: Barrier,
    results: Queue[dict[str, Any]],
) -> None:
    """Book random slots for random users and cancel this worker's own bookings, at random.

    Runs until `stop` is set (the test has seen enough work done), or for
    `give_up_s` at most. Counts every "Slot full" in `slot_fulls`, shared by
    all workers, as it comes. Reports every booking it was answered 200 for,
    every cancel it was answered 200 for, the bookings it believes still
    confirmed, and any answer that contradicts what it knows.
    """
    call = warm_container(database_url)
    rng = random.Random(worker)
    confirmed: dict[str, tuple[str, str, str]] = {}  # booking id -> user, date, time
    booked: list[list[str]] = []
    cancelled: list[str] = []
    slot_full = 0
    wrong: list[dict[str, Any]] = []
    release.wait(timeout=90)
    end = time.monotonic() + give_up_s
    sent = 0
    while not stop.is_set() and time.monotonic() < end:
        sent += 1
        roll = rng.random()
        if confirmed and roll < 0.4:
            booking_id = rng.choice(sorted(confirmed))
            answer = call(delete_booking(booking_id))
            body = answer["body"]
            if answer["status"] == 200 and (body["booking_id"], body["status"]) == (
                booking_id,
                "cancelled",
            ):
                cancelled.append(booking_id)
                del confirmed[booking_id]
            else:
                wrong.append({"cancel": booking_id, **answer})
        elif confirmed and roll < 0.5:
            # Nobody else cancels this worker's bookings: it must still read as confirmed.
            booking_id = rng.choice(sorted(confirmed))
            answer = call(get_booking(booking_id))
            user_id, day, start = confirmed[booking_id]
            expected = (booking_id, user_id, day, start, "confirmed", None)
            body = answer["body"]
            found = tuple(body.get(k) for k in ("booking_id", "user_id", "date", "time", "status"))
            if answer["status"] != 200 or (*found, body.get("cancelled_at")) != expected:
                wrong.append({"get": booking_id, **answer})
        else:
            user_id = rng.choice(users)
            day, start = rng.choice(slots)
            # Half the bookings carry a key of their own, used once.
            key = f"churn-{worker}-{sent}" if rng.random() < 0.5 else None
            answer = call(post_booking(user_id, day, start, key))
            if answer["status"] == 200:
                booking_id = answer["body"]["booking_id"]
                booked.append([booking_id, user_id, day, start])
                confirmed[booking_id] = (user_id, day, start)
            elif (answer["status"], answer["body"]) == (400, {"error": "Slot full"}):
                slot_full += 1
                with slot_fulls.get_lock():
                    slot_fulls.value += 1
            else:
                wrong.append({"book": [user_id, day, start], **answer})
    results.put(
        {
            "worker": worker,
            "booked": booked,
            "cancelled": cancelled,
            "confirmed": sorted(confirmed),
            "slot_full": slot_full,
            "sent": sent,
            "wrong": wrong,
        }
    )
