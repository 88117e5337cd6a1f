"""The floor of GET /users/{user_id}: user_records._FIND."""

import json
import os
from datetime import UTC
from typing import Any

import psycopg

# Opened at cold start and kept for warm invocations, as the real function keeps its own.
_conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None)

# Copied from user_records._FIND.
_FIND = "SELECT id, name, created_at FROM users WHERE id = %(user_id)s"


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    row = _conn.execute(_FIND, {"user_id": event["pathParameters"]["user_id"]}).fetchone()
    if row is None:
        status, answer = 404, {"error": "User not found"}
    else:
        user_id, name, created_at = row
        at = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status, answer = 200, {"user_id": user_id, "name": name, "created_at": at}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer),
    }
