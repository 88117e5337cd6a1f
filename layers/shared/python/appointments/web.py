"""HTTP glue shared by the handlers: the resolver, JSON errors, the request log line.

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
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from appointments import deadline, messages, tracing
from appointments.errors import ClientError, ConfigurationError, DatabaseUnavailable
from appointments.observability import logger, metrics, record_outcome

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def json_response(
    status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=dict(headers or {}),
    )


def error_response(status: HTTPStatus, message: str) -> Response[dict[str, Any]]:
    return json_response(status, {"error": message})


def refuse(error: ClientError) -> Response[dict[str, Any]]:
    """The answer to a request the client must change, counted under its outcome."""
    record_outcome(error.outcome)
    return error_response(HTTPStatus(error.status), error.message)


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
    """A resolver whose every answer, failures included, is JSON.

    Client errors, an unreachable database and anything unexpected are each
    answered here, once, for every route of every function.
    """
    app = APIGatewayHttpResolver()

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, messages.NOT_FOUND)

    @app.exception_handler(ClientError)  # type: ignore[untyped-decorator]
    def _client_error(error: ClientError) -> Response[dict[str, Any]]:
        return refuse(error)

    @app.exception_handler(DatabaseUnavailable)  # type: ignore[untyped-decorator]
    def _database_unavailable(error: DatabaseUnavailable) -> Response[dict[str, Any]]:
        record_outcome("DatabaseError")
        logger.warning(str(error), extra={"cause": _describe_cause(error)})
        return error_response(HTTPStatus.SERVICE_UNAVAILABLE, messages.SERVICE_UNAVAILABLE)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(error: Exception) -> Response[dict[str, Any]]:
        # The details go to the log only; the client learns that it failed.
        if isinstance(error, ConfigurationError):
            logger.error(f"misconfigured: {error}")
        else:
            logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, messages.INTERNAL_ERROR)

    return app


def entrypoint(app: APIGatewayHttpResolver) -> LambdaHandler:
    """The Lambda handler for `app`: correlation id, request log line, metrics, deadline."""

    @metrics.log_metrics(capture_cold_start_metric=True)
    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
    )
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        logger.append_keys(route=event.get("routeKey"))
        started = time.perf_counter()
        with deadline.within(context):
            response = app.resolve(event, context)
        _log_request(response, started)
        return response

    return tracing.trace_handler(handler)


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
