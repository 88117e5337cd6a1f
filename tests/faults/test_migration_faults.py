"""A migration that fails halfway leaves nothing behind, and the next good run goes through."""

from pathlib import Path

import psycopg
import pytest

from appointments import migrations


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
