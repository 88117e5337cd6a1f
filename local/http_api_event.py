"""Events shaped like the ones API Gateway HTTP API (payload format 2.0) sends.

One builder for the tests and the local server, so both hand the handlers what
API Gateway would.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

# The account every event names; and who signed, as the IAM authorizer names
# them (make dev's one local key).
LOCAL_ACCOUNT_ID = "000000000000"
LOCAL_OPERATOR_ID = "AIDALOCALOPERATOR"
LOCAL_OPERATOR_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:user/local-operator"
LOCAL_OPERATOR_ACCESS_KEY_ID = "AKIALOCALOPERATOR"


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
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event API Gateway builds for this request.

    `authorizer` is what the route's authorizer found, as API Gateway passes
    it on: see jwt_authorizer_context.
    """
    lower_headers = {name.lower(): value for name, value in (headers or {}).items()}
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lower_headers,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
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
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if "cookie" in lower_headers:
        # API Gateway moves cookies out of the headers into their own list.
        event["cookies"] = [c.strip() for c in lower_headers.pop("cookie").split(";") if c.strip()]
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        content_type = lower_headers.get("content-type", "")
        event["body"], event["isBase64Encoded"] = _encode_body(body, content_type)
    return event


def jwt_authorizer_context(claims: dict[str, Any]) -> dict[str, Any]:
    """requestContext.authorizer after API Gateway's JWT authorizer accepted a token.

    API Gateway hands every claim on as a string: numbers and booleans as
    their JSON text, a list as "[a b]". `scopes` is filled only for routes
    that declare authorization scopes, which ours do not.
    """
    return {
        "jwt": {
            "claims": {name: _claim_text(value) for name, value in claims.items()},
            "scopes": None,
        }
    }


def iam_authorizer_context(access_key_id: str = LOCAL_OPERATOR_ACCESS_KEY_ID) -> dict[str, Any]:
    """requestContext.authorizer after API Gateway's IAM authorizer accepted a signature."""
    return {
        "iam": {
            "accessKey": access_key_id,
            "accountId": LOCAL_ACCOUNT_ID,
            "callerId": LOCAL_OPERATOR_ID,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": LOCAL_OPERATOR_ARN,
            "userId": LOCAL_OPERATOR_ID,
        }
    }


def _claim_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    return json.dumps(value, separators=(",", ":"))


def _query_parameters(raw_query: str) -> dict[str, str]:
    # API Gateway joins the values of a repeated key with commas.
    joined: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


# Media types API Gateway passes as text; other bodies arrive base64-encoded.
_TEXT_TYPES = re.compile(r"text/.*|application/(.*\+)?(json|xml)|application/javascript", re.I)


def _encode_body(body: str | bytes, content_type: str) -> tuple[str, bool]:
    """The event's body and isBase64Encoded for a request body of `content_type`."""
    if isinstance(body, str):
        return body, False
    media_type = content_type.split(";")[0].strip()
    if not media_type or _TEXT_TYPES.fullmatch(media_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True
