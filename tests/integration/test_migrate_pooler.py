"""Migrations through a transaction pooler: PgBouncer in transaction mode, Neon's, RDS Proxy.

Such a pooler lends a server connection for one transaction, or for one
statement outside a transaction, and may lend another one next time. A
session advisory lock or a session SET lands on whichever server connection
was lent, and stays there for the next client. `TransactionPooler` imitates
that with real server connections to the test database, handed out in turn.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from appointments.data import migrations
from appointments.platform.settings import get_settings
from local.lambda_context import LocalLambdaContext
from tests.conftest import DB_FOLDER, load_function
from tests.integration.test_migrate import session_state

MIGRATIONS = migrations.load_migrations(DB_FOLDER / "migrations")
VERSIONS = [migration.version for migration in MIGRATIONS]


class TransactionPooler:
    """The part of psycopg.Connection the migrations use, served by several backends in turn."""

    autocommit = True

    def __init__(self, url: str, servers: int = 3) -> None:
        self.servers = [psycopg.connect(url, autocommit=True) for _ in range(servers)]
        self._next = itertools.cycle(self.servers)
        self._lent: psycopg.Connection | None = None

    def execute(self, query: Any, params: Any = None) -> psycopg.Cursor[Any]:
        server = self._lent or next(self._next)
        return server.execute(query, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        server = next(self._next)
        with server.transaction():
            self._lent = server
            try:
                yield
            finally:
                self._lent = None

    def cancel_safe(self, timeout: float = 30.0) -> None:
        for server in self.servers:
            server.cancel_safe(timeout=timeout)

    def __enter__(self) -> TransactionPooler:
        return self

    def __exit__(self, *_: object) -> None:
        """The client goes away; the pooler keeps its server connections for the next one."""

    def close(self) -> None:
        for server in self.servers:
            server.close()


@pytest.fixture
def pooler(empty_schema_url: str) -> Iterator[TransactionPooler]:
    pooled = TransactionPooler(empty_schema_url)
    yield pooled
    pooled.close()


def test_a_run_through_a_transaction_pooler_leaves_no_lock_on_any_backend(
    pooler: TransactionPooler,
) -> None:
    before = [session_state(server) for server in pooler.servers]

    applied = migrations.apply_migrations(pooler, MIGRATIONS)  # type: ignore[arg-type]

    assert applied == VERSIONS
    assert [session_state(server) for server in pooler.servers] == before


def test_the_migrate_handler_through_a_pooler_leaves_no_setting_or_lock_behind(
    pooler: TransactionPooler, empty_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_function("migrate")
    monkeypatch.setattr(app.database, "connect", lambda url, connect_timeout: pooler)
    monkeypatch.setenv("DATABASE_URL", empty_schema_url)
    get_settings.cache_clear()
    before = [session_state(server) for server in pooler.servers]
    try:
        result = app.handler({}, LocalLambdaContext("migrate", timeout_seconds=120))
    finally:
        get_settings.cache_clear()

    assert result == {"applied": VERSIONS, "seeded": False}
    assert [session_state(server) for server in pooler.servers] == before


def test_a_failed_run_through_a_pooler_leaves_no_lock_either(
    pooler: TransactionPooler, tmp_path: Path
) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("SELECT 1 / 0;")
    before = [session_state(server) for server in pooler.servers]

    with pytest.raises(psycopg.errors.DivisionByZero):
        migrations.apply_migrations(pooler, migrations.load_migrations(tmp_path))  # type: ignore[arg-type]

    assert [session_state(server) for server in pooler.servers] == before
