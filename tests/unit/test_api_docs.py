"""make dev's /openapi.json and /docs: answered in front of the gateway, offline."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from local import api_docs


class RecordingGateway:
    """Stands in for local.gateway.Gateway: says which requests reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.paths.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


def get(path: str, method: str = "GET") -> tuple[str, dict[str, str], bytes, RecordingGateway]:
    gateway = RecordingGateway()
    app = api_docs.with_api_docs(gateway, log=lambda line: None)
    answered: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answered.update(status=status, headers=dict(headers))

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    body = b"".join(app(environ, start_response))
    return answered["status"], answered["headers"], body, gateway


def test_openapi_json_is_the_committed_document() -> None:
    status, headers, body, gateway = get("/openapi.json")
    assert (status, headers["Content-Type"]) == ("200 OK", "application/json")
    assert body == api_docs.DOCUMENT_PATH.read_bytes()
    assert gateway.paths == []


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
def test_docs_page_loads_everything_from_this_server(path: str) -> None:
    status, headers, page, _ = get(path)
    assert (status, headers["Content-Type"]) == ("200 OK", "text/html; charset=utf-8")
    # Offline: every script and stylesheet is one of ours, none from a CDN.
    linked = re.findall(rb'(?:src|href)="([^"]+)"', page)
    assert linked and all(url.startswith(b"/docs/") for url in linked)
    for url in linked:
        assert get(url.decode())[0] == "200 OK", url


def test_swagger_ui_is_pointed_at_the_document() -> None:
    status, _, script, _ = get("/docs/start.js")
    assert status == "200 OK"
    assert b'url: "/openapi.json"' in script


@pytest.mark.parametrize("path", ["/docs/nope.js", "/docs/../openapi.json", "/docs/.hidden"])
def test_anything_else_under_docs_is_not_found(path: str) -> None:
    status, _, body, gateway = get(path)
    assert (status, body) == ("404 Not Found", b'{"message":"Not Found"}')
    assert gateway.paths == []


@pytest.mark.parametrize(("method", "path"), [("GET", "/slots"), ("POST", "/docs")])
def test_other_requests_go_to_the_gateway(method: str, path: str) -> None:
    *_, gateway = get(path, method)
    assert gateway.paths == [path]
