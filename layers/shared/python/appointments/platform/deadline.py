"""The current invocation's deadline, so database work answers before Lambda kills it.

A function that runs out of time is killed mid-request and API Gateway answers
its own non-JSON 500, for a booking that may have committed. Retries and
reconnects are bounded by the time this invocation has left instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

# Kept back from Lambda's timeout to send our answer (and flush logs, metrics).
ANSWER_MARGIN_S = 1.0

# Module level: Lambda runs one invocation per container at a time. None
# outside an invocation (scripts, tests calling the data layer directly).
_deadline: float | None = None


class _HasRemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@contextmanager
def within(context: _HasRemainingTime) -> Iterator[None]:
    """The invocation's deadline, set from its context for the duration of the block."""
    global _deadline
    _deadline = from_context(context, ANSWER_MARGIN_S)
    try:
        yield
    finally:
        _deadline = None


def from_context(context: _HasRemainingTime, margin_s: float) -> float:
    """When work must stop (a time.monotonic() value) to leave `margin_s` to answer."""
    return time.monotonic() + context.get_remaining_time_in_millis() / 1000 - margin_s


def seconds_left() -> float | None:
    """Seconds until the answer must be sent (possibly negative), or None without a deadline."""
    return None if _deadline is None else _deadline - time.monotonic()
