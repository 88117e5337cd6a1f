"""Stand-in Lambda containers with a shop schedule of their own, for the capacity races.

A container reads the shop's settings once, at its cold start: each worker
puts its settings in os.environ before it imports the handler. (A spawned
process starts with the test process's environment, where CAPACITY is the
template's default, 1.) Workers given different settings are containers of
two deploys running at once.

Kept apart from the test module so a spawned process imports only this.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from tests.process.lifecycle_worker import Answer, Request, churn, warm_container


def send_in_rounds(
    settings: dict[str, str],
    database_url: str,
    request: Request,
    rounds: int,
    release: Barrier,
    results: Queue[Answer],
) -> None:
    """Send the same request once per round, each the moment the barrier releases.

    The test process is a party of the barrier too: it lets each round go when
    it has checked the last one (and changed what it meant to change).
    """
    os.environ.update(settings)
    call = warm_container(database_url)
    for round_number in range(rounds):
        release.wait(timeout=180)
        results.put({**call(request), "round": round_number, "request": asdict(request)})


def churn_with(settings: dict[str, str], *args: Any) -> None:
    """lifecycle_worker.churn, in a container whose schedule `settings` configure."""
    os.environ.update(settings)
    churn(*args)
