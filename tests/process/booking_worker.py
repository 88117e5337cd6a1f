"""One stand-in Lambda container for the race tests, run in its own process.

Kept apart from the test module so a spawned process imports only this.
"""

from __future__ import annotations

import json
import os
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any


def book_each_slot_when_released(
    database_url: str,
    user_id: str,
    slots: list[tuple[str, str]],
    release: Barrier,
    results: Queue[dict[str, Any]],
) -> None:
    """Warm up like a container, then book each slot the moment all workers are ready."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    from appointments.data import database
    from functions.bookings.app import handler
    from local.http_api_event import http_api_event
    from local.lambda_context import LocalLambdaContext

    database.get_connection()  # a warm container already holds its connection
    for day, start in slots:
        body = json.dumps({"user_id": user_id, "date": day, "time": start})
        event = http_api_event("POST", "/bookings", body=body)
        release.wait(timeout=60)
        response = handler(event, LocalLambdaContext(function_name="bookings"))
        results.put(
            {
                "user_id": user_id,
                "slot": (day, start),
                "status": response["statusCode"],
                "body": json.loads(response["body"]),
            }
        )
