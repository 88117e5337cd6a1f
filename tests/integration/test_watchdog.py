"""The deadline's cancel: it stops what runs at the deadline, and nothing after."""

from __future__ import annotations

import time
from contextlib import suppress

import psycopg
import pytest

from appointments.data import database
from appointments.errors import DatabaseUnavailable
from appointments.platform import deadline, settings, watchdog


def test_a_statement_running_at_the_deadline_is_cancelled(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled), watchdog.cancel_after(conn, 0.2):
            conn.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 2
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection survives


def test_a_guard_says_whether_it_sent_a_cancel(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        with watchdog.cancel_after(conn, 5.0) as unneeded:
            conn.execute("SELECT 1")
        assert unneeded.fired is False
        with pytest.raises(psycopg.errors.QueryCanceled), watchdog.cancel_after(conn, 0.1) as due:
            conn.execute("SELECT pg_sleep(5)")
        assert due.fired is True


def test_a_later_deadline_armed_while_the_watchdog_sleeps_is_still_kept(database_url: str) -> None:
    """Arming does not wake a watchdog sleeping to an earlier deadline: it looks again then."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        with watchdog.cancel_after(conn, 0.3):  # the watchdog now sleeps to this deadline
            conn.execute("SELECT 1")
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled), watchdog.cancel_after(conn, 0.6) as due:
            conn.execute("SELECT pg_sleep(5)")
        assert 0.5 < time.monotonic() - started < 2
        assert due.fired is True


def test_a_cancel_that_missed_its_statement_never_reaches_the_next_one(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline passes as the statement finishes: the connection is not used again.

    PostgreSQL acts on a cancel when its signal is handled, which on a busy
    machine can be after the next statement arrived.
    """
    monkeypatch.setenv("DATABASE_URL", database_url)
    settings.get_settings.cache_clear()
    database.close()
    try:
        for _ in range(30):
            # Cancelled in time (DatabaseUnavailable): the statement took the cancel itself.
            with deadline.within(AlreadyDue()), suppress(DatabaseUnavailable):
                database.run(lambda conn: conn.execute("SELECT 1"))
            database.run(lambda conn: conn.execute("SELECT pg_sleep(0.02)"))
    finally:
        database.close()
        settings.get_settings.cache_clear()


class AlreadyDue:
    """A Lambda context whose answer margin is all that is left."""

    def get_remaining_time_in_millis(self) -> int:
        return int(deadline.ANSWER_MARGIN_S * 1000)
