"""The relay: the outbox's events to EventBridge, batch after batch, until the
invocation's time is nearly up (functions/relay, started every minute), or
until told to stop (make dev's in-process relay).

Polls: a batch that came back short means the outbox is drained for now, and
the next look is POLL_INTERVAL_S later; a full one is followed at once. So an
event waits about half the interval on average before it is published.

The events' rendering (event_views, which shows subjects with the API's own
views) is imported by the first batch that has events to render, not at init:
an invocation over a drained outbox never needs it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from appointments.data import database, outbox
from appointments.data.outbox import OutboxEvent, Publisher
from appointments.platform import deadline, event_bus
from appointments.platform.observability import logger, metrics

POLL_INTERVAL_S = 0.5
# After a failed batch (the database or the bus unreachable), the next try
# waits this long, doubled per failure in a row up to MAX_BACKOFF_S.
BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0


def to_event_bridge(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
    """Publish to the bus EVENT_BUS_NAME names: the events it took."""
    bus_name = os.environ["EVENT_BUS_NAME"]
    entries = [bus_entry(event, bus_name) for event in events]
    return [events[index] for index in event_bus.put_events(entries)]


def bus_entry(event: OutboxEvent, bus_name: str) -> dict[str, Any]:
    """A PutEvents entry: DetailType is the event's type, Detail the whole CloudEvent."""
    from appointments.api.event_views import SOURCE, event_json  # see the docstring

    return {
        "EventBusName": bus_name,
        "Source": SOURCE,
        "DetailType": event.type,
        "Time": event.occurred_at,
        "Detail": event_json(event),
    }


class Batch(NamedTuple):
    claimed: int  # fewer than outbox.BATCH: none more waiting, for now
    published: int


def relay_once(publish: Publisher) -> Batch:
    """One batch, claimed, published and marked."""
    published: list[OutboxEvent] = []

    def publish_and_keep(events: Sequence[OutboxEvent]) -> Sequence[OutboxEvent]:
        published[:] = publish(events)  # a retry on a new connection starts afresh
        return published

    claimed = database.run(lambda conn: outbox.relay_batch(conn, publish_and_keep, rendered))
    if published:  # committed: the marks are kept
        _report(published)
    return Batch(claimed, len(published))


def rendered(event: OutboxEvent) -> str:
    """The event as it is sent (event_views.event_json, imported on first use)."""
    from appointments.api.event_views import event_json  # see the docstring

    return event_json(event)


def relay_until(stop: Callable[[], bool], publish: Publisher) -> int:
    """Relay batch after batch until `stop()` says so: how many events were published.
    A failed batch is logged and tried again after a backoff."""
    failures = total = 0
    while not stop():
        try:
            claimed, published = relay_once(publish)
            total += published
            failures = 0
        except Exception:
            failures += 1
            logger.exception("relaying events failed; trying again", extra={"failures": failures})
            claimed = 0
        if claimed < outbox.BATCH:
            pause = min(BACKOFF_S * 2 ** (failures - 1), MAX_BACKOFF_S) if failures else 0.0
            _sleep_unless_stopped(max(pause, POLL_INTERVAL_S), stop)
    return total


def relay_until_drained(publish: Publisher) -> int:
    """Relay until nothing waits (or the time is nearly up): how many were published. For
    an operator's one-off invocation ({"until_drained": true}), not the schedule."""
    total = 0
    while not time_nearly_up():
        batch = relay_once(publish)
        total += batch.published
        if not batch.claimed:
            break
    return total


def time_nearly_up() -> bool:
    """True when the invocation has too little left to claim, publish and mark a batch."""
    left = deadline.seconds_left()
    return left is not None and left < database.MIN_RETRY_S + POLL_INTERVAL_S


def _sleep_unless_stopped(seconds: float, stop: Callable[[], bool]) -> None:
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0 and not stop():
        time.sleep(min(left, 0.1))


def _report(published: Sequence[OutboxEvent]) -> None:
    """A line and the metrics of a batch: how many, and how long since their changes."""
    now = datetime.now(UTC)
    lags_ms = [(now - event.occurred_at).total_seconds() * 1000 for event in published]
    logger.info(
        "events published",
        extra={"published": len(published), "max_lag_ms": round(max(lags_ms), 1)},
    )
    metrics.add_metric("EventsPublished", "Count", len(published))
    metrics.add_metric("EventPublishLag", "Milliseconds", max(lags_ms))
    metrics.flush()
