"""`make dev`'s relay and webhook sender: the outbox published to the console instead
of a bus, and the webhook deliveries posted as in AWS, a console line each.

Run from gunicorn's master loop (as DatabaseWatch is), not in a thread: no
thread is running when a worker forks. Each turn opens a connection of its
own, relays what waits with the real claim-publish-mark transaction
(appointments.data.outbox), and closes it, so none is open at a fork either.
One console line per event published; an event whose line was printed just as
the database went away is printed again (at least once, as in AWS). Then the
webhook deliveries that are due are posted (webhook_sender.attempt: signed,
the URL checked; make dev allows http://127.0.0.1, WEBHOOKS_ALLOW_LOCAL), one
line each with the receiver's status and the attempt's number.

The layer's modules are imported on the first turn, once the handlers'
environment is set: the workers fork from this process, and a logger made
before would carry its level into them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import psycopg

from appointments.errors import ConfigurationError
from appointments.platform import connection_url

if TYPE_CHECKING:
    from appointments.data.outbox import OutboxEvent
    from appointments.data.webhook_deliveries import Outcome


def event_line(event: OutboxEvent) -> str:
    """What the console says of an event published."""
    from appointments.api.event_views import cloud_event

    shown = cloud_event(event)
    return (
        f"event published  {shown['type']}  {shown['subject']}"
        f"  shop={shown['shopid']}  sequence={shown['sequence']}"
    )


def delivery_line(outcome: Outcome) -> str:
    """What the console says of a webhook delivery's attempt."""
    delivery = outcome.delivery
    body = json.loads(delivery.body)
    result = str(outcome.status) if outcome.status is not None else str(outcome.error)
    if not outcome.delivered:
        result += ", given up" if outcome.retry_in is None else ", tried again later"
    return (
        f"webhook {delivery.webhook_id}  {body['type']}  {body['subject']}"
        f"  -> {delivery.url}  {result}  (attempt {delivery.attempt})"
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
        from appointments.api.event_views import event_json
        from appointments.data import outbox, webhook_deliveries

        try:
            conninfo = connection_url.conninfo_from_url(self._url)
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=2) as conn:
                while outbox.relay_batch(conn, self._publish, event_json) == outbox.BATCH:
                    pass
                while self._deliver(conn) == webhook_deliveries.BATCH:
                    pass
        except (psycopg.Error, ConfigurationError):
            pass  # tried again next turn; the events wait in the outbox meanwhile
        self._next_turn = time.monotonic() + self._every_seconds

    def _deliver(self, conn: psycopg.Connection) -> int:
        """Post the deliveries that are due (in threads, joined before returning: none
        is running when a worker forks); how many were claimed."""
        from concurrent.futures import ThreadPoolExecutor

        from appointments.api import webhook_sender
        from appointments.data import webhook_deliveries

        claimed = webhook_deliveries.claim(conn)
        if not claimed:
            return 0
        with ThreadPoolExecutor(max_workers=len(claimed)) as posting:
            outcomes = list(posting.map(webhook_sender.attempt, claimed))
        webhook_deliveries.record(conn, outcomes)
        for outcome in outcomes:
            self._log(delivery_line(outcome))
        return len(claimed)

    def _publish(self, events: Sequence[OutboxEvent]) -> Sequence[OutboxEvent]:
        for event in events:
            self._log(event_line(event))
        return events
