"""Migrations: the migrate handler, re-runs, concurrent runs, and edited files.

Each test gets an empty schema of its own (via search_path), so it migrates
from nothing without disturbing the tables the other tests use.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from appointments import migrations
from appointments.settings import get_settings
from local.lambda_context import LocalLambdaContext
from tests.conftest import DB_FOLDER, load_function

MIGRATIONS = migrations.load_migrations(DB_FOLDER / "migrations")
VERSIONS = [migration.version for migration in MIGRATIONS]


def applied_versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [version for (version,) in rows]


def migrate(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return migrations.apply_migrations(conn, MIGRATIONS)


def test_first_run_applies_every_file_in_order(empty_schema_url: str) -> None:
    assert migrate(empty_schema_url) == VERSIONS
    assert applied_versions(empty_schema_url) == VERSIONS


def test_a_second_run_is_a_no_op(empty_schema_url: str) -> None:
    migrate(empty_schema_url)
    assert migrate(empty_schema_url) == []
    assert applied_versions(empty_schema_url) == VERSIONS


def test_concurrent_runs_both_succeed_and_apply_each_file_once(empty_schema_url: str) -> None:
    results: list[list[str]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            with psycopg.connect(empty_schema_url, autocommit=True) as conn:
                start.wait()
                results.append(migrations.apply_migrations(conn, MIGRATIONS))
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert sorted(results, key=len) == [[], VERSIONS]
    assert applied_versions(empty_schema_url) == VERSIONS


def test_a_failing_file_rolls_back_and_records_nothing(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text(
        "CREATE TABLE half (id int); SELECT no_such_column FROM half;"
    )
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedColumn):
            migrations.apply_migrations(conn, migrations.load_migrations(tmp_path))
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        assert sorted(name for (name,) in tables) == ["good", "schema_migrations"]
    assert applied_versions(empty_schema_url) == ["0001_good.sql"]


def test_a_file_edited_after_it_was_applied_is_refused(
    empty_schema_url: str, tmp_path: Path
) -> None:
    migration = tmp_path / "0001_first.sql"
    migration.write_text("CREATE TABLE first (id int);")
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        migrations.apply_migrations(conn, migrations.load_migrations(tmp_path))
        migration.write_text("CREATE TABLE first (id bigint);")
        with pytest.raises(migrations.MigrationError, match=r"0001_first\.sql was changed"):
            migrations.apply_migrations(conn, migrations.load_migrations(tmp_path))


def test_the_migrate_handler_applies_and_seeds_on_request(
    empty_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_schema_url)
    get_settings.cache_clear()
    handler = load_function("migrate").handler
    try:
        first = handler({}, LocalLambdaContext(function_name="migrate"))
        second = handler({"seed": True}, LocalLambdaContext(function_name="migrate"))
        third = handler({"seed": True}, LocalLambdaContext(function_name="migrate"))
    finally:
        get_settings.cache_clear()

    assert first == {"applied": VERSIONS, "seeded": False}
    assert second == third == {"applied": [], "seeded": True}
    with psycopg.connect(empty_schema_url) as conn:
        users = conn.execute("SELECT id, name FROM users ORDER BY id").fetchall()
    assert users == [
        ("user_alice", "Alice"),
        ("user_bob", "Bob"),
        ("user_charlie", "Charlie"),
        ("user_dave", "Dave"),
    ]
