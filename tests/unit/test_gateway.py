"""The local gateway's routing and its own answers, as API Gateway HTTP API gives them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from local.gateway import MAX_PAYLOAD_BYTES, Gateway, RouteTable, outcome
from local.template import Route, http_routes


def template_with_events(**events_by_function: dict[str, Any]) -> dict[str, Any]:
    """A template of functions, each with the given HttpApi events' Properties."""
    resources = {
        logical_id: {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": logical_id.lower(),
                "Handler": "app.handler",
                "Events": {
                    name: {"Type": "HttpApi", "Properties": properties}
                    for name, properties in events.items()
                },
            },
        }
        for logical_id, events in events_by_function.items()
    }
    return {"Resources": resources}


def routes_of(template: dict[str, Any]) -> list[Route]:
    return http_routes(template, Path("/nowhere"))


TEMPLATE = template_with_events(
    SlotsFunction={"Slots": {"Method": "GET", "Path": "/slots"}},
    CatchAllFunction={"Everything": {}},  # no Method, no Path: SAM's default route
)


def test_an_event_without_method_or_path_is_the_default_route() -> None:
    default = next(r for r in routes_of(TEMPLATE) if r.function.logical_id == "CatchAllFunction")
    # The routeKey API Gateway puts in the event for this route.
    assert default.route_key == "$default"


def test_the_default_route_catches_what_no_other_route_matches() -> None:
    table = RouteTable(routes_of(TEMPLATE))

    def served_by(method: str, path: str) -> str | None:
        found = table.match(method, path)
        return None if found is None else found[0].function.logical_id

    assert served_by("GET", "/slots") == "SlotsFunction"
    assert served_by("POST", "/slots") == "CatchAllFunction"
    assert served_by("GET", "/slots/extra") == "CatchAllFunction"
    assert served_by("DELETE", "/") == "CatchAllFunction"


def test_a_route_that_matches_nothing_without_a_default_route_is_none() -> None:
    slots_only = template_with_events(S={"Slots": {"Method": "GET", "Path": "/s"}})
    table = RouteTable(routes_of(slots_only))
    assert table.match("GET", "/other") is None


def call(gateway: Gateway, method: str, path: str, body: bytes = b"") -> tuple[str, bytes]:
    """The status line and body the WSGI app answers, without a server around it."""
    answered: list[str] = []
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "RAW_URI": path,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    chunks = gateway(environ, lambda status, headers: answered.append(status))
    return answered[0], b"".join(chunks)


def quiet_gateway() -> Gateway:
    slots_only = template_with_events(SlotsFunction={"Slots": {"Method": "POST", "Path": "/s"}})
    return Gateway(routes_of(slots_only), log=lambda line: None)


def test_an_unknown_route_gets_api_gateways_exact_404() -> None:
    assert call(quiet_gateway(), "GET", "/nope") == ("404 Not Found", b'{"message":"Not Found"}')


def test_a_body_over_10_mb_gets_api_gateways_exact_413() -> None:
    too_large = b"x" * (MAX_PAYLOAD_BYTES + 1)
    assert call(quiet_gateway(), "POST", "/s", too_large) == (
        "413 Request Entity Too Large",
        b'{"message":"Request Entity Too Large"}',
    )


def test_the_console_outcome_is_an_errors_own_words_or_the_status_phrase() -> None:
    assert outcome(400, b'{"error": "Slot full"}') == "Slot full"
    assert outcome(404, b'{"message":"Not Found"}') == "Not Found"
    assert outcome(200, b'{"booking_id": "booking_1"}') == "OK"
    assert outcome(502, b"<html>bad gateway</html>") == "Bad Gateway"
    assert outcome(400, b'{"error": "two\\nlines"}') == "two lines"
    assert len(outcome(400, b'{"error": "%s"}' % (b"word " * 100))) <= 80


def test_a_refused_request_says_why_on_its_console_line_and_nowhere_else() -> None:
    """As API Gateway's access log shows $context.authorizer.error; the client gets only 403."""
    users = template_with_events(
        UsersFunction={
            "Users": {"Method": "GET", "Path": "/users/{id}", "Auth": {"Authorizer": "AWS_IAM"}}
        }
    )
    lines: list[str] = []
    gateway = Gateway(routes_of(users), log=lines.append)

    assert call(gateway, "GET", "/users/u1") == ("403 Forbidden", b'{"message":"Forbidden"}')
    (line,) = lines
    assert line.startswith(
        "GET /users/u1 403 Forbidden (no SigV4 signature in the Authorization header) "
    )
    assert line.endswith("ms -")
