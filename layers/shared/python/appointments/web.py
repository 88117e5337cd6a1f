"""HTTP glue shared by the handlers: the resolver, its JSON errors, the logger.

Kept free of psycopg and pydantic so the health function, which imports only
this module, does not pay for them at cold start.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from appointments import messages
from appointments.errors import DatabaseUnavailable

# One logger per container; the service name comes from POWERTOOLS_SERVICE_NAME.
logger = Logger()


def json_response(status: HTTPStatus, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def error_response(status: HTTPStatus, message: str) -> Response[dict[str, Any]]:
    return json_response(status, {"error": message})


def create_resolver() -> APIGatewayHttpResolver:
    """A resolver whose every answer, including failures, is JSON."""
    app = APIGatewayHttpResolver()

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, messages.NOT_FOUND)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[dict[str, Any]]:
        # Full detail goes to the log only; the client learns nothing internal.
        if isinstance(error, DatabaseUnavailable):
            logger.warning(str(error), extra={"cause": _describe_cause(error)})
            return error_response(HTTPStatus.SERVICE_UNAVAILABLE, messages.SERVICE_UNAVAILABLE)
        logger.exception("unhandled error", extra={"path": app.current_event.path})
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, messages.INTERNAL_ERROR)

    return app


def _describe_cause(error: Exception) -> str:
    # psycopg's connection errors name the host and the reason, never the password.
    cause = error.__cause__
    return f"{type(cause).__name__}: {cause}".strip() if cause else ""
