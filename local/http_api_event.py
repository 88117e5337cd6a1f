"""Events shaped like the ones API Gateway HTTP API (payload format 2.0) sends.

One builder for the tests and the local server, so both hand the handlers what
API Gateway would.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl


def http_api_event(
    method: str,
    path: str,
    *,
    route_key: str | None = None,
    raw_query: str = "",
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The event API Gateway builds for this request."""
    lower_headers = {name.lower(): value for name, value in (headers or {}).items()}
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lower_headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lower_headers.get("host", "localhost"),
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lower_headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if "cookie" in lower_headers:
        # API Gateway moves cookies out of the headers into their own list.
        event["cookies"] = [c.strip() for c in lower_headers.pop("cookie").split(";") if c.strip()]
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"], event["isBase64Encoded"] = _encode_body(body)
    return event


def _query_parameters(raw_query: str) -> dict[str, str]:
    # API Gateway joins the values of a repeated key with commas.
    joined: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _encode_body(body: str | bytes) -> tuple[str, bool]:
    if isinstance(body, str):
        return body, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True
