"""Apply the numbered SQL files in db/migrations, each once, in order.

Used by the migrate Lambda and by `make migrate`; the same code runs in both.
Safe to run concurrently (a second run waits on an advisory lock, then finds
nothing to do) and to re-run (applied files are recorded and skipped).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

# Any constant works as long as nothing else in the database uses it; this one
# is the ASCII for "appt-mig".
_LOCK_KEY = 0x617070742D6D6967

_CREATE_HISTORY = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""


class MigrationError(RuntimeError):
    """The migration files and the database disagree; a person must look."""


@dataclass(frozen=True)
class Migration:
    version: str  # the file name, e.g. 0001_create_users_and_bookings.sql
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    """The .sql files of `directory`, in the order their numbered names give."""
    files = sorted(directory.glob("*.sql"))
    if not files:
        raise MigrationError(f"no migrations found in {directory}")
    return [Migration(path.name, path.read_text(encoding="utf-8")) for path in files]


def apply_migrations(conn: psycopg.Connection, migrations: list[Migration]) -> list[str]:
    """Apply what is not yet applied, each file in its own transaction; return their versions.

    `conn` must be in autocommit mode: the advisory lock is held by the session
    across the per-file transactions.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(_CREATE_HISTORY)
        applied: dict[str, str] = dict(
            conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
        )
        newly_applied = []
        for migration in migrations:
            if migration.version in applied:
                _check_unchanged(migration, applied[migration.version])
                continue
            with conn.transaction():
                conn.execute(migration.sql)  # a trusted file of ours, several statements
                conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                    (migration.version, migration.checksum),
                )
            newly_applied.append(migration.version)
        return newly_applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _check_unchanged(migration: Migration, recorded_checksum: str) -> None:
    if migration.checksum != recorded_checksum:
        raise MigrationError(
            f"{migration.version} was changed after it was applied; add a new migration instead"
        )


def apply_seed(conn: psycopg.Connection, seed_file: Path) -> None:
    """Load the development users. Idempotent; only ever run when asked for."""
    with conn.transaction():
        conn.execute(seed_file.read_text(encoding="utf-8"))


def store_statement_timeout(conn: psycopg.Connection, milliseconds: int) -> None:
    """Make `milliseconds` the statement_timeout of every new session on this database.

    Stored on the database rather than sent per connection: startup options
    are refused by Neon's pooler, and a SET pins the session to one backend in
    RDS Proxy. Needs the database's owner, which migrations run as.
    """
    (name,) = conn.execute("SELECT current_database()").fetchone() or ("",)
    conn.execute(
        sql.SQL("ALTER DATABASE {} SET statement_timeout = {}").format(
            sql.Identifier(name), sql.Literal(f"{milliseconds}ms")
        )
    )


def bound_session(conn: psycopg.Connection, milliseconds: int) -> None:
    """Give up on any statement or lock wait longer than `milliseconds` in this session.

    The migrate function must answer (CloudFormation waits for it) before
    Lambda kills it, so its own work is bounded by the time it has left.
    """
    for setting in ("statement_timeout", "lock_timeout"):
        conn.execute(
            sql.SQL("SET {} = {}").format(sql.Identifier(setting), sql.Literal(f"{milliseconds}ms"))
        )
