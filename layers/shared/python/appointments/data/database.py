"""The container's PostgreSQL connection, kept warm between invocations.

Lambda runs one invocation per container at a time, so one connection per
container is enough and a pool would only hold idle sockets. The connection
lives at module level to survive warm invocations; it is reopened when it was
closed, broke while the container was frozen, or came from a SnapStart snapshot.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

from appointments.errors import ConfigurationError, DatabaseUnavailable
from appointments.platform import credentials, deadline, tracing, watchdog
from appointments.platform.observability import logger
from appointments.platform.settings import get_settings

T = TypeVar("T")

# A link that died silently is found out within this (the TCP settings in
# `connect`), not at the function timeout.
DEAD_LINK_DETECTION_S = 4.0
# Less time than this left, and a connect (or a reconnect and retry) is not
# started: psycopg, like libpq, waits at least 2 s for a connection.
MIN_RETRY_S = 2.0

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
            tcp_user_timeout=int(DEAD_LINK_DETECTION_S * 1000),
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
    timeout = _connect_timeout(settings.connect_timeout)  # before reading a secret we'd not use
    url = credentials.database_url(settings)
    started = time.monotonic()
    try:
        return connect(url, timeout)
    except psycopg.OperationalError as error:
        failure = error
    # The cached secret may predate a rotation. libpq reports a refused login
    # without an SQLSTATE, so rather than parse its (translatable) message,
    # read the secret again and retry only if it changed. A refusal is quick;
    # a connect that used up its timeout is the network, and a second one
    # would only double the wait.
    refused_quickly = time.monotonic() - started < timeout / 2
    if settings.database_secret_arn and refused_quickly:
        fresh_url = credentials.database_url(settings, refresh=True)
        if fresh_url != url:
            logger.warning(
                "database login failed; retrying with the secret's new value",
                extra={"cause": f"{type(failure).__name__}: {failure}"},
            )
            try:
                return connect(fresh_url, _connect_timeout(settings.connect_timeout))
            except psycopg.OperationalError as error:
                failure = error
    raise DatabaseUnavailable("cannot connect to the database") from failure


def _connect_timeout(configured: int) -> int:
    """The configured connect timeout, cut to the time the invocation has left."""
    left = deadline.seconds_left()
    if left is None:
        return configured
    if left < MIN_RETRY_S:
        raise DatabaseUnavailable("no time left to connect before the function times out")
    # Whole seconds, rounded down, but never 0 (which would mean no timeout).
    return max(1, min(configured, math.floor(left)))


def run(
    operation: Callable[[psycopg.Connection], T],
    retry: Callable[[psycopg.Connection], T] | None = None,
) -> T:
    """Run one statement on the warm connection, reconnecting once if it died.

    A connection killed while the container was frozen is only found out on
    first use, so the failed statement is run again on a new connection: as
    `retry` when given (a write that must recognise its own first attempt),
    else as `operation` (reads, which are safe to repeat). Within an
    invocation, nothing runs past its deadline: a retry that has no time left
    is skipped, and a statement still running at the deadline is cancelled.
    """
    with tracing.subsegment("## postgres"):
        try:
            return _run_until_deadline(operation)
        except psycopg.OperationalError as error:
            if _connection is not None and not _connection.broken:
                # The server answered (statement timeout, cancel): the link
                # is fine and a retry would meet the same fate.
                raise DatabaseUnavailable("database statement failed") from error
            first_failure = error
        left = deadline.seconds_left()
        if left is not None and left < MIN_RETRY_S:
            raise DatabaseUnavailable("connection lost, no time left to retry") from first_failure
        logger.warning(
            "database connection lost; retrying on a new connection",
            extra={"cause": f"{type(first_failure).__name__}: {first_failure}".strip()},
        )
        try:
            return _run_until_deadline(retry or operation)
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable("statement failed again after reconnecting") from error


def run_in_batches(delete_batch: Callable[[psycopg.Connection], int], batch: int) -> int:
    """Run a batch of a purge (`delete_batch`, answering how many rows it deleted) again
    and again, each its own statement, until one comes back short of `batch` or the
    invocation is about to run out of time (the next scheduled run carries on)."""
    done = 0
    while (left := deadline.seconds_left()) is None or left > MIN_RETRY_S:
        deleted = run(delete_batch)
        done += deleted
        if deleted < batch:
            break
    return done


def _run_until_deadline(operation: Callable[[psycopg.Connection], T]) -> T:
    # Always armed: the database's statement_timeout may be another than
    # ours, and it does not count a wait in a pooler's queue (up to 120 s by
    # default in PgBouncer and RDS Proxy).
    conn = get_connection()
    with watchdog.cancel_after(conn, deadline.seconds_left()) as guard:
        result = operation(conn)
    if guard.fired:
        close()  # the cancel missed its statement and might hit the next one: start afresh
    return result


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
