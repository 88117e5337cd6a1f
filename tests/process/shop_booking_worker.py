"""Stand-in Lambda containers booking a shop's services, for the shop booking races.

Kept apart from the test module so a spawned process imports only this. Each
worker is a warm container of the bookings function (lifecycle_worker's), with
the real clock: the races book days far ahead, which no notice or horizon of
the workshop (tests/workshop.py) refuses.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from tests.process.lifecycle_worker import Answer, Request, warm_container
from tests.workshop import MONDAY


def shop_booking(
    user_id: str, service_id: str, start: str, resource_id: str | None = None
) -> Request:
    """POST /shops/north/bookings on the workshop's Monday."""
    body = {"user_id": user_id, "service_id": service_id, "date": MONDAY, "time": start}
    if resource_id is not None:
        body["resource_id"] = resource_id
    return Request(
        "POST",
        "/shops/north/bookings",
        "POST /shops/{shop_id}/bookings",
        json.dumps(body),
        {"content-type": "application/json"},
        path_parameters={"shop_id": "north"},
    )


def warm_then_send_in_rounds(
    database_url: str,
    warm_up: Request,
    requests: list[Request],
    release: Barrier,
    results: Queue[Answer],
) -> None:
    """Send `warm_up` (the container reads the day and keeps it), then one request
    of `requests` per round, each the moment the barrier releases.

    The test process is a party of the barrier too: it changes the catalogue
    as a round is released.
    """
    call = warm_container(database_url)
    results.put({**call(warm_up), "round": -1, "request": asdict(warm_up)})
    for round_number, request in enumerate(requests):
        release.wait(timeout=180)
        results.put({**call(request), "round": round_number, "request": asdict(request)})
