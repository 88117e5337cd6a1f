"""`make dev`'s API documentation: GET /openapi.json, and a Swagger UI page at /docs.

A WSGI wrapper around the local gateway: these few paths are answered here,
everything else goes to the gateway as before. Swagger UI's files come from
the swagger-ui-bundle-v2 package and are served by this server, so the page
works offline (no CDN). Only `make dev` has these paths; the deployed API has
no such routes (a route of the template with one of these paths would be
shadowed locally).
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Not local.openapi's constant: importing that module would load pydantic and
# the layer into gunicorn's master, and every worker would fork with them
# already imported, hiding the functions' cold starts.
DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "openapi.json"
DOCUMENT_URL = "/openapi.json"
DOCS_URL = "/docs"
ASSETS = Path(str(swagger_ui_path))

# No inline script: the page's own initializer is served from /docs/ too.
_PAGE = b"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Appointment booking API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/start.js"></script>
</body>
</html>
"""
_START = b"""window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,  // never ask validator.swagger.io: the page stays offline
});
"""


def with_api_docs(gateway: WsgiApp, log: Callable[[str], None]) -> WsgiApp:
    """`gateway`, with /openapi.json and /docs answered in front of it."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ["REQUEST_METHOD"] != "GET" or not _is_docs_path(path):
            return gateway(environ, start_response)
        started = time.perf_counter()
        status, content_type, body = _docs_answer(path)
        start_response(status, [("Content-Type", content_type), ("Cache-Control", "no-cache")])
        log(f"GET {path} {status} {(time.perf_counter() - started) * 1000:.1f}ms api-docs")
        return [body]

    return app


def _is_docs_path(path: str) -> bool:
    return path in (DOCUMENT_URL, DOCS_URL, DOCS_URL + "/") or path.startswith(DOCS_URL + "/")


def _docs_answer(path: str) -> tuple[str, str, bytes]:
    """Status line, content type and body for one of the documentation's paths."""
    if path == DOCUMENT_URL:
        # Read on each request: a `make openapi` shows without a restart.
        return "200 OK", "application/json", DOCUMENT_PATH.read_bytes()
    name = path.removeprefix(DOCS_URL).strip("/")
    if name in ("", "index.html"):
        return "200 OK", "text/html; charset=utf-8", _PAGE
    if name == "start.js":
        return "200 OK", "text/javascript", _START
    asset = _asset(name)
    if asset is None:
        return "404 Not Found", "application/json", b'{"message":"Not Found"}'
    content_type = mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
    return "200 OK", content_type, asset.read_bytes()


def _asset(name: str) -> Path | None:
    """Swagger UI's file of that name; only a plain file name of the bundle, never a path."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    candidate = ASSETS / name
    return candidate if candidate.is_file() else None
