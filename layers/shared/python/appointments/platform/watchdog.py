"""Cutting a statement off at a deadline the server does not know about.

The server bounds each statement by its own `statement_timeout`, but that says
nothing of the time a caller has left (a Lambda invocation near its end, a
migration run near CloudFormation's patience), nor of a wait in a pooler's
queue before the statement reaches the server. At the deadline, a thread sends
the server a cancel request; the statement then fails with QueryCanceled and
the connection stays usable.

One thread per process, started on first use and then idle between statements:
starting a timer thread per statement would cost ~150 µs each, arming this one
costs about a microsecond. Arming wakes the thread only when it would sleep
past the new deadline: in a warm Lambda container each invocation's deadline
is later than the last one's, so the thread sleeps on to the old deadline and
looks again then. Waking it for every statement cost ~40 µs of a warm request
(the thread and the request taking turns at the GIL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg

# How long the cancel request itself may take. Short: the caller waits for it
# (see _disarm), and the invocation keeps only a second to answer.
_CANCEL_TIMEOUT_S = 0.5


@dataclass
class Guard:
    # Set when the block has ended: whether a cancel was sent. If the block
    # still ended without QueryCanceled, the cancel came as its statement
    # finished, and may yet reach the server during the connection's next
    # statement (PostgreSQL acts on a cancel whenever its signal is handled):
    # the caller should not use the connection again.
    fired: bool = False


@contextmanager
def cancel_after(conn: psycopg.Connection, seconds: float | None) -> Iterator[Guard]:
    """Cancel whatever `conn` is running if the block lasts longer than `seconds` (None: never)."""
    guard = Guard()
    if seconds is None:
        yield guard
        return
    _watchdog.arm(conn, time.monotonic() + seconds)
    try:
        yield guard
    finally:
        guard.fired = _watchdog.disarm()


class _Watchdog:
    """Cancels the statement of the armed connection when its deadline passes."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._conn: psycopg.Connection | None = None
        self._deadline: float | None = None  # a time.monotonic() value
        # When the thread's current wait ends by itself; None: it waits for a notify.
        self._wakes_at: float | None = None
        self._cancelling = False
        self._fired = False
        self._thread: threading.Thread | None = None

    def arm(self, conn: psycopg.Connection, deadline: float) -> None:
        with self._changed:
            # Started here rather than at import, and again in a process forked
            # after it started (gunicorn's workers in `make dev`).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
                self._thread.start()
            self._conn, self._deadline, self._fired = conn, deadline, False
            if self._wakes_at is None or self._wakes_at > deadline:
                self._changed.notify()

    def disarm(self) -> bool:
        """Stop guarding; whether a cancel was sent meanwhile."""
        with self._changed:
            self._conn = self._deadline = None
            # A cancel on its way is let finish before the caller goes on.
            while self._cancelling:
                self._changed.wait()
            return self._fired

    def _run(self) -> None:
        while True:
            conn = self._next_due()
            try:
                with suppress(psycopg.Error):  # out of reach: the keepalives will break the link
                    conn.cancel_safe(timeout=_CANCEL_TIMEOUT_S)
            finally:
                with self._changed:
                    self._cancelling = False
                    self._changed.notify_all()

    def _next_due(self) -> psycopg.Connection:
        """Wait until the armed deadline passes; return its connection, now disarmed."""
        with self._changed:
            while True:
                if self._deadline is None or self._conn is None:
                    self._wakes_at = None
                    self._changed.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left <= 0:
                    conn, self._conn, self._deadline = self._conn, None, None
                    self._cancelling = self._fired = True
                    self._wakes_at = None
                    return conn
                self._wakes_at = self._deadline
                self._changed.wait(left)


# Module level: one per process, shared by every connection it guards in turn.
_watchdog = _Watchdog()
