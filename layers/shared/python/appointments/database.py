"""The container's PostgreSQL connection, kept warm between invocations.

Lambda runs one invocation per container at a time, so one connection per
container is enough and a pool would only hold idle sockets. The connection
lives at module level to survive warm invocations; it is reopened when it was
closed, or broke while the container was frozen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import psycopg

from appointments.errors import DatabaseUnavailable
from appointments.settings import get_settings

T = TypeVar("T")


# Module level on purpose: reused by every warm invocation of this container.
_connection: psycopg.Connection | None = None


def connect(url: str, connect_timeout: int) -> psycopg.Connection:
    """A new connection set up for Lambda behind a transaction pooler."""
    return psycopg.connect(
        url,
        # One statement is one transaction: no BEGIN/COMMIT round trips.
        autocommit=True,
        connect_timeout=connect_timeout,
        # Server-side prepared statements break behind PgBouncer in transaction
        # mode, Neon's pooler and RDS Proxy; never prepare.
        prepare_threshold=None,
    )


def get_connection() -> psycopg.Connection:
    """The warm connection, (re)opened if there is none or it is no longer usable."""
    global _connection
    if _connection is None or _connection.closed or _connection.broken:
        settings = get_settings()
        try:
            _connection = connect(settings.database_url, settings.connect_timeout)
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable("cannot connect to the database") from error
    return _connection


def run(operation: Callable[[psycopg.Connection], T]) -> T:
    """Run one statement on the warm connection, reconnecting once if it died.

    A connection killed while the container was frozen is only found out on
    first use, so the failed statement is retried once on a new connection.
    Every operation passed here must be safe to repeat (reads, and the
    booking insert, which recognises its own earlier success).
    """
    try:
        return operation(get_connection())
    except psycopg.OperationalError as error:
        if _connection is not None and not _connection.broken:
            # The server answered (a timeout, a cancel): the link is fine,
            # retrying would not help.
            raise DatabaseUnavailable("database statement failed") from error
    try:
        return operation(get_connection())
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable("database statement failed after reconnecting") from error


def close() -> None:
    """Drop the warm connection (tests, and snapshots that must not carry one)."""
    global _connection
    if _connection is not None:
        _connection.close()
        _connection = None
