"""A migration that fails halfway leaves nothing behind, and the next good run goes through."""

import time
from pathlib import Path

import psycopg
import pytest

from appointments.data import migrations


def tables(conn: psycopg.Connection) -> list[str]:
    found = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return sorted(name for (name,) in found)


def history(conn: psycopg.Connection) -> list[str]:
    found = conn.execute("SELECT version FROM schema_migrations ORDER BY version")
    return [version for (version,) in found]


def test_a_file_failing_halfway_rolls_back_and_a_fixed_run_then_succeeds(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_base.sql").write_text("CREATE TABLE base (id int PRIMARY KEY);")
    broken = tmp_path / "0002_halfway.sql"
    # The first statement works, the second fails: the first must not survive.
    broken.write_text(
        "CREATE TABLE extra (id int);\n"
        "INSERT INTO base VALUES (1);\n"
        "ALTER TABLE base ADD COLUMN note text NOT NULL DEFAULT no_such_function();\n"
    )
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            migrations.apply_migrations(conn, migrations.load_migrations(tmp_path))
        assert tables(conn) == ["base", "schema_migrations"]
        assert history(conn) == ["0001_base.sql"]
        assert conn.execute("SELECT count(*) FROM base").fetchone() == (0,)
        # No lock left behind: the advisory lock was released on failure.
        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert held == (0,)

        broken.write_text("CREATE TABLE extra (id int);\nINSERT INTO base VALUES (1);\n")
        applied = migrations.apply_migrations(conn, migrations.load_migrations(tmp_path))

        assert applied == ["0002_halfway.sql"]
        assert tables(conn) == ["base", "extra", "schema_migrations"]
        assert history(conn) == ["0001_base.sql", "0002_halfway.sql"]


def index_validity(conn: psycopg.Connection, name: str) -> tuple[bool, ...] | None:
    return conn.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
        (name,),
    ).fetchone()


def test_a_failed_concurrent_index_is_not_recorded_and_its_invalid_remains_are_named(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_visits.sql").write_text(
        "CREATE TABLE visits (day date);\n"
        "INSERT INTO visits VALUES ('2025-01-01'), ('2025-01-01');\n"
    )
    (tmp_path / "0002_unique_day.sql").write_text(
        "-- migrate: no-transaction\n"
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS visits_one_per_day ON visits (day);\n"
    )
    wanted = migrations.load_migrations(tmp_path)
    with psycopg.connect(empty_schema_url, autocommit=True) as conn:
        # The duplicate day fails the build, which leaves an INVALID index behind.
        with pytest.raises(psycopg.errors.UniqueViolation) as raised:
            migrations.apply_migrations(conn, wanted)
        notes = " ".join(getattr(raised.value, "__notes__", []))
        assert "0002_unique_day.sql" in notes
        assert "DROP INDEX CONCURRENTLY visits_one_per_day" in notes
        assert history(conn) == ["0001_visits.sql"]
        assert index_validity(conn, "visits_one_per_day") == (False,)

        # Fixing the data is not enough: IF NOT EXISTS would skip the invalid
        # index, so the run refuses to record the file rather than pass.
        conn.execute("DELETE FROM visits WHERE ctid <> (SELECT min(ctid) FROM visits)")
        with pytest.raises(
            migrations.MigrationError,
            match=r"0002_unique_day\.sql.*visits_one_per_day.*DROP INDEX CONCURRENTLY",
        ):
            migrations.apply_migrations(conn, wanted)
        assert history(conn) == ["0001_visits.sql"]

        conn.execute("DROP INDEX CONCURRENTLY visits_one_per_day")
        assert migrations.apply_migrations(conn, wanted) == ["0002_unique_day.sql"]
        assert history(conn) == ["0001_visits.sql", "0002_unique_day.sql"]
        assert index_validity(conn, "visits_one_per_day") == (True,)
        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert held == (0,)


def test_a_concurrent_index_cut_off_at_the_deadline_is_not_recorded_and_named(
    empty_schema_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_visits.sql").write_text("CREATE TABLE visits (day date);")
    (tmp_path / "0002_by_day.sql").write_text(
        "-- migrate: no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS visits_by_day ON visits (day);\n"
    )
    wanted = migrations.load_migrations(tmp_path)
    with (
        psycopg.connect(empty_schema_url, autocommit=True) as conn,
        psycopg.connect(empty_schema_url) as writer,
    ):
        migrations.apply_migrations(conn, wanted[:1])
        # An open writing transaction: the concurrent build waits for it to end.
        writer.execute("INSERT INTO visits VALUES ('2025-01-01')")
        started = time.monotonic()
        with pytest.raises(
            migrations.OutOfTime, match=r"out of time applying 0002_by_day\.sql"
        ) as raised:
            migrations.apply_migrations(conn, wanted, deadline=started + 1.0)
        elapsed = time.monotonic() - started
        writer.rollback()

        assert 0.95 < elapsed < 2.0
        notes = " ".join(getattr(raised.value, "__notes__", []))
        assert "DROP INDEX CONCURRENTLY visits_by_day" in notes
        assert history(conn) == ["0001_visits.sql"]
        assert index_validity(conn, "visits_by_day") == (False,)
