"""Webhook deliveries (db/migrations/0048): claimed a batch at a time by the sender,
their outcomes recorded, and purged once done.

A claim is one statement that leases what it takes: it moves each delivery's
next attempt LEASE ahead and counts the attempt, and commits. The posts then
run with no transaction open; a sender that dies meanwhile leaves its
deliveries to be claimed again when the lease runs out. A claim takes a
delivery only if no delivery of its subscription and subject before it is
pending (due, leased or waiting for its retry): a subject's deliveries reach
each receiver in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from uuid import UUID

import psycopg

from appointments.data import database

BATCH = 10
LEASE = timedelta(seconds=60)
# A delivery is tried for this long after its event was published; then it is
# given up, and a subscription whose every delivery failed this long is disabled.
GIVE_UP_AFTER = timedelta(hours=24)
RETENTION = timedelta(days=7)  # deliveries done are kept this long (to look into), then purged
PURGE_BATCH = 1000


class Delivery(NamedTuple):
    """A delivery claimed: where to, what, and how many attempts this one makes."""

    shop_id: str
    webhook_id: str
    position: int
    event_id: UUID
    body: str
    attempt: int
    created_at: datetime
    url: str
    secret: str
    enabled: bool


@dataclass(frozen=True)
class Outcome:
    """What became of a delivery's attempt: delivered, or when to try again (None: give up)."""

    delivery: Delivery
    delivered: bool
    status: int | None = None  # the receiver's HTTP status, if it answered
    error: str | None = None
    retry_in: timedelta | None = None
    expired: bool = False  # given up: tried for GIVE_UP_AFTER


_PENDING = "delivered_at IS NULL AND failed_at IS NULL"
_D_PENDING = "d.delivered_at IS NULL AND d.failed_at IS NULL"

_CLAIM = f"""
    WITH due AS (
        SELECT d.shop_id, d.webhook_id, d.position, w.url, w.secret, w.enabled
        FROM webhook_deliveries AS d
        JOIN webhooks AS w ON w.shop_id = d.shop_id AND w.webhook_id = d.webhook_id
        WHERE {_D_PENDING} AND d.next_attempt_at <= now()
          AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries AS earlier
              WHERE earlier.shop_id = d.shop_id AND earlier.webhook_id = d.webhook_id
                AND earlier.subject_id = d.subject_id AND earlier.position < d.position
                AND earlier.delivered_at IS NULL AND earlier.failed_at IS NULL
          )
        ORDER BY d.next_attempt_at
        LIMIT %(batch)s
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries AS d
    SET next_attempt_at = now() + %(lease)s, attempts = d.attempts + 1
    FROM due
    WHERE d.shop_id = due.shop_id AND d.webhook_id = due.webhook_id AND d.position = due.position
    RETURNING d.shop_id, d.webhook_id, d.position, d.event_id, d.body, d.attempts, d.created_at,
              due.url, due.secret, due.enabled
"""  # noqa: S608 (constants only)

# The batch's outcomes, and what they mean for their subscriptions. An outcome
# counts only if its delivery is still as this attempt claimed it (its attempts
# count is the lease's token): a sender whose lease ran out, and whose delivery
# another claimed since, records nothing. A subscription with a delivery that
# succeeded is failing no more; one with none, failing since GIVE_UP_AFTER ago
# or giving up on a delivery that failed that long, is disabled (and 0048's
# trigger writes webhook.disabled).
_RECORD = f"""
    WITH outcome AS (
        SELECT * FROM unnest(
            %(shop_ids)s::text[], %(webhook_ids)s::text[], %(positions)s::bigint[],
            %(attempts)s::integer[], %(delivered)s::boolean[], %(statuses)s::integer[],
            %(errors)s::text[], %(retry_in)s::interval[], %(expired)s::boolean[]
        ) AS o (shop_id, webhook_id, position, attempt, delivered, status, error, retry_in,
                expired)
    ),
    recorded AS (
        UPDATE webhook_deliveries AS d
        SET delivered_at = CASE WHEN o.delivered THEN now() END,
            failed_at = CASE WHEN NOT o.delivered AND o.retry_in IS NULL THEN now() END,
            next_attempt_at = CASE WHEN o.retry_in IS NOT NULL THEN now() + o.retry_in
                                   ELSE d.next_attempt_at END,
            last_status = o.status,
            last_error = o.error
        FROM outcome AS o
        WHERE d.shop_id = o.shop_id AND d.webhook_id = o.webhook_id AND d.position = o.position
          AND d.attempts = o.attempt AND {_D_PENDING}
        RETURNING d.shop_id, d.webhook_id, o.delivered, o.expired
    ),
    by_webhook AS (
        SELECT shop_id, webhook_id, bool_or(delivered) AS any_delivered,
               bool_or(expired) AS any_expired
        FROM recorded GROUP BY shop_id, webhook_id
    )
    UPDATE webhooks AS w
    SET failing_since = CASE WHEN b.any_delivered THEN NULL
                             ELSE coalesce(w.failing_since, now()) END,
        enabled = w.enabled AND NOT (
            NOT b.any_delivered AND w.failing_since IS NOT NULL
            AND (w.failing_since <= now() - %(give_up_after)s OR b.any_expired)
        ),
        disabled_at = CASE
            WHEN w.enabled AND NOT b.any_delivered AND w.failing_since IS NOT NULL
                 AND (w.failing_since <= now() - %(give_up_after)s OR b.any_expired)
                THEN now()
            ELSE w.disabled_at END
    FROM by_webhook AS b
    WHERE w.shop_id = b.shop_id AND w.webhook_id = b.webhook_id AND w.enabled
"""  # noqa: S608 (constants only)

_PURGE_DONE = f"""
    DELETE FROM webhook_deliveries
    WHERE ctid = ANY (ARRAY (
        SELECT ctid FROM webhook_deliveries
        WHERE NOT ({_PENDING}) AND created_at <= now() - %(retention)s
        ORDER BY created_at
        LIMIT %(batch)s
        FOR UPDATE SKIP LOCKED
    ))
"""  # noqa: S608 (constants only)


def claim(conn: psycopg.Connection, batch: int = BATCH) -> list[Delivery]:
    rows = conn.execute(_CLAIM, {"batch": batch, "lease": LEASE}).fetchall()
    return [Delivery(*row) for row in rows]


def record(conn: psycopg.Connection, outcomes: Sequence[Outcome]) -> None:
    if not outcomes:
        return
    conn.execute(
        _RECORD,
        {
            "shop_ids": [o.delivery.shop_id for o in outcomes],
            "webhook_ids": [o.delivery.webhook_id for o in outcomes],
            "positions": [o.delivery.position for o in outcomes],
            "attempts": [o.delivery.attempt for o in outcomes],
            "delivered": [o.delivered for o in outcomes],
            "statuses": [o.status for o in outcomes],
            "errors": [o.error for o in outcomes],
            "retry_in": [o.retry_in for o in outcomes],
            "expired": [o.expired for o in outcomes],
            "give_up_after": GIVE_UP_AFTER,
        },
    )


def purge_done() -> int:
    """Delete deliveries done (delivered or given up) past their retention; how many."""
    return database.run_in_batches(_delete_done, PURGE_BATCH)


def _delete_done(conn: psycopg.Connection) -> int:
    return conn.execute(_PURGE_DONE, {"retention": RETENTION, "batch": PURGE_BATCH}).rowcount
