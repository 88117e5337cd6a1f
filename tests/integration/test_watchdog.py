"""The deadline's cancel: it stops what runs at the deadline, and nothing after."""

from __future__ import annotations

import time

import psycopg
import pytest

from appointments import watchdog


def test_a_statement_running_at_the_deadline_is_cancelled(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled), watchdog.cancel_after(conn, 0.2):
            conn.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 2
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection survives


def test_a_cancel_fired_as_the_block_ends_never_reaches_the_next_statement(
    database_url: str,
) -> None:
    """The timer fires just as the statement finishes: its cancel must not land later."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(30):
            with watchdog.cancel_after(conn, 0.0):
                conn.execute("SELECT 1")
            conn.execute("SELECT pg_sleep(0.02)")  # raises QueryCanceled if it did
