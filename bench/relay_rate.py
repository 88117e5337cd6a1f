"""Events relayed per second: one relay draining an outbox of a few thousand events.

Two publishers, side by side: none (every batch taken as published: the
relay's own cost, its claim, rendering and mark, on the database), and moto's
EventBridge in this process (PutEvents serialised by boto3 and answered by
moto: a stand-in, slower than nothing, faster than AWS's ~20-40 ms a call).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bench.environment import BenchDatabase, apply_lambda_environment, quiet_handlers, spread

# Bookings written straight to the table: their trigger writes one event each.
_BOOK_MANY = """
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block)
    SELECT 'booking_relay_' || n, 'user_charlie', date '2050-01-01' + n, '10:00',
           tstzrange(t, t + interval '1 hour'), 'bay-1', tstzrange(t, t + interval '1 hour')
    FROM generate_series(1, %(count)s) AS n,
         LATERAL (SELECT (date '2050-01-01' + n + time '10:00') AT TIME ZONE 'UTC' AS t) AS at
"""


def measure(database: BenchDatabase, events: int, runs: int) -> dict[str, Any]:
    apply_lambda_environment(database.url)
    from appointments.api import relay
    from appointments.api.event_views import cloud_event
    from appointments.data.outbox import OutboxEvent

    def taken_as_published(batch: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        for event in batch:
            cloud_event(event)  # rendered, as for a bus
        return list(batch)

    results: dict[str, Any] = {"events": events, "runs": runs}
    for name, publisher in (("no bus", taken_as_published), ("moto", relay.to_event_bridge)):
        rates = []
        for _ in range(runs):
            database.reset()
            with database.admin() as conn:
                conn.execute(_BOOK_MANY, {"count": events})
            with _bus(name), quiet_handlers():
                started = time.perf_counter()
                relayed = 0
                while batch := relay.relay_once(publisher):
                    if not batch.claimed:
                        break
                    relayed += batch.published
                elapsed = time.perf_counter() - started
            if relayed != events:
                raise RuntimeError(f"{name}: relayed {relayed} of {events} events")
            rates.append(events / elapsed)
        results[name] = {"events_per_s": spread(rates)}
    return results


@contextmanager
def _bus(name: str) -> Iterator[None]:
    """For the "moto" publisher, moto's EventBridge with the bus the relay names."""
    if name != "moto":
        yield
        return
    from moto import mock_aws

    from appointments.platform import event_bus

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["EVENT_BUS_NAME"] = "bench"
    event_bus.client.cache_clear()
    with mock_aws():
        event_bus.client().create_event_bus(Name="bench")
        yield
    event_bus.client.cache_clear()
