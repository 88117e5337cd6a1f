"""`make dev`'s relay: the outbox published to the console instead of a bus.

Run from gunicorn's master loop (as DatabaseWatch is), not in a thread: no
thread is running when a worker forks. Each turn opens a connection of its
own, relays what waits with the real claim-publish-mark transaction
(appointments.data.outbox), and closes it, so none is open at a fork either.
One console line per event published; an event whose line was printed just as
the database went away is printed again (at least once, as in AWS).

The layer's modules are imported on the first turn, once the handlers'
environment is set: the workers fork from this process, and a logger made
before would carry its level into them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import psycopg

from appointments.errors import ConfigurationError
from appointments.platform import connection_url

if TYPE_CHECKING:
    from appointments.data.outbox import OutboxEvent


def event_line(event: OutboxEvent) -> str:
    """What the console says of an event published."""
    from appointments.api.event_views import cloud_event

    shown = cloud_event(event)
    return (
        f"event published  {shown['type']}  {shown['subject']}"
        f"  shop={shown['shopid']}  sequence={shown['sequence']}"
    )


class ConsoleRelay:
    """Publishes the outbox's events to `log`, at most every `every_seconds`."""

    def __init__(self, url: str, log: Callable[[str], None], every_seconds: float = 0.5) -> None:
        self._url = url
        self._log = log
        self._every_seconds = every_seconds
        self._next_turn = time.monotonic()

    def relay(self) -> None:
        """Publish what waits, if a turn is due. A database away is DatabaseWatch's to say."""
        if time.monotonic() < self._next_turn:
            return
        from appointments.data import outbox

        try:
            conninfo = connection_url.conninfo_from_url(self._url)
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=2) as conn:
                while outbox.relay_batch(conn, self._publish) == outbox.BATCH:
                    pass
        except (psycopg.Error, ConfigurationError):
            pass  # tried again next turn; the events wait in the outbox meanwhile
        self._next_turn = time.monotonic() + self._every_seconds

    def _publish(self, events: Sequence[OutboxEvent]) -> Sequence[OutboxEvent]:
        for event in events:
            self._log(event_line(event))
        return events
