"""The floor of the webhook sender's drained run: webhook_deliveries._CLAIM, nothing due."""

import os
from datetime import timedelta
from typing import Any

import psycopg

# Opened at cold start and kept for warm invocations, as the real function keeps its own.
_conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)

# Copied from webhook_deliveries._CLAIM.
_CLAIM = """
    WITH due AS (
        SELECT d.shop_id, d.webhook_id, d.position, w.url, w.secret, w.enabled
        FROM webhook_deliveries AS d
        JOIN webhooks AS w ON w.shop_id = d.shop_id AND w.webhook_id = d.webhook_id
        WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= now()
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
"""


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    claimed = _conn.execute(_CLAIM, {"batch": 10, "lease": timedelta(seconds=60)}).fetchall()
    return {"claimed": len(claimed)}
