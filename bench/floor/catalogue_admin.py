"""The floor of GET /shops/{shop_id}/services/{service_id}: catalogue_changes._FIND_SERVICE."""

import json
import os
from typing import Any

import psycopg

# Opened at cold start and kept for warm invocations, as the real function keeps its own.
_conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)

# Copied from catalogue_changes._FIND_SERVICE.
_FIND_SERVICE = """
    SELECT services.name, services.duration_minutes, services.buffer_before_minutes,
           services.buffer_after_minutes, services.step_minutes,
           ARRAY(
               SELECT link.resource_id FROM service_resources AS link
               WHERE link.shop_id = services.shop_id AND link.service_id = services.service_id
               ORDER BY link.resource_id COLLATE "C"
           )
    FROM shops
    LEFT JOIN services
      ON services.shop_id = shops.shop_id AND services.service_id = %(service_id)s
    WHERE shops.shop_id = %(shop_id)s
"""

_FIELDS = (
    "name",
    "duration_minutes",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "step_minutes",
    "resource_ids",
)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    ids = event["pathParameters"]
    row = _conn.execute(_FIND_SERVICE, ids).fetchone()
    answer: dict[str, Any]
    if row is None:
        status, answer = 404, {"error": "Shop not found"}
    elif row[0] is None:
        status, answer = 404, {"error": "Service not found"}
    else:
        status, answer = 200, {**ids, **dict(zip(_FIELDS, row, strict=True))}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer),
    }
