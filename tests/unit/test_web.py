"""appointments.api.web routes and answers as Powertools' APIGatewayHttpResolver did, byte for byte.

The hand-written router replaced the resolver to save its import at cold start
(see web.py); Powertools stays installed for Logger and Metrics, so the two are
compared here on the same routes, for any method, path and stage.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, content_types
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from appointments import messages
from appointments.api import web
from appointments.errors import ClientError
from local.http_api_event import http_api_event

RULES = ["/health", "/bookings", "/bookings/<booking_id>", "/users/<user_id>", "/a/<x>/b/<y>"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def view_for(rule: str, method: str) -> Any:
    """What a route answers: its arguments back, a refusal, or extra headers, by rule."""

    def view(**arguments: str) -> Any:
        if arguments.get("booking_id") == "refused":
            raise ClientError("Refused", outcome="Refused", status=409)
        if rule == "/bookings" and method == "POST":
            return ("headers", {"booked": "ü"}, {"Idempotent-Replayed": "true"})
        return {"rule": rule, "method": method, "arguments": arguments, "text": "é\u2028"}

    return view


def ours() -> web.Router:
    app = web.create_resolver()
    for rule in RULES:
        for method in METHODS:
            app.route(method, rule)(_as_ours(view_for(rule, method)))
    return app


def _as_ours(view: Any) -> Any:
    def wrapped(**arguments: str) -> Any:
        answer = view(**arguments)
        if isinstance(answer, tuple):
            return web.json_response(HTTPStatus.OK, answer[1], answer[2])
        return answer

    return wrapped


def powertools() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()
    for rule in RULES:
        for method in METHODS:
            app.route(rule, method)(_as_powertools(view_for(rule, method)))

    @app.not_found
    def _not_found(_: Exception) -> PowertoolsResponse[Any]:
        return _json(HTTPStatus.NOT_FOUND, {"error": messages.NOT_FOUND})

    @app.exception_handler(ClientError)  # type: ignore[untyped-decorator]
    def _client_error(error: ClientError) -> PowertoolsResponse[Any]:
        return _json(HTTPStatus(error.status), {"error": error.message})

    return app


def _json(status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> Any:
    return PowertoolsResponse(status, content_types.APPLICATION_JSON, body, headers)


def _as_powertools(view: Any) -> Any:
    def wrapped(**arguments: str) -> Any:
        answer = view(**arguments)
        if isinstance(answer, tuple):
            return _json(HTTPStatus.OK, answer[1], answer[2])
        return answer

    return wrapped


OURS, POWERTOOLS = ours(), powertools()
SEGMENT = st.text(alphabet=list("abz09_-.~%20()'!*:@,;=+&$<> []{}|^/\n?#é"), max_size=12) | st.just(
    "refused"
)


def both_answer(event: dict[str, Any]) -> tuple[str, str]:
    theirs = POWERTOOLS.resolve(event, None)  # type: ignore[arg-type]
    return json.dumps(OURS.resolve(event)), json.dumps(theirs)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    first=st.sampled_from(["health", "bookings", "users", "a", "", "Bookings"]),
    rest=st.lists(SEGMENT, max_size=4),
    stage=st.sampled_from(["$default", "v1"]),
)
def test_any_request_is_answered_as_powertools_answered_it(
    method: str, first: str, rest: list[str], stage: str
) -> None:
    path = "/" + "/".join([first, *rest]) if rest or first else "/"
    event = http_api_event(method, path)
    if stage != "$default":
        event["rawPath"] = f"/{stage}{path}"
        event["requestContext"]["stage"] = stage
    ours_answer, theirs = both_answer(event)
    assert ours_answer == theirs


def test_each_route_and_a_trailing_newline_match_as_before() -> None:
    for path in ["/health", "/health\n", "/bookings/x%20y", "/a/1/b/2", "/bookings/refused"]:
        for method in ["GET", "POST"]:
            ours_answer, theirs = both_answer(http_api_event(method, path))
            assert ours_answer == theirs
            assert json.loads(ours_answer)["statusCode"] != HTTPStatus.INTERNAL_SERVER_ERROR


def test_extra_headers_come_before_the_content_type() -> None:
    answer = OURS.resolve(http_api_event("POST", "/bookings"))
    assert list(answer["headers"]) == ["Idempotent-Replayed", "Content-Type"]
    assert answer["body"] == '{"booked":"\\u00fc"}'


def test_a_header_is_found_in_any_case() -> None:
    request = web.Request(http_api_event("GET", "/", headers={"Idempotency-Key": "k"}))
    assert (request.header("idempotency-key"), request.header("IDEMPOTENCY-KEY")) == ("k", "k")
    assert request.header("x-missing") is None
