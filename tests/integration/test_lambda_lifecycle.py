"""Container lifecycle: SnapStart restores, and the database's own statement timeout."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

import psycopg
import pytest

from appointments.data import database, migrations
from tests.conftest import Invoke


def test_the_after_restore_hook_is_registered_where_the_runtime_offers_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[Callable[[], None]] = []
    runtime_module = types.ModuleType("snapshot_restore_py")
    runtime_module.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime_module)

    assert database.register_snapshot_hooks() is True
    assert registered == [database.discard_after_restore]


def test_without_the_runtime_library_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    assert database.register_snapshot_hooks() is False


def test_a_connection_captured_in_a_snapshot_is_dropped_on_restore(invoke: Invoke) -> None:
    assert invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")["statusCode"] == 200
    snapshotted = database.get_connection()
    snapshotted_pid = snapshotted.info.backend_pid

    database.discard_after_restore()  # what SnapStart calls in the restored container
    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")

    assert response["statusCode"] == 200
    assert database.get_connection() is not snapshotted
    assert database.get_connection().info.backend_pid != snapshotted_pid
    snapshotted.close()


def test_migrations_store_the_statement_timeout_on_the_database(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        migrations.store_statement_timeout(conn, 1234)
    try:
        # A new session, as the API's connections are, gets it with no SET and no option.
        with psycopg.connect(database_url) as fresh:
            assert fresh.execute("SHOW statement_timeout").fetchone() == ("1234ms",)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            migrations.store_statement_timeout(conn, 5000)
