"""The container's PostgreSQL connection, kept warm between invocations.

Lambda runs one invocation per container at a time, so one connection per
container is enough and a pool would only hold idle sockets. The connection
lives at module level to survive warm invocations; it is reopened when it was
closed, broke while the container was frozen, or came from a SnapStart snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

from appointments import credentials, tracing
from appointments.errors import ConfigurationError, DatabaseUnavailable
from appointments.settings import get_settings

T = TypeVar("T")

# Module level on purpose: reused by every warm invocation of this container.
_connection: psycopg.Connection | None = None


def connect(url: str, connect_timeout: int) -> psycopg.Connection:
    """A new connection set up for Lambda behind a transaction pooler."""
    try:
        return psycopg.connect(
            url,
            # One statement is one transaction: no BEGIN/COMMIT round trips.
            autocommit=True,
            connect_timeout=connect_timeout,
            # Server-side prepared statements break behind PgBouncer in
            # transaction mode, Neon's pooler and RDS Proxy; never prepare.
            prepare_threshold=None,
            # A peer that vanished without a word (a NAT or proxy dropping the
            # flow) is noticed in seconds, well inside the function timeout,
            # instead of a read that waits until Lambda kills the invocation.
            # Client-side TCP settings: poolers neither see nor mind them.
            keepalives=1,
            keepalives_idle=2,
            keepalives_interval=1,
            keepalives_count=2,
            tcp_user_timeout=4000,
        )
    except psycopg.ProgrammingError:
        # libpq quotes the part of the string it could not parse, which may be
        # the password: say only that it is malformed.
        raise ConfigurationError("the database URL is not a valid connection string") from None


def get_connection() -> psycopg.Connection:
    """The warm connection, (re)opened if there is none or it is no longer usable."""
    global _connection
    if _connection is None or _connection.closed or _connection.broken:
        _connection = _open()
    return _connection


def _open() -> psycopg.Connection:
    settings = get_settings()
    url = credentials.database_url(settings)
    started = time.monotonic()
    try:
        return connect(url, settings.connect_timeout)
    except psycopg.OperationalError as error:
        failure = error
    # The cached secret may predate a rotation. libpq reports a refused login
    # without an SQLSTATE, so rather than parse its (translatable) message,
    # read the secret again and retry only if it changed. A refusal is quick;
    # a connect that used up its timeout is the network, and a second one
    # would only double the wait.
    refused_quickly = time.monotonic() - started < settings.connect_timeout / 2
    if settings.database_secret_arn and refused_quickly:
        fresh_url = credentials.database_url(settings, refresh=True)
        if fresh_url != url:
            try:
                return connect(fresh_url, settings.connect_timeout)
            except psycopg.OperationalError as error:
                failure = error
    raise DatabaseUnavailable("cannot connect to the database") from failure


def run(
    operation: Callable[[psycopg.Connection], T],
    retry: Callable[[psycopg.Connection], T] | None = None,
) -> T:
    """Run one statement on the warm connection, reconnecting once if it died.

    A connection killed while the container was frozen is only found out on
    first use, so the failed statement is run again on a new connection: as
    `retry` when given (a write that must recognise its own first attempt),
    else as `operation` (reads, which are safe to repeat).
    """
    with tracing.subsegment("## postgres"):
        try:
            return operation(get_connection())
        except psycopg.OperationalError as error:
            if _connection is not None and not _connection.broken:
                # The server answered (statement timeout, cancel): the link
                # is fine and a retry would meet the same fate.
                raise DatabaseUnavailable("database statement failed") from error
        try:
            return (retry or operation)(get_connection())
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable("statement failed again after reconnecting") from error


def close() -> None:
    """Drop the warm connection (tests, and snapshots that must not carry one)."""
    global _connection
    if _connection is not None:
        _connection.close()
        _connection = None


def discard_after_restore() -> None:
    """SnapStart after-restore hook: a connection frozen into a snapshot is dead.

    Its socket belonged to another machine's kernel, so it is forgotten, not
    closed politely; the next request opens a fresh one.
    """
    global _connection
    _connection = None


def register_snapshot_hooks() -> bool:
    """Register the after-restore hook where the runtime offers it (python3.12+ on Lambda)."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:  # not on Lambda, or an older runtime: nothing to restore from
        return False
    register_after_restore(discard_after_restore)
    return True


register_snapshot_hooks()
