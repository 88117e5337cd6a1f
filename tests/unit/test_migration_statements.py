"""What a migration file may hold, decided before anything runs.

A normal file runs in a transaction of its own, so transaction control in it
would commit half a file; a no-transaction file runs in autocommit and must be
one statement. Words inside comments, strings, quoted identifiers and
dollar-quoted bodies are not statements and must not be refused.
"""

from __future__ import annotations

import pytest

from appointments.data.migrations import Migration, MigrationError, check_runnable

NO_TRANSACTION = "-- migrate: no-transaction\n"


@pytest.mark.parametrize(
    "statement",
    [
        "BEGIN",
        "begin transaction isolation level serializable",
        "START TRANSACTION",
        "COMMIT",
        "commit and chain",
        "END",
        "ROLLBACK",
        "ROLLBACK TO SAVEPOINT s",
        "ABORT",
        "SAVEPOINT s",
        "RELEASE SAVEPOINT s",
        "PREPARE TRANSACTION 'x'",
        "COMMIT PREPARED 'x'",
    ],
)
def test_transaction_control_in_a_file_is_refused_naming_the_file(statement: str) -> None:
    migration = Migration("0002_sneaky.sql", f"CREATE TABLE a (id int);\n{statement};\nSELECT 1;")
    with pytest.raises(MigrationError, match=r"^0002_sneaky\.sql: .*transaction control"):
        check_runnable(migration)


@pytest.mark.parametrize(
    "sql",
    [
        "-- COMMIT;\nCREATE TABLE a (id int);",
        "/* COMMIT; */ CREATE TABLE a (id int);",
        "/* nested /* COMMIT; */ still a comment; COMMIT; */ CREATE TABLE a (id int);",
        "INSERT INTO notes VALUES ('it''s fine; COMMIT; really');",
        "INSERT INTO notes VALUES (E'a quote \\'; COMMIT; \\' inside');",
        'CREATE TABLE "commit; begin" (id int);',
        'SELECT 1 AS "x""; COMMIT; """;',
        "DO $$ BEGIN PERFORM 1; END $$;",
        "DO $body$ BEGIN RAISE NOTICE '$$'; END; $body$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $f$\nBEGIN\n  RETURN 1;\nEND;\n$f$;",
        "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\n SELECT 2;\nEND;",
        "PREPARE q AS SELECT 1;",
        "SELECT begin_at, end_at FROM periods;",
        "SELECT $1 WHERE false;",
        "CREATE TABLE a$b (id int);",
    ],
)
def test_words_inside_comments_strings_and_bodies_are_accepted(sql: str) -> None:
    check_runnable(Migration("0001_fine.sql", sql))


def test_a_no_transaction_file_of_one_statement_is_accepted() -> None:
    sql = (
        f"{NO_TRANSACTION}-- Safe to re-run; a failed build is dropped by hand.\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t ((note || ';'));  -- done\n"
    )
    migration = Migration("0003_index.sql", sql)
    check_runnable(migration)
    assert not migration.in_transaction


@pytest.mark.parametrize(
    "body",
    [
        "CREATE INDEX CONCURRENTLY a ON t (x);\nCREATE INDEX CONCURRENTLY b ON t (y);",
        "-- nothing but a comment\n",
    ],
)
def test_a_no_transaction_file_must_hold_exactly_one_statement(body: str) -> None:
    with pytest.raises(MigrationError, match=r"^0003_index\.sql: .*exactly one statement"):
        check_runnable(Migration("0003_index.sql", NO_TRANSACTION + body))


def test_transaction_control_is_refused_in_a_no_transaction_file_too() -> None:
    with pytest.raises(MigrationError, match=r"^0003_commit\.sql: .*transaction control"):
        check_runnable(Migration("0003_commit.sql", NO_TRANSACTION + "COMMIT;"))


def test_only_a_marker_on_the_first_line_counts() -> None:
    assert Migration("a.sql", "-- Migrate: No-Transaction \nSELECT 1;").in_transaction is False
    assert Migration("b.sql", "SELECT 1;\n-- migrate: no-transaction\n").in_transaction is True
