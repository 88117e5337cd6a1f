"""The outbox's other side: claiming the events the bookings' triggers wrote
(db/migrations/0046), and marking them published once the bus took them.

At least once, in order per subject:
- A batch is claimed, published and marked in one transaction. A relay that
  dies after publishing and before its commit leaves the rows unpublished, and
  the next relay publishes them again under the same ids (consumers dedupe).
- A batch takes at most one event per subject, its oldest unpublished one: an
  event whose subject has an unpublished event before it (in this batch, or
  claimed by another relay and not yet committed) waits for the next batch. So
  one subject's events are published one call after another, in order, by
  however many relays.
- Claims skip rows another relay holds (SKIP LOCKED): relays never wait for
  each other, and a booking, which only inserts events, never waits for one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

import psycopg

from appointments.data import database

# PutEvents takes up to 10 entries a call.
BATCH = 10
# Published events are kept this long (to look into, or republish by hand),
# then purged.
RETENTION = timedelta(days=7)
PURGE_BATCH = 1000


class OutboxEvent(NamedTuple):
    """An event as its change wrote it, with its shop's zone (None: no such shop now)."""

    position: int
    shop_id: str
    id: UUID
    type: str
    subject_id: str
    occurred_at: datetime
    subject: dict[str, Any]
    shop_time_zone: str | None


# The oldest unpublished events that are their subject's oldest unpublished
# one, locked for this transaction, skipping those another relay holds.
_CLAIM = """
    SELECT e.position, e.shop_id, e.id, e.type, e.subject_id, e.occurred_at, e.subject,
           s.time_zone
    FROM events AS e LEFT JOIN shops AS s ON s.shop_id = e.shop_id
    WHERE e.published_at IS NULL
      AND NOT EXISTS (
          SELECT 1 FROM events AS earlier
          WHERE earlier.published_at IS NULL
            AND earlier.shop_id = e.shop_id AND earlier.subject_id = e.subject_id
            AND earlier.position < e.position
      )
    ORDER BY e.position
    LIMIT %(batch)s
    FOR UPDATE OF e SKIP LOCKED
"""

# Marks the events published and, in the same statement, writes each one's
# webhook deliveries (0048): one per enabled subscription of its shop and type,
# with the event as it was rendered for the bus. A republished event is
# marked once (the batch's claim locks it), so its deliveries are written once;
# one republished by hand (published_at set back to NULL) keeps the deliveries
# it has (ON CONFLICT), delivered or not.
_MARK_PUBLISHED = """
    WITH done AS (
        UPDATE events SET published_at = now()
        FROM unnest(%(shop_ids)s::text[], %(positions)s::bigint[], %(bodies)s::text[])
             AS published (shop_id, position, body)
        WHERE events.shop_id = published.shop_id AND events.position = published.position
        RETURNING events.shop_id, events.position, events.id, events.type, events.subject_id,
                  published.body
    )
    INSERT INTO webhook_deliveries
        (shop_id, webhook_id, position, event_id, event_type, subject_id, body)
    SELECT done.shop_id, w.webhook_id, done.position, done.id, done.type, done.subject_id,
           done.body
    FROM done
    JOIN webhooks AS w ON w.shop_id = done.shop_id AND w.enabled AND done.type = ANY (w.event_types)
    ON CONFLICT (shop_id, webhook_id, position) DO NOTHING
"""

# As the keys' purge: a batch of the oldest, never waiting for a relay.
_PURGE_PUBLISHED = """
    DELETE FROM events
    WHERE ctid = ANY (ARRAY (
        SELECT ctid FROM events
        WHERE published_at IS NOT NULL AND published_at <= now() - %(retention)s
        ORDER BY published_at
        LIMIT %(batch)s
        FOR UPDATE SKIP LOCKED
    ))
"""

# Given a batch, publishes what it can and returns the events it published.
Publisher = Callable[[Sequence[OutboxEvent]], Sequence[OutboxEvent]]


def relay_batch(
    conn: psycopg.Connection,
    publish: Publisher,
    render: Callable[[OutboxEvent], str],
    batch: int = BATCH,
) -> int:
    """Claim a batch, publish it, mark what was published (with its webhook deliveries,
    whose body is the event as `render` writes it): how many events were claimed (0:
    nothing waits that this relay may take). Those the publisher could not publish
    stay unpublished, for the next batch."""
    with conn.transaction():
        events = [OutboxEvent(*row) for row in conn.execute(_CLAIM, {"batch": batch})]
        if not events:
            return 0
        published = publish(events)
        if published:
            conn.execute(
                _MARK_PUBLISHED,
                {
                    "shop_ids": [event.shop_id for event in published],
                    "positions": [event.position for event in published],
                    "bodies": [render(event) for event in published],
                },
            )
    return len(events)


def purge_published() -> int:
    """Delete the published events past their retention, a batch at a time; how many."""
    return database.run_in_batches(delete_published, PURGE_BATCH)


def delete_published(conn: psycopg.Connection) -> int:
    """One batch of the purge: published events past their retention; how many."""
    params = {"retention": RETENTION, "batch": PURGE_BATCH}
    return conn.execute(_PURGE_PUBLISHED, params).rowcount
