"""API Gateway HTTP API, locally, as a WSGI app: route, build the event, invoke, answer.

Each worker process that runs this is a stand-in for one warm Lambda container
per function: it imports a function's handler on its first request (a cold
start) and keeps its module state, connection included, for the next ones.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from local import dev_issuer
from local.authorizers import (
    DEFAULT_AUTHORIZATION,
    AuthorizationSettings,
    Authorizers,
    Refused,
    Request,
)
from local.http_api_event import http_api_event
from local.lambda_context import LocalLambdaContext
from local.template import DEFAULT_ROUTE, Function, Route

Handler = Callable[[dict[str, Any], Any], Any]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Response = tuple[int, list[tuple[str, str]], bytes]  # status, headers, body

# What API Gateway itself answers when no route matches or the function fails.
_NO_ROUTE = (404, {"message": "Not Found"})
_FUNCTION_FAILED = (500, {"message": "Internal Server Error"})
_TOO_LARGE = (413, {"message": "Request Entity Too Large"})
# Who answers the local issuer's documents on the console: not a template route.
_DEV_ISSUER = "dev-issuer"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request size limit
# Longer error texts are cut on the console, so a request stays one line.
_MAX_OUTCOME_CHARS = 80

# The cold-start flags: one per process, which is one per container on
# Lambda. A worker here hosts every function, so each function's first
# invocation in it must find them set again, or its log record and its
# ColdStart metric say warm while the console says cold.
_OBSERVABILITY = "appointments.platform.observability"
_TRACER = "aws_lambda_powertools.tracing.tracer"  # only loaded with tracing on


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    # Sorts the most specific route first, as API Gateway chooses: fewer
    # greedy and plain parameters, then an explicit method over ANY; the
    # default route only when nothing else matches.
    specificity: tuple[int, int, int, int]


def _compile(route: Route) -> _CompiledRoute:
    if route.path == DEFAULT_ROUTE:
        return _CompiledRoute(route, re.compile(".*"), (1, 0, 0, 0))
    parts, params, greedy = [], 0, 0
    for segment in route.path.strip("/").split("/"):
        if match := re.fullmatch(r"\{(\w+)\+\}", segment):
            parts.append(f"(?P<{match[1]}>.+)")
            greedy += 1
        elif match := re.fullmatch(r"\{(\w+)\}", segment):
            parts.append(f"(?P<{match[1]}>[^/]+)")
            params += 1
        else:
            parts.append(re.escape(segment))
    pattern = re.compile("/" + "/".join(parts))
    return _CompiledRoute(route, pattern, (0, greedy, params, int(route.method == "ANY")))


class RouteTable:
    """The template's routes, matched the way API Gateway matches them."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = sorted((_compile(r) for r in routes), key=lambda c: c.specificity)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for compiled in self._routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            if found := compiled.pattern.fullmatch(path):
                return compiled.route, found.groupdict()
        return None


class WarmFunctions:
    """Each function's handler, imported on first use and then kept warm."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def get(self, function: Function) -> tuple[Handler, bool]:
        """The handler, and whether this call paid the cold start."""
        if function.logical_id in self._handlers:
            return self._handlers[function.logical_id], False
        module_name, attribute = function.handler.rsplit(".", 1)
        module = _import_file(function.logical_id, function.code_dir / f"{module_name}.py")
        self._handlers[function.logical_id] = getattr(module, attribute)
        _start_cold()
        return self._handlers[function.logical_id], True


def _start_cold() -> None:
    """Make the logger, the metrics and the tracer take the next invocation for the first."""
    # Looked up, not imported: a module not loaded yet still holds its
    # initial, cold, value, and importing it here would move its import time
    # out of the function's cold start.
    if (observability := sys.modules.get(_OBSERVABILITY)) is not None:
        observability.start_cold()
    if (tracer := sys.modules.get(_TRACER)) is not None:
        vars(tracer)["is_cold_start"] = True


def _import_file(logical_id: str, path: Any) -> ModuleType:
    # Every function's module is called app.py: import each under its own name.
    spec = importlib.util.spec_from_file_location(f"lambda_{logical_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def to_http_response(result: Any) -> Response:
    """Status, headers and body, interpreting a handler's result as API Gateway (2.0) does."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway sends the whole result as a JSON 200.
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", cookie) for cookie in result.get("cookies") or []]
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return int(result["statusCode"]), headers, payload


@dataclass(frozen=True)
class _Answer:
    """A request's response, who gave it, and why an authorizer refused it."""

    response: Response
    served_by: str = "-"  # a function, or "-" for API Gateway itself
    refusal_reason: str = ""  # as $context.authorizer.error in API Gateway's access log


class Gateway:
    """The WSGI app: one request in, one Lambda invocation, one response out."""

    def __init__(
        self,
        routes: Iterable[Route],
        log: Callable[[str], None],
        authorization: AuthorizationSettings | None = None,
    ) -> None:
        self._table = RouteTable(routes)
        self._functions = WarmFunctions()
        self._log = log
        self._authorizers = Authorizers(authorization or DEFAULT_AUTHORIZATION, log)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        started = time.perf_counter()
        method = environ["REQUEST_METHOD"]
        raw_path, _, raw_query = environ.get("RAW_URI", environ["PATH_INFO"]).partition("?")
        answer = self._answer(method, raw_path, raw_query, environ)
        status, headers, body = answer.response
        start_response(f"{status} {_reason(status)}", headers)
        elapsed_ms = (time.perf_counter() - started) * 1000
        said = outcome(status, body)
        if answer.refusal_reason:
            said += f" ({answer.refusal_reason})"
        self._log(f"{method} {raw_path} {status} {said} {elapsed_ms:.1f}ms {answer.served_by}")
        return [body]

    def _answer(
        self, method: str, raw_path: str, raw_query: str, environ: dict[str, Any]
    ) -> _Answer:
        if (issuer_document := self._local_issuer_document(method, raw_path)) is not None:
            return _Answer(issuer_document, _DEV_ISSUER)
        matched = self._table.match(method, unquote(raw_path))
        request_body = _request_body(environ)
        if matched is None:
            return _Answer(_gateway_error(*_NO_ROUTE))
        if request_body is not None and len(request_body) > MAX_PAYLOAD_BYTES:
            return _Answer(_gateway_error(*_TOO_LARGE))
        route, path_parameters = matched
        headers = _request_headers(environ)
        request = Request(
            method, raw_path, raw_query, {k.lower(): v for k, v in headers.items()}, request_body
        )
        verdict = self._authorizers.authorize(route.authorizer, request)
        if isinstance(verdict, Refused):
            refusal = _gateway_error(verdict.status, {"message": verdict.message})
            return _Answer(refusal, refusal_reason=verdict.reason)
        event = http_api_event(
            method,
            raw_path,
            route_key=route.route_key,
            raw_query=raw_query,
            headers=headers,
            body=request_body,
            path_parameters=path_parameters or None,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
            authorizer=verdict,
        )
        return self._invoke(route.function, event)

    def _local_issuer_document(self, method: str, raw_path: str) -> Response | None:
        """The local issuer's discovery document or JWKS, when it is on and asked for."""
        jwt_settings = self._authorizers.settings.jwt
        if method != "GET" or jwt_settings is None or jwt_settings.local_key_dir is None:
            return None
        if raw_path == dev_issuer.DISCOVERY_PATH:
            document = dev_issuer.discovery_document(jwt_settings.issuer)
        elif raw_path == dev_issuer.JWKS_PATH:
            document = dev_issuer.jwks(jwt_settings.local_key_dir)
        else:
            return None
        return 200, [("Content-Type", "application/json")], json.dumps(document).encode()

    def _invoke(self, function: Function, event: dict[str, Any]) -> _Answer:
        served_by = function.logical_id
        try:
            # Importing it is the cold start: a failure there (a setting the
            # function refuses) is a failed invocation too.
            handler, cold = self._functions.get(function)
            context = LocalLambdaContext(function.logical_id, timeout_seconds=function.timeout)
            served_by += " (cold start)" if cold else ""
            return _Answer(to_http_response(handler(event, context)), served_by)
        except Exception as error:  # a crashed invocation, as Lambda reports it
            self._log(f"{function.logical_id} raised {type(error).__name__}: {error}")
            return _Answer(_gateway_error(*_FUNCTION_FAILED), served_by)


def outcome(status: int, body: bytes) -> str:
    """What the console says of a response: an error's own words, else the status phrase.

    The words are the contract's `error` field, or API Gateway's `message`.
    """
    if status >= 400 and (words := _error_text(body)):
        return textwrap.shorten(words, _MAX_OUTCOME_CHARS, placeholder="…")
    return _reason(status)


def _error_text(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None
    if not isinstance(parsed, dict):
        return None
    for key in ("error", "message"):
        if isinstance(words := parsed.get(key), str) and words.strip():
            return words
    return None


def _gateway_error(status: int, body: dict[str, str]) -> Response:
    # Byte for byte as API Gateway writes it: compact JSON.
    payload = json.dumps(body, separators=(",", ":")).encode()
    return status, [("Content-Type", "application/json")], payload


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-"): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-")] = environ[key]
    return headers


def _request_body(environ: dict[str, Any]) -> bytes | None:
    body: bytes = environ["wsgi.input"].read(MAX_PAYLOAD_BYTES + 1)
    return body or None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
