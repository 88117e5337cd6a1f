"""The relay's faults with a real process and a real database restart: a relay
killed (SIGKILL) between PutEvents and its mark, and the database stopped and
started again while a relay runs. Every event ends up published, duplicates
only under the same id, each subject's events in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from appointments.api import relay
from appointments.data.outbox import OutboxEvent
from tests.conftest import REPO, Invoke
from tests.faults.conftest import FaultServer
from tests.integration.test_booking_lifecycle import cancel
from tests.integration.test_reschedule import book, reschedule

# A relay in a process of its own: it "publishes" a batch by writing its events'
# ids to a file, then is killed before it can mark them.
_KILLED_AFTER_PUBLISHING = """
import os, signal, sys
from appointments.api import relay

def publish_then_die(events):
    with open(sys.argv[1], "w") as published:
        published.write("\\n".join(str(event.id) for event in events))
    os.kill(os.getpid(), signal.SIGKILL)

relay.relay_once(publish_then_die)
"""


def published_ids(
    events: Sequence[OutboxEvent], into: list[tuple[str, str, str]]
) -> list[OutboxEvent]:
    into += [(str(event.id), event.subject_id, event.type) for event in events]
    return list(events)


def test_a_relay_killed_between_publishing_and_marking_is_published_again_by_the_next(
    invoke: Invoke, fault_db: FaultServer, tmp_path: Path
) -> None:
    ids = [book(invoke, time) for time in ("09:00", "10:00")]
    record = tmp_path / "published"

    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_PUBLISHING, str(record)],
        env={**os.environ, "PYTHONPATH": f"{REPO / 'layers/shared/python'}:{REPO}"},
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    first_time = set(record.read_text().split())
    assert len(first_time) == 2
    again: list[tuple[str, str, str]] = []
    while relay.relay_once(lambda events: published_ids(events, again)).claimed:
        pass
    assert {event_id for event_id, _, _ in again} == first_time  # the same events, same ids
    assert sorted(subject for _, subject, _ in again) == sorted(ids)
    with fault_db.admin() as conn:
        assert conn.execute(
            "SELECT count(*) FROM events WHERE published_at IS NULL"
        ).fetchone() == (0,)


def test_a_database_restarted_while_the_relay_runs_loses_nothing_and_keeps_the_order(
    invoke: Invoke, fault_db: FaultServer
) -> None:
    booking_id = book(invoke, "10:00")
    reschedule(invoke, booking_id, {"date": "2030-01-21", "time": "14:00"})
    cancel(invoke, booking_id)
    others = [book(invoke, time, "user_bob") for time in ("09:00", "11:00", "12:00")]
    sent: list[tuple[str, str, str]] = []
    restarted = threading.Event()

    def slow_then_restarting(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        published_ids(events, sent)
        if not restarted.is_set():  # the database goes away mid-batch, once
            restarted.set()
            fault_db.stop()
            fault_db.start()
        return list(events)

    stop_at = time.monotonic() + 30

    def drained_or_late() -> bool:
        if time.monotonic() > stop_at:
            return True
        with fault_db.admin() as conn:
            row = conn.execute("SELECT count(*) FROM events WHERE published_at IS NULL").fetchone()
        return row == (0,)

    relay.relay_until(drained_or_late, slow_then_restarting)

    assert restarted.is_set()
    with fault_db.admin() as conn:
        assert conn.execute(
            "SELECT count(*) FROM events WHERE published_at IS NULL"
        ).fetchone() == (0,)
        written = conn.execute("SELECT id::text FROM events").fetchall()
    assert {event_id for event_id, _, _ in sent} == {event_id for (event_id,) in written}
    of_moved = [kind for _, subject, kind in sent if subject == booking_id]
    # A republished event comes again at once, never after a later one of its subject.
    assert [kind for i, kind in enumerate(of_moved) if i == 0 or kind != of_moved[i - 1]] == [
        "booking.confirmed",
        "booking.rescheduled",
        "booking.cancelled",
    ]
    assert {subject for _, subject, _ in sent} == {booking_id, *others}
