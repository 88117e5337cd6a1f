"""HTTP glue shared by the handlers: the resolver, JSON errors, logs and metrics.

Kept free of psycopg and pydantic so the health function, which imports only
this module, does not pay for them at cold start.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from appointments import messages, tracing
from appointments.errors import ConfigurationError, DatabaseUnavailable
from appointments.observability import count, logger, metrics

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def json_response(status: HTTPStatus, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def error_response(status: HTTPStatus, message: str) -> Response[dict[str, Any]]:
    return json_response(status, {"error": message})


def body_bytes(event: APIGatewayProxyEventV2) -> bytes:
    """The request body as the client sent it.

    Powertools' decoded_body assumes UTF-8 and raises on anything else; a body
    is the client's to get wrong, so here it stays bytes for the JSON parser to
    refuse. Lone surrogates survive as invalid UTF-8 for the same reason.
    """
    body = event.body or ""
    if event.is_base64_encoded:
        return base64.b64decode(body)
    return body.encode("utf-8", "surrogatepass")


def create_resolver() -> APIGatewayHttpResolver:
    """A resolver whose every answer, including failures, is JSON, and is logged once."""
    app = APIGatewayHttpResolver()
    app.use(middlewares=[_log_request])

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, messages.NOT_FOUND)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(error: Exception) -> Response[dict[str, Any]]:
        return _failure_response(error, route=app.current_event.route_key)

    return app


def entrypoint(app: APIGatewayHttpResolver) -> LambdaHandler:
    """The Lambda handler for `app`: correlation id, logs, metrics, optional tracing."""

    @metrics.log_metrics(capture_cold_start_metric=True)
    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
    )
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return tracing.trace_handler(handler)


def _log_request(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    # One INFO line per request: what was asked, how it ended, how long it took.
    # Never the body or query: they carry personal data.
    started = time.perf_counter()
    route = app.current_event.route_key
    try:
        response = next_middleware(app)
    except Exception as error:  # answered here, so that failures get their line too
        response = _failure_response(error, route)
    logger.info(
        "request handled",
        extra={
            "route": route,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return response


def _failure_response(error: Exception, route: str) -> Response[dict[str, Any]]:
    """Log what went wrong in full; tell the client only that it did."""
    if isinstance(error, DatabaseUnavailable):
        count("DatabaseError")
        logger.warning(str(error), extra={"route": route, "cause": _describe_cause(error)})
        return error_response(HTTPStatus.SERVICE_UNAVAILABLE, messages.SERVICE_UNAVAILABLE)
    if isinstance(error, ConfigurationError):
        logger.error(f"misconfigured: {error}", extra={"route": route})
    else:
        logger.exception("unhandled error", extra={"route": route})
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, messages.INTERNAL_ERROR)


def _describe_cause(error: Exception) -> str:
    # psycopg's and botocore's messages name the host, the role or the secret,
    # never a password.
    cause = error.__cause__
    return f"{type(cause).__name__}: {cause}".strip() if cause else ""
