"""Cutting a statement off at a deadline the server does not know about.

The server bounds each statement by its own `statement_timeout`, but a caller
may have less time than that left (a Lambda invocation near its end, a
migration run near CloudFormation's patience). A timer thread sends the
server a cancel request at the deadline; the statement then fails with
QueryCanceled and the connection stays usable. The timer is only started
when the deadline is nearer than what already bounds the statement, so the
common path pays nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg

# How long the cancel request itself may take; it runs in the timer thread.
_CANCEL_TIMEOUT_S = 2.0


@contextmanager
def cancel_after(conn: psycopg.Connection, seconds: float | None) -> Iterator[None]:
    """Cancel whatever `conn` is running if the block lasts longer than `seconds` (None: never)."""
    if seconds is None:
        yield
        return
    timer = threading.Timer(max(0.0, seconds), _cancel, args=(conn,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        # A cancel already on its way must land now, while nothing runs (the
        # server ignores it then), not during the connection's next statement.
        timer.join()


def _cancel(conn: psycopg.Connection) -> None:
    # A server out of reach ignores the cancel: the keepalives will break the link.
    with suppress(psycopg.Error):
        conn.cancel_safe(timeout=_CANCEL_TIMEOUT_S)
