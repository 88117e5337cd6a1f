"""HTTP glue shared by the handlers: the resolver, its JSON errors, the logger.

Kept free of psycopg and pydantic so the health function, which imports only
this module, does not pay for them at cold start.
"""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from appointments import messages
from appointments.errors import DatabaseUnavailable

# One logger per container; the service name comes from POWERTOOLS_SERVICE_NAME.
logger = Logger()


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
    """A resolver whose every answer, including failures, is JSON."""
    app = APIGatewayHttpResolver()

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, messages.NOT_FOUND)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
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
