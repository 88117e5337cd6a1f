"""The migrate function as a CloudFormation custom resource.

A local HTTP server stands in for the pre-signed ResponseURL and records what
CloudFormation would receive.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from appointments.settings import get_settings
from local.lambda_context import LocalLambdaContext
from tests.conftest import load_function


class ResponseUrl:
    """Records each PUT CloudFormation's ResponseURL would receive."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/signed?X-Amz-Signature=abc"

    def only_body(self) -> dict[str, Any]:
        assert len(self.received) == 1
        return self.received[0][1]


@pytest.fixture
def response_url() -> Iterator[ResponseUrl]:
    recorder = ResponseUrl()
    thread = threading.Thread(target=recorder.server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.server.shutdown()


def cloudformation_event(request_type: str, response_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/appointments/1",
        "RequestId": f"request-{request_type}",
        "LogicalResourceId": "MigrationsOnDeploy",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"MigrationsVersion": "7"},
        **extra,
    }


def invoke_migrate(event: dict[str, Any]) -> dict[str, Any]:
    handler = load_function("migrate").handler
    result: dict[str, Any] = handler(event, LocalLambdaContext("migrate", timeout_seconds=120))
    return result


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_migrate_and_answer_success(
    database_url: str, response_url: ResponseUrl, request_type: str
) -> None:
    extra = {"PhysicalResourceId": "database-migrations"} if request_type == "Update" else {}
    result = invoke_migrate(cloudformation_event(request_type, response_url.url, **extra))

    headers, body = response_url.received[0]
    assert result["status"] == "SUCCESS"
    assert headers["Content-Type"] == ""  # what the pre-signed URL was signed for
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "database-migrations"
    assert body["StackId"].endswith("stack/appointments/1")
    assert body["RequestId"] == f"request-{request_type}"
    assert body["LogicalResourceId"] == "MigrationsOnDeploy"
    assert body["Reason"] == "applied: none"  # the session fixture migrated already


def test_a_failing_migration_answers_failed_with_the_reason(
    database_url: str,
    response_url: ResponseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_broken.sql").write_text("CREATE TABLE oops (;")
    # The broken file rolls back, so pointing at the shared database is safe.
    monkeypatch.setattr(load_function("migrate"), "DB_FOLDER", tmp_path)
    result = invoke_migrate(cloudformation_event("Update", response_url.url))

    body = response_url.only_body()
    assert result["status"] == "FAILED"
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("migrations failed: SyntaxError")


def test_an_unreachable_database_answers_failed_in_time(
    response_url: ResponseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql://app:secret-pw@127.0.0.1:1/db?connect_timeout=2"
    )
    get_settings.cache_clear()
    try:
        invoke_migrate(cloudformation_event("Create", response_url.url))
    finally:
        get_settings.cache_clear()
    body = response_url.only_body()
    assert body["Status"] == "FAILED"
    assert "OperationalError" in body["Reason"]
    assert "secret-pw" not in body["Reason"]


def test_delete_answers_success_without_touching_the_database(
    response_url: ResponseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    get_settings.cache_clear()
    try:
        event = cloudformation_event(
            "Delete", response_url.url, PhysicalResourceId="database-migrations"
        )
        result = invoke_migrate(event)
    finally:
        get_settings.cache_clear()
    body = response_url.only_body()
    assert result["status"] == body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "database-migrations"
