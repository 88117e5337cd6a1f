"""The migrate function as a CloudFormation custom resource.

A local HTTP server stands in for the pre-signed ResponseURL and records what
CloudFormation would receive.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from appointments.data import migrations
from appointments.platform import redaction
from appointments.platform.settings import get_settings
from local.lambda_context import LocalLambdaContext
from tests.conftest import load_function

REPO = Path(__file__).resolve().parents[2]


class ResponseUrl:
    """Records each PUT CloudFormation's ResponseURL would receive."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.raw: list[bytes] = []
        received, raw = self.received, self.raw

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                raw.append(body)
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
    assert body["Reason"] == "nothing to apply"  # the session fixture migrated already
    assert body["Data"] == {"AppliedCount": "0", "LastApplied": ""}


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


def version_arn(number: int, function: str = "appointments-MigrateFunction-Ab12") -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:{function}:{number}"


def broken_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the function at SQL that fails: any run of the migrations answers FAILED."""
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_broken.sql").write_text("CREATE TABLE oops (;")
    monkeypatch.setattr(load_function("migrate"), "DB_FOLDER", tmp_path)


def test_a_rollback_to_an_older_version_answers_success_without_migrating(
    database_url: str,
    response_url: ResponseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stdout_json: Callable[[], list[dict[str, Any]]],
) -> None:
    broken_migrations(tmp_path, monkeypatch)
    event = cloudformation_event(
        "Update",
        response_url.url,
        PhysicalResourceId="database-migrations",
        ResourceProperties={"MigrationsVersion": version_arn(6)},
        OldResourceProperties={"MigrationsVersion": version_arn(7)},
    )
    result = invoke_migrate(event)

    body = response_url.only_body()
    assert result["status"] == body["Status"] == "SUCCESS"
    assert body["Reason"] == (
        "rollback from version 7 to 6: migrations are forward-only, nothing was run"
    )
    assert body["PhysicalResourceId"] == "database-migrations"
    logged = [line for line in stdout_json() if line.get("message", "").startswith("rollback")]
    assert [(line["level"], line["from_version"], line["to_version"]) for line in logged] == [
        ("WARNING", 7, 6)
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (version_arn(6), version_arn(7)),  # an ordinary deploy
        (version_arn(7, "old-function"), version_arn(1)),  # a new function counts from 1
        ("not a version", version_arn(1)),
    ],
)
def test_an_update_that_is_not_a_rollback_migrates(
    database_url: str,
    response_url: ResponseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    old: str,
    new: str,
) -> None:
    broken_migrations(tmp_path, monkeypatch)
    event = cloudformation_event(
        "Update",
        response_url.url,
        ResourceProperties={"MigrationsVersion": new},
        OldResourceProperties={"MigrationsVersion": old},
    )
    invoke_migrate(event)
    body = response_url.only_body()
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("migrations failed: SyntaxError")


def test_eighty_files_applied_at_once_fit_in_the_answer(
    empty_schema_url: str,
    response_url: ResponseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    # Ours first (every successful run writes the default shop, in their
    # tables), then as many more as make eighty.
    ours = sorted((REPO / "db" / "migrations").glob("*.sql"))
    for migration in ours:
        (folder / migration.name).write_text(migration.read_text())
    for number in range(len(ours) + 1, 81):
        name = f"{number:04d}_create_the_table_for_feature_number_{number}_of_the_roadmap.sql"
        (folder / name).write_text(f"CREATE TABLE feature_{number} (id int);")
    monkeypatch.setattr(load_function("migrate"), "DB_FOLDER", tmp_path)
    monkeypatch.setenv("DATABASE_URL", empty_schema_url)
    get_settings.cache_clear()
    try:
        result = invoke_migrate(cloudformation_event("Create", response_url.url))
    finally:
        get_settings.cache_clear()

    body = response_url.only_body()
    assert len(response_url.raw[0]) <= 4096
    assert result["status"] == body["Status"] == "SUCCESS"
    last = "0080_create_the_table_for_feature_number_80_of_the_roadmap.sql"
    assert body["Data"] == {"AppliedCount": "80", "LastApplied": last}
    assert body["Reason"] == f"applied 80 files, the last {last}"


def test_a_huge_non_ascii_error_is_trimmed_to_fit_on_a_character_boundary(
    database_url: str,
    response_url: ResponseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "migrations").mkdir()
    # Two-, three- and four-byte characters, far more than 4 KiB of them; the
    # exception rolls back, so the shared database is safe to point at.
    (tmp_path / "migrations" / "0001_loud.sql").write_text(
        "DO $$ BEGIN RAISE EXCEPTION '%', repeat('é€😀 ', 5000); END $$;"
    )
    monkeypatch.setattr(load_function("migrate"), "DB_FOLDER", tmp_path)
    result = invoke_migrate(cloudformation_event("Update", response_url.url))

    raw = response_url.raw[0]
    body = json.loads(raw.decode("utf-8"))  # strict: a cut character would not decode
    assert len(raw) <= 4096
    assert len(raw) > 4000  # trimmed to the budget, not to a character count
    assert result["status"] == body["Status"] == "FAILED"
    assert body["Reason"].startswith("migrations failed: RaiseException: é€😀 é€😀")
    assert body["Reason"].endswith("...")


def test_a_password_in_an_error_reaches_neither_the_answer_nor_the_log(
    database_url: str,
    response_url: ResponseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stdout_json: Callable[[], list[dict[str, Any]]],
) -> None:
    password = "hunter2-correct-horse"
    redaction.register(password)
    (tmp_path / "migrations").mkdir()
    # The server quotes the bad value back, as libpq quotes a mangled URL.
    (tmp_path / "migrations" / "0001_leaky.sql").write_text(f"SELECT '{password}'::int;")
    monkeypatch.setattr(load_function("migrate"), "DB_FOLDER", tmp_path)
    try:
        result = invoke_migrate(cloudformation_event("Update", response_url.url))
    finally:
        redaction.forget_all()

    body = response_url.only_body()
    logged = json.dumps(stdout_json())
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("migrations failed: InvalidTextRepresentation")
    for text in (body["Reason"], result["reason"], logged):
        assert "***" in text
        assert "correct" not in text and "hunter2" not in text


def test_a_run_past_its_budget_stops_at_the_deadline_and_answers_failed(
    empty_schema_url: str,
    response_url: ResponseUrl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_quick.sql").write_text("CREATE TABLE quick (id int);")
    # Each statement alone is well inside the budget; together they are not.
    (folder / "0002_slow.sql").write_text("SELECT pg_sleep(0.8);\n" * 3)
    app = load_function("migrate")
    monkeypatch.setattr(app, "DB_FOLDER", tmp_path)
    monkeypatch.setattr(app, "RESPONSE_MARGIN_MS", 1_000)
    monkeypatch.setenv("DATABASE_URL", empty_schema_url)
    get_settings.cache_clear()
    # Another run holds the lock for half the budget first.
    holder = psycopg.connect(empty_schema_url)
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (migrations.ADVISORY_LOCK_KEY,))
    release = threading.Timer(1.5, holder.commit)
    release.start()
    started = time.monotonic()
    try:
        context = LocalLambdaContext("migrate", timeout_seconds=4)  # 3 s of budget
        result = app.handler(cloudformation_event("Create", response_url.url), context)
    finally:
        elapsed = time.monotonic() - started
        release.join()
        holder.close()
        get_settings.cache_clear()

    body = response_url.only_body()
    assert result["status"] == body["Status"] == "FAILED"
    assert body["Reason"] == (
        "migrations failed: OutOfTime: out of time applying 0002_slow.sql"
        " (1 file applied before it in this run, the last 0001_quick.sql)"
    )
    assert 2.9 < elapsed < 3.6
    with psycopg.connect(empty_schema_url) as conn:
        history = conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert history == [("0001_quick.sql",)]
