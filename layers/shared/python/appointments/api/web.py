"""HTTP glue shared by the handlers: routes, JSON answers, every error answered once.

Hand-written in place of Powertools' APIGatewayHttpResolver, whose import cost
every cold start ~75 ms (asyncio, every event source's data class, AppSync and
OpenAPI support) for what these functions use of it: routing by method and
path, and JSON answers. The routes and answers are the resolver's, byte for
byte (tests/unit/test_web.py checks them against it): the same path patterns,
the stage stripped from the path, static routes before dynamic ones, compact
JSON, Content-Type after the route's own headers, and no cookies.
Kept free of psycopg and pydantic: the health function imports only this.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from appointments import messages
from appointments.errors import ClientError, ConfigurationError, DatabaseUnavailable
from appointments.platform import deadline, tracing
from appointments.platform.observability import logger, metrics, record_outcome

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

LambdaHandler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]

# A path parameter, as Powertools reads `<name>`: one segment, still
# percent-encoded, of RFC 3986's characters, the unsafe ones and any word
# character (Powertools' _SAFE_URI, _UNSAFE_URI and \w).
_PARAMETER = re.compile(r"<\w+>")
_SEGMENT_CHARACTERS = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"


@dataclass(frozen=True)
class Response:
    """A JSON answer: its status, body and any headers beyond Content-Type."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def for_api_gateway(self) -> dict[str, Any]:
        """The payload format 2.0 answer."""
        headers = dict(self.headers)
        headers.setdefault("Content-Type", "application/json")
        return {
            "statusCode": int(self.status),
            "body": json.dumps(self.body, separators=(",", ":")),
            "isBase64Encoded": False,
            "headers": headers,
            "cookies": [],
        }


@dataclass(frozen=True)
class TextResponse(Response):
    """An answer that is not JSON (a calendar file): `text`, under the Content-Type its
    headers name."""

    text: str = ""

    def for_api_gateway(self) -> dict[str, Any]:
        return {**super().for_api_gateway(), "body": self.text}


def json_response(
    status: HTTPStatus, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    return Response(status, body, headers or {})


def error_response(status: HTTPStatus, message: str) -> Response:
    return json_response(status, {"error": message})


def refuse(error: ClientError) -> Response:
    """The answer to a request the client must change, counted under its outcome."""
    record_outcome(error.outcome)
    return error_response(HTTPStatus(error.status), error.message)


class Request:
    """The HTTP request in an API Gateway HTTP API (payload 2.0) event."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.query: dict[str, str] = event.get("queryStringParameters") or {}
        self.path_parameters: dict[str, str] = event.get("pathParameters") or {}
        self._headers: dict[str, str] = event.get("headers") or {}

    def header(self, name: str) -> str | None:
        """A header's value, by its name in any case (API Gateway sends them lowercased)."""
        lowered = name.lower()
        return next((v for k, v in self._headers.items() if k.lower() == lowered), None)

    def body(self) -> bytes:
        """The request body as the client sent it.

        Not decoded as UTF-8: a body is the client's to get wrong, so it stays
        bytes for the JSON parser to refuse. Lone surrogates survive as invalid
        UTF-8 for the same reason.
        """
        body = self.event.get("body") or ""
        if self.event.get("isBase64Encoded"):
            return base64.b64decode(body)
        return str(body).encode("utf-8", "surrogatepass")

    def method_and_path(self) -> tuple[str, str]:
        context = self.event["requestContext"]
        path: str = self.event["rawPath"]
        stage = context.get("stage", "$default")
        if stage != "$default":  # a named stage's requests carry it in the path
            path = path[len("/" + stage) :]
        return context["http"]["method"].upper(), path


class _Route:
    """A view for a method and a path rule, whose pattern is compiled when a
    request of that method first needs it: compiling every route's at import
    cost a cold start ~0.3 ms each."""

    __slots__ = ("_pattern", "method", "rule", "view")

    def __init__(self, method: str, rule: str, view: Callable[..., Response | dict[str, Any]]):
        self.method, self.rule, self.view = method, rule, view
        self._pattern: re.Pattern[str] | None = None

    def match(self, path: str) -> re.Match[str] | None:
        if self._pattern is None:
            named = _PARAMETER.sub(lambda name: f"(?P{name[0]}{_SEGMENT_CHARACTERS})", self.rule)
            self._pattern = re.compile(f"^{named}$")
        return self._pattern.match(path)


class Router:
    """A function's routes; `request` is the request being answered."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self.request = Request({})

    def route(self, method: str, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a view for `method` and a path like /bookings/<booking_id>."""

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            self._routes.append(_Route(method, rule, view))
            self._routes.sort(key=lambda route: "<" in route.rule)  # static first
            return view

        return register

    def get(self, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("GET", rule)

    def post(self, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("POST", rule)

    def put(self, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("PUT", rule)

    def delete(self, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("DELETE", rule)

    def resolve(self, event: dict[str, Any]) -> dict[str, Any]:
        """The answer to `event`: its route's, or a JSON error, whatever happens."""
        self.request = Request(event)
        try:
            answer = self._dispatch()
        except ClientError as error:
            answer = refuse(error)
        except DatabaseUnavailable as error:
            record_outcome("DatabaseError")
            logger.warning(str(error), extra={"cause": _describe_cause(error)})
            answer = error_response(HTTPStatus.SERVICE_UNAVAILABLE, messages.SERVICE_UNAVAILABLE)
        except Exception as error:
            answer = _unexpected(error)
        return answer.for_api_gateway()

    def _dispatch(self) -> Response:
        method, path = self.request.method_and_path()
        for route in self._routes:
            if route.method == method and (match := route.match(path)):
                answer = route.view(**match.groupdict())
                return answer if isinstance(answer, Response) else Response(HTTPStatus.OK, answer)
        return error_response(HTTPStatus.NOT_FOUND, messages.NOT_FOUND)


def create_resolver() -> Router:
    """A function's router: every answer, failures included, is JSON."""
    return Router()


def _unexpected(error: Exception) -> Response:
    # The details go to the log only; the client learns that it failed.
    if isinstance(error, ConfigurationError):
        logger.error(f"misconfigured: {error}")
    else:
        logger.exception("unhandled error")
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, messages.INTERNAL_ERROR)


def entrypoint(app: Router) -> LambdaHandler:
    """The Lambda handler for `app`: correlation id, request log line, metrics, deadline."""

    @metrics.log_metrics(capture_cold_start_metric=True)
    @logger.inject_lambda_context(correlation_id=request_id, clear_state=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        logger.append_keys(route=event.get("routeKey"))
        started = time.perf_counter()
        with deadline.within(context):
            response = app.resolve(event)
        _log_request(response, started)
        return response

    return tracing.trace_handler(handler)


def request_id(event: dict[str, Any]) -> Any:
    """API Gateway's id of the request: the log's correlation_id (None if it has none)."""
    context = event.get("requestContext")
    return context.get("requestId") if isinstance(context, dict) else None


def _log_request(response: dict[str, Any], started: float) -> None:
    # One INFO line per request: what was asked (the route key, appended
    # above), how it ended, how long it took. Never the body or the query:
    # they carry personal data.
    logger.info(
        "request handled",
        extra={
            "status": response.get("statusCode"),
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )


def _describe_cause(error: Exception) -> str:
    # Names the host, the role or the secret. Passwords, and any fragment of
    # one libpq may quote, are masked by the logger (see observability).
    cause = error.__cause__
    return f"{type(cause).__name__}: {cause}".strip() if cause else ""
