"""Apply the numbered SQL files in db/migrations, each once, in order.

Used by the migrate Lambda and by `make migrate`; the same code runs in both.
Migrations are forward-only: an applied file is recorded with its checksum and
never run again, and editing it afterwards is refused.

Safe behind a transaction pooler (PgBouncer in transaction mode, Neon's pooler,
RDS Proxy), which may serve each transaction from another server connection:
nothing outlives a transaction. Every transaction takes the advisory lock with
pg_advisory_xact_lock (released by its own COMMIT or ROLLBACK, on the server
connection that took it) and bounds itself with SET LOCAL; there is no session
lock to leak and no session SET for the next client to inherit. Concurrent runs
are safe: each transaction re-reads, under the lock, whether its file is still
unapplied, so a second run applies nothing that the first one did.

A run is one transaction that reads what is applied, then one transaction per
file not yet applied. Before any file runs, every one not yet applied is
checked: a normal file must not hold transaction control (BEGIN, COMMIT, ...):
it runs in a transaction of its own, and a COMMIT inside it would leave the file
half-applied and unrecorded.

A statement that cannot run in a transaction (CREATE INDEX CONCURRENTLY) goes
in a file of its own whose first line is `-- migrate: no-transaction`. It must
hold exactly one statement, runs in autocommit without the lock, and is
recorded afterwards, so the author must make it safe to run twice (IF NOT
EXISTS): a run that stops between the statement and its record runs it again.
A CREATE INDEX CONCURRENTLY that fails leaves an INVALID index behind, which
IF NOT EXISTS would then skip; so after such a file any invalid index of the
schema is refused by name rather than recorded: DROP INDEX CONCURRENTLY it and
run again. No SET LOCAL can reach a statement outside a transaction: it runs
under the database's default statement_timeout (see store_statement_timeout),
or the migrating role's own, and is cut off at the run's deadline.

A run may be given a deadline (a time.monotonic() value): every transaction
gets the time left as its statement and lock timeout, the run is cancelled when
it is reached, and it then raises OutOfTime. Without one, the session's own
timeouts apply.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from appointments.platform import watchdog

# Any constant works as long as nothing else in the database uses it; this one
# is the ASCII for "appt-mig". Public so that operators and tests can see who
# holds it (pg_locks: locktype 'advisory').
ADVISORY_LOCK_KEY = 0x617070742D6D6967
# Pause before looking again when a concurrent run builds the same index.
_CONCURRENT_BUILD_PAUSE_S = 0.2
_MAX_BUILD_ATTEMPTS = 10
_OTHER_INDEX_BUILDS = """
    SELECT count(*) FROM pg_stat_progress_create_index
    WHERE pid <> pg_backend_pid()
      AND datid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

_NO_TRANSACTION_MARKER = re.compile(r"--\s*migrate:\s*no-transaction\s*", re.IGNORECASE)

# A server-side timeout and the client's timer both fire at or after the
# deadline; this much earlier still counts as "at the deadline".
_DEADLINE_SLACK_S = 0.05

_CREATE_HISTORY = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""

# indisvalid is false both for an index whose concurrent build failed and for
# one another session is still building; pg_stat_progress_create_index tells
# the two apart.
_INVALID_INDEXES = """
    SELECT c.relname,
           EXISTS (SELECT FROM pg_stat_progress_create_index p
                   WHERE p.index_relid = i.indexrelid) AS building
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    WHERE NOT i.indisvalid AND c.relnamespace = current_schema()::regnamespace
    ORDER BY c.relname
"""


class MigrationError(RuntimeError):
    """The migration files and the database disagree; a person must look."""


class OutOfTime(MigrationError):
    """The run reached its deadline; what it had not finished is left for the next run."""


@dataclass(frozen=True)
class Migration:
    version: str  # the file name, e.g. 0001_create_users_and_bookings.sql
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def in_transaction(self) -> bool:
        """False for a file marked `-- migrate: no-transaction` on its first line."""
        first_line = self.sql.split("\n", 1)[0]
        return not _NO_TRANSACTION_MARKER.fullmatch(first_line.strip())


def load_migrations(directory: Path) -> list[Migration]:
    """The .sql files of `directory`, in the order their numbered names give."""
    files = sorted(directory.glob("*.sql"))
    if not files:
        raise MigrationError(f"no migrations found in {directory}")
    return [Migration(path.name, path.read_text(encoding="utf-8")) for path in files]


def apply_migrations(
    conn: psycopg.Connection, migrations: list[Migration], *, deadline: float | None = None
) -> list[str]:
    """Apply what is not yet applied, in order; return the versions this run applied.

    `conn` must be in autocommit mode: each transaction here is explicit, and a
    no-transaction file must run outside any.
    """
    if not conn.autocommit:
        raise ValueError("apply_migrations needs a connection in autocommit mode")
    with within_deadline(conn, deadline, "reading which migrations are applied"):
        applied = _read_applied(conn, deadline)
    pending = []
    for migration in migrations:
        if migration.version in applied:
            _check_unchanged(migration, applied[migration.version])
        else:
            pending.append(migration)
    for migration in pending:
        check_runnable(migration)
    newly_applied: list[str] = []
    for migration in pending:
        try:
            if _apply(conn, migration, deadline):
                newly_applied.append(migration.version)
        except Exception as error:
            # A note, not a new exception: the caller still sees the
            # database's own error (its type, its SQLSTATE), plus where.
            error.add_note(_so_far(migration, newly_applied, str(error)))
            raise
    return newly_applied


def _read_applied(conn: psycopg.Connection, deadline: float | None) -> dict[str, str]:
    """version -> checksum of every applied file; creates the history table on the first run."""
    with conn.transaction():
        # The table is created under the lock: two first runs racing on
        # CREATE TABLE IF NOT EXISTS could otherwise both try to create it.
        _lock(conn, deadline)
        conn.execute(_CREATE_HISTORY)
        rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return dict(rows)


def _apply(conn: psycopg.Connection, migration: Migration, deadline: float | None) -> bool:
    """Apply one file and record it; False if a concurrent run applied it first."""
    if migration.in_transaction:
        with within_deadline(conn, deadline, f"applying {migration.version}"), conn.transaction():
            if not _lock_and_check_unapplied(conn, migration, deadline):
                return False
            conn.execute(migration.sql)  # a trusted file of ours, several statements
            _record(conn, migration)
        return True
    for attempt in range(_MAX_BUILD_ATTEMPTS):
        with within_deadline(conn, deadline, f"applying {migration.version}"), conn.transaction():
            if not _lock_and_check_unapplied(conn, migration, deadline):
                return False
        _wait_for_other_index_builds(conn, migration, deadline)
        try:
            _run_outside_transaction(conn, migration, deadline)
            break
        except psycopg.errors.DeadlockDetected:
            # Two runs started the same build at the same instant (or another
            # build began meanwhile): each waits for the other's transaction.
            # PostgreSQL cancelled this one; if it had not built anything yet,
            # looking again finds the file applied, or waits its turn. If it
            # had, the INVALID index it left is refused below, by name.
            if attempt == _MAX_BUILD_ATTEMPTS - 1:
                raise
            time.sleep(_CONCURRENT_BUILD_PAUSE_S)
    with within_deadline(conn, deadline, f"recording {migration.version}"), conn.transaction():
        if not _lock_and_check_unapplied(conn, migration, deadline):
            return False
        _refuse_invalid_indexes(conn, migration)
        _record(conn, migration)
    return True


def _wait_for_other_index_builds(
    conn: psycopg.Connection, migration: Migration, deadline: float | None
) -> None:
    """Wait while another session builds an index in this database.

    Two CREATE INDEX CONCURRENTLY each wait for the other's transactions: run
    side by side on one table they deadlock, and PostgreSQL cancels one of
    them, the one building if its build took longer than deadlock_timeout,
    leaving an INVALID index. So a run reaching a no-transaction file while
    another run is still building (the same file, most likely) waits for it,
    polling in short statements that hold no snapshot the other would wait for.
    """
    while conn.execute(_OTHER_INDEX_BUILDS).fetchone() != (0,):
        if deadline is not None and seconds_left(deadline) <= _CONCURRENT_BUILD_PAUSE_S:
            raise OutOfTime(f"out of time waiting for another index build, at {migration.version}")
        time.sleep(_CONCURRENT_BUILD_PAUSE_S)


def _run_outside_transaction(
    conn: psycopg.Connection, migration: Migration, deadline: float | None
) -> None:
    try:
        with within_deadline(conn, deadline, f"applying {migration.version}"):
            conn.execute(migration.sql)
    except (psycopg.Error, OutOfTime) as error:
        if isinstance(error, psycopg.errors.QueryCanceled):
            error.add_note(
                "if by statement_timeout: outside a transaction no SET LOCAL applies, so"
                " the database's default does; a role's own setting overrides it"
                " (ALTER ROLE <migrating role> SET statement_timeout = ...)"
            )
        _note_invalid_indexes(conn, error)
        raise


def _lock(conn: psycopg.Connection, deadline: float | None) -> None:
    """Bound this transaction by the deadline, then wait for the migrations lock.

    Two statements: lock_timeout must be in force before the lock is waited for.
    """
    if deadline is not None:
        left = f"{max(1, math.ceil(seconds_left(deadline) * 1000))}ms"
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true),"
            " set_config('lock_timeout', %s, true)",
            (left, left),
        )
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))


def _lock_and_check_unapplied(
    conn: psycopg.Connection, migration: Migration, deadline: float | None
) -> bool:
    """Take the lock, then say whether `migration` is still unapplied.

    The check is a statement of its own, after the lock: a statement sees the
    database as it was when it started, before any wait for the lock, and a
    run holding the lock meanwhile may just have applied this very file.
    """
    _lock(conn, deadline)
    row = conn.execute(
        "SELECT checksum FROM schema_migrations WHERE version = %s", (migration.version,)
    ).fetchone()
    if row is None:
        return True
    _check_unchanged(migration, row[0])
    return False


def _record(conn: psycopg.Connection, migration: Migration) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
        (migration.version, migration.checksum),
    )


def _refuse_invalid_indexes(conn: psycopg.Connection, migration: Migration) -> None:
    invalid = conn.execute(_INVALID_INDEXES).fetchall()
    if invalid:
        raise MigrationError(f"{migration.version} is not recorded: {_describe_invalid(invalid)}")


def _note_invalid_indexes(conn: psycopg.Connection, error: BaseException) -> None:
    """Add to `error` the invalid indexes a failed no-transaction file left, if any.

    Only a note: if the connection cannot answer, the original error is what
    matters, so that failure is ignored rather than raised in its place.
    """
    try:
        with watchdog.cancel_after(conn, 2.0):
            invalid = conn.execute(_INVALID_INDEXES).fetchall()
    except psycopg.Error:
        return
    if invalid:
        error.add_note(_describe_invalid(invalid))


def _describe_invalid(invalid: list[tuple[str, bool]]) -> str:
    parts = []
    for name, building in invalid:
        if building:
            parts.append(f"index {name} is still being built by another session; run again later")
        else:
            parts.append(
                f"index {name} is INVALID (a concurrent build failed);"
                f" DROP INDEX CONCURRENTLY {name}, then run the migrations again"
            )
    return "; ".join(parts)


def _check_unchanged(migration: Migration, recorded_checksum: str) -> None:
    if migration.checksum != recorded_checksum:
        raise MigrationError(
            f"{migration.version} was changed after it was applied; add a new migration instead"
        )


def _so_far(migration: Migration, newly_applied: list[str], message: str) -> str:
    """Where a run stopped: in which file, after how many."""
    where = "" if migration.version in message else f"in {migration.version}; "
    count = len(newly_applied)
    files = "file" if count == 1 else "files"
    last = f", the last {newly_applied[-1]}" if newly_applied else ""
    return f"({where}{count} {files} applied before it in this run{last})"


def seconds_left(deadline: float) -> float:
    return deadline - time.monotonic()


@contextmanager
def within_deadline(conn: psycopg.Connection, deadline: float | None, doing: str) -> Iterator[None]:
    """Run the block within `deadline`: refuse to start past it, cancel it there, say so.

    `doing` completes "out of time ..." in the OutOfTime raised.
    """
    if deadline is None:
        yield
        return
    left = seconds_left(deadline)
    if left <= 0:
        raise OutOfTime(f"out of time before {doing}")
    try:
        with watchdog.cancel_after(conn, left):
            yield
    except (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable) as error:
        if seconds_left(deadline) > _DEADLINE_SLACK_S:
            raise  # a timeout of the migration's own, not the deadline
        _end_aborted_transaction(conn)
        raise OutOfTime(f"out of time {doing}") from error


def _end_aborted_transaction(conn: psycopg.Connection) -> None:
    """Leave `conn` idle after the deadline, as it was before the run.

    The server's lock or statement timeout and the watchdog's cancel both fire
    at the deadline: when the timeout wins, the cancel can reach the server
    during the ROLLBACK that follows it, which then fails and leaves the
    transaction open and aborted. A cancel acts once, so a second ROLLBACK ends it.
    """
    for _ in range(2):
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
            return
        with suppress(psycopg.errors.QueryCanceled):
            conn.rollback()


def check_runnable(migration: Migration) -> None:
    """Refuse, before anything runs, a file that would be applied only in part.

    Raises MigrationError naming the file.
    """
    statements = _statements(migration.sql)
    for words in statements:
        if control := _transaction_control(words):
            raise MigrationError(
                f"{migration.version}: {control} is transaction control, which a"
                " migration may not hold: each file runs in a transaction of its own (a"
                " statement that cannot goes in a file marked '-- migrate: no-transaction')"
            )
    if not migration.in_transaction and len(statements) != 1:
        raise MigrationError(
            f"{migration.version}: a no-transaction file must hold exactly one statement,"
            f" not {len(statements)}: it runs in autocommit, and a failure between two"
            " statements would leave the first applied and the file unrecorded"
        )


_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"}
# Only these two-word forms: PREPARE name AS ... is an ordinary prepared statement.
_TRANSACTION_CONTROL_PAIRS = {("START", "TRANSACTION"), ("PREPARE", "TRANSACTION")}


def _transaction_control(words: list[str]) -> str | None:
    """The transaction control command a statement's words begin with, if any."""
    if tuple(words[:2]) in _TRANSACTION_CONTROL_PAIRS:
        return " ".join(words[:2])
    return words[0] if words[0] in _TRANSACTION_CONTROL else None


# What PostgreSQL's lexer takes for an identifier or keyword, and a dollar-quote
# delimiter ($$ or $tag$; $1 is a parameter, not a quote).
_WORD = re.compile(r"[^\W\d][\w$]*")
_DOLLAR_QUOTE = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_ROUTINE_STARTS = (
    ["CREATE", "FUNCTION"],
    ["CREATE", "PROCEDURE"],
    ["CREATE", "OR", "REPLACE", "FUNCTION"],
    ["CREATE", "OR", "REPLACE", "PROCEDURE"],
)


def _statements(text: str) -> list[list[str]]:
    """The words of each statement of `text`, uppercased.

    Comments, quoted strings and identifiers and dollar-quoted bodies are
    skipped, so a plpgsql BEGIN ... END inside $$ is no statement of its own.
    As in psql, the semicolons of an SQL-standard routine body (BEGIN ATOMIC
    ... END) do not end the CREATE FUNCTION or PROCEDURE around them.
    """
    statements: list[list[str]] = []
    words: list[str] = []
    parens = 0
    blocks = 0  # BEGIN ... END (and CASE ... END within them) of a routine body
    position = 0
    while position < len(text):
        char = text[position]
        if text.startswith("--", position):
            position = _after(text, "\n", position)
        elif text.startswith("/*", position):
            position = _after_block_comment(text, position)
        elif char == "'":
            position = _after_quoted(text, position, backslashes=_is_escape_string(text, position))
        elif char == '"':
            position = _after_quoted(text, position, backslashes=False)
        elif word := _WORD.match(text, position):
            words.append(word.group().upper())
            if parens == 0 and any(words[: len(s)] == s for s in _ROUTINE_STARTS):
                blocks = _routine_blocks(blocks, words[-1])
            position = word.end()
        elif quote := _DOLLAR_QUOTE.match(text, position):
            position = _after(text, quote.group(), quote.end())
        else:
            if char == ";" and blocks == 0:
                if words:
                    statements.append(words)
                words, parens = [], 0
            parens += {"(": 1, ")": -1}.get(char, 0)
            position += 1
    if words:
        statements.append(words)
    return statements


def _routine_blocks(blocks: int, word: str) -> int:
    if word == "BEGIN":
        return blocks + 1
    if word == "CASE" and blocks > 0:
        return blocks + 1
    if word == "END" and blocks > 0:
        return blocks - 1
    return blocks


def _after(text: str, end: str, start: int) -> int:
    """The position just past the next `end` from `start`, or the end of `text`."""
    found = text.find(end, start)
    return len(text) if found < 0 else found + len(end)


def _after_block_comment(text: str, start: int) -> int:
    depth, position = 0, start
    while position < len(text):
        if text.startswith("/*", position):
            depth, position = depth + 1, position + 2
        elif text.startswith("*/", position):
            depth, position = depth - 1, position + 2
            if depth == 0:
                return position
        else:
            position += 1
    return position


def _after_quoted(text: str, start: int, *, backslashes: bool) -> int:
    """The position past the string or identifier opening at `start` (doubled quotes escape)."""
    quote, position = text[start], start + 1
    while position < len(text):
        char = text[position]
        escaped = backslashes and char == "\\"
        doubled = char == quote and text.startswith(quote, position + 1)
        if escaped or doubled:
            position += 2
        elif char == quote:
            return position + 1
        else:
            position += 1
    return position


def _is_escape_string(text: str, quote: int) -> bool:
    """Whether the ' at `quote` opens an E'...' string, where a backslash escapes a quote."""
    prefix = text[quote - 1 : quote] if quote > 0 else ""
    before = text[quote - 2 : quote - 1] if quote > 1 else ""
    return prefix in ("E", "e") and not (before.isalnum() or before in ("_", "$"))


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
