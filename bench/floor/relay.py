"""The floor of the relay's drained run: outbox._CLAIM in a transaction, nothing waiting."""

import os
from typing import Any

import psycopg

# Opened at cold start and kept for warm invocations, as the real function keeps its own.
_conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)

# Copied from outbox._CLAIM.
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


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    with _conn.transaction():
        claimed = _conn.execute(_CLAIM, {"batch": 10}).fetchall()
    return {"published": len(claimed)}
