"""A booking statement in a process of its own, for the resource races.

Kept apart from the test module so a spawned process imports only this.
"""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import psycopg

from appointments.data import store


def book_when_released(
    database_url: str,
    booking_id: str,
    request: store.SlotRequest,
    release: Barrier,
    results: Queue[tuple[str, str]],
) -> None:
    """Connect, wait for every other worker, then book: reports (booking id, outcome)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT 1")  # connected and ready before the barrier
        release.wait(timeout=120)
        outcome = store.book_slot(conn, booking_id, request)
    results.put((booking_id, type(outcome).__name__))
