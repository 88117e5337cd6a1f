"""The floor of GET /shops/{shop_id}/services: catalogue_records._LIST_SERVICES."""

import json
import os
from typing import Any

import psycopg

# Opened at cold start and kept for warm invocations, as the real function keeps its own.
_conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)

# Copied from catalogue_records._LIST_SERVICES.
_LIST_SERVICES = """
    SELECT services.service_id, services.name, services.duration_minutes,
           services.buffer_before_minutes, services.buffer_after_minutes,
           coalesce(services.step_minutes, services.duration_minutes),
           ARRAY(
               SELECT eligible.resource_id FROM service_resources AS eligible
               WHERE eligible.shop_id = services.shop_id
                 AND eligible.service_id = services.service_id
               ORDER BY eligible.resource_id COLLATE "C"
           )
    FROM shops LEFT JOIN services ON services.shop_id = shops.shop_id
    WHERE shops.shop_id = %(shop_id)s
    ORDER BY services.service_id COLLATE "C"
"""

_FIELDS = (
    "service_id",
    "name",
    "duration_minutes",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "step_minutes",
    "resource_ids",
)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    shop_id = event["pathParameters"]["shop_id"]
    rows = _conn.execute(_LIST_SERVICES, {"shop_id": shop_id}).fetchall()
    answer: dict[str, Any]
    if not rows:
        status, answer = 404, {"error": "Shop not found"}
    else:
        services = [dict(zip(_FIELDS, row, strict=True)) for row in rows if row[0] is not None]
        status, answer = 200, {"services": services}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer),
    }
