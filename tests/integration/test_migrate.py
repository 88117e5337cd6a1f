"""Migrations: the migrate handler, re-runs, concurrent runs, and edited files.

Each test gets an empty schema of its own (via search_path), so it migrates
from nothing without disturbing the tables the other tests use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from appointments.data import migrations
from appointments.platform.settings import get_settings
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
    # Each file applied by exactly one of them: usually one run does all, but
    # a no-transaction file runs outside the lock, and the other run may go on
    # from there.
    first, second = results
    assert sorted(first + second) == VERSIONS
    assert first == sorted(first) and second == sorted(second)
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


def session_state(conn: psycopg.Connection) -> tuple[object, ...]:
    """The settings and advisory locks this session would carry into its next use."""
    row = conn.execute(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
        " (SELECT count(*) FROM pg_locks"
        "   WHERE locktype = 'advisory' AND pid = pg_backend_pid())"
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_bounded_run_leaves_the_session_as_it_found_it(empty_schema_url: str) -> None:
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        before = session_state(conn)
        applied = migrations.apply_migrations(conn, MIGRATIONS, deadline=time.monotonic() + 30)
        assert applied == VERSIONS
        assert session_state(conn) == before


def test_a_failing_file_surfaces_its_own_error_and_leaves_nothing_of_it(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text(
        "CREATE TABLE half (id int);\nINSERT INTO good VALUES (1);\nSELECT 1 / 0;\n"
    )
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        before = session_state(conn)
        with pytest.raises(psycopg.errors.DivisionByZero) as raised:
            migrations.apply_migrations(
                conn, migrations.load_migrations(tmp_path), deadline=time.monotonic() + 30
            )
        assert "0002_bad.sql" in " ".join(getattr(raised.value, "__notes__", []))
        assert tables(conn) == ["good", "schema_migrations"]
        assert conn.execute("SELECT count(*) FROM good").fetchone() == (0,)
        assert session_state(conn) == before
    assert applied_versions(empty_schema_url) == ["0001_good.sql"]


def tables(conn: psycopg.Connection) -> list[str]:
    found = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return sorted(name for (name,) in found)


def test_a_file_with_its_own_commit_is_refused_before_anything_runs(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_commits.sql").write_text(
        "CREATE TABLE first_half (id int);\nCOMMIT;\nCREATE TABLE second_half (id int);\n"
    )
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        with pytest.raises(migrations.MigrationError, match=r"0002_commits\.sql.*COMMIT"):
            migrations.apply_migrations(conn, migrations.load_migrations(tmp_path))
        assert tables(conn) == ["schema_migrations"]
    assert applied_versions(empty_schema_url) == []


def test_a_plpgsql_function_with_begin_and_end_is_applied(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_function.sql").write_text(
        "CREATE FUNCTION twice(n int) RETURNS int LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    RETURN n * 2;\n"
        "END;\n"
        "$$;\n"
        "-- An SQL-standard body: its semicolons belong to the function.\n"
        "CREATE FUNCTION thrice(n int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n"
        "    SELECT CASE WHEN n IS NULL THEN 0 ELSE n * 3 END;\n"
        "END;\n"
    )
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        assert migrations.apply_migrations(conn, migrations.load_migrations(tmp_path)) == [
            "0001_function.sql"
        ]
        assert conn.execute("SELECT twice(21), thrice(2)").fetchone() == (42, 6)


def test_a_concurrent_index_file_is_applied_recorded_and_then_skipped(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_table.sql").write_text("CREATE TABLE visits (day date);")
    (tmp_path / "0002_index.sql").write_text(
        "-- migrate: no-transaction\n"
        "-- CONCURRENTLY cannot run in a transaction; IF NOT EXISTS makes a re-run safe.\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS visits_by_day ON visits (day);\n"
    )
    wanted = migrations.load_migrations(tmp_path)
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        before = session_state(conn)
        first = migrations.apply_migrations(conn, wanted, deadline=time.monotonic() + 30)
        second = migrations.apply_migrations(conn, wanted, deadline=time.monotonic() + 30)
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'visits_by_day'::regclass"
        ).fetchone()
        assert session_state(conn) == before
    assert first == ["0001_table.sql", "0002_index.sql"]
    assert second == []
    assert valid == (True,)
    assert applied_versions(empty_schema_url) == ["0001_table.sql", "0002_index.sql"]


def test_a_no_transaction_file_with_two_statements_is_refused_before_anything_runs(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_table.sql").write_text("CREATE TABLE visits (day date);")
    (tmp_path / "0002_two.sql").write_text(
        "-- migrate: no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON visits (day);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON visits (day);\n"
    )
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        with pytest.raises(migrations.MigrationError, match=r"0002_two\.sql.*one statement"):
            migrations.apply_migrations(conn, migrations.load_migrations(tmp_path))
        assert tables(conn) == ["schema_migrations"]


def test_a_lock_held_past_the_deadline_ends_the_run_at_the_deadline(
    empty_schema_url: str,
) -> None:
    with (
        psycopg.connect(empty_schema_url) as holder,
        psycopg.connect(empty_schema_url, autocommit=True) as conn,
    ):
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (migrations.ADVISORY_LOCK_KEY,))
        before = session_state(conn)
        started = time.monotonic()
        with pytest.raises(
            migrations.OutOfTime, match="out of time reading which migrations are applied"
        ):
            migrations.apply_migrations(conn, MIGRATIONS, deadline=started + 1.0)
        elapsed = time.monotonic() - started
        assert session_state(conn) == before
        holder.rollback()
        assert tables(conn) == []
    assert 0.95 < elapsed < 1.5


def test_a_no_transaction_file_waits_for_an_index_build_in_progress(
    empty_schema_url: str, tmp_path: Path
) -> None:
    """Started beside another CREATE INDEX CONCURRENTLY, it would deadlock with it."""
    (tmp_path / "0001_table.sql").write_text("CREATE TABLE t (a int, b int);")
    (tmp_path / "0002_index.sql").write_text(
        # Partial, like 0004: a plain index's build is one that other builds
        # know not to wait for (PostgreSQL 14+), so it could not deadlock.
        "-- migrate: no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_b ON t (b) WHERE b > 0;"
    )
    files = migrations.load_migrations(tmp_path)
    migrate_files(empty_schema_url, files[:1])
    failures: list[BaseException] = []
    with (
        psycopg.connect(empty_schema_url) as writer,
        psycopg.connect(empty_schema_url, autocommit=True) as builder,
        psycopg.connect(empty_schema_url, autocommit=True) as observer,
    ):
        # Another session's build, held early on: it waits for this write to end.
        writer.execute("INSERT INTO t VALUES (1, 1)")

        def build() -> None:
            try:
                builder.execute("CREATE INDEX CONCURRENTLY t_a ON t (a)")
            except BaseException as error:  # reported below
                failures.append(error)

        def run() -> None:
            try:
                migrate_files(empty_schema_url, files)
            except BaseException as error:  # reported below
                failures.append(error)

        other_build = threading.Thread(target=build)
        other_build.start()
        wait_for(lambda: builds_in_progress(observer) == 1)
        migrating = threading.Thread(target=run)
        migrating.start()
        time.sleep(1.5)  # past deadlock_timeout
        assert migrating.is_alive() and builds_in_progress(observer) == 1
        # The other build goes on: had the run started its own, each would now
        # wait for the other, and PostgreSQL would cancel the one building.
        writer.rollback()
        other_build.join(10)
        migrating.join(10)

        assert failures == []
        assert applied_versions(empty_schema_url) == [m.version for m in files]
        invalid = observer.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        assert invalid.fetchone() == (0,)


def migrate_files(url: str, files: list[migrations.Migration]) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return migrations.apply_migrations(conn, files)


def builds_in_progress(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM pg_stat_progress_create_index").fetchone()
    return int(row[0]) if row else 0


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.02)
