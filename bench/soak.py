"""`make soak`: steady mixed traffic through the local server while connections are killed.

Starts its own embedded PostgreSQL and `local.dev_server` on loopback, sends
GET /health, GET /slots, POST /bookings (some with an Idempotency-Key, sent
twice as a client's retry would), cancels and moves at a fixed rate, and every
few seconds terminates every connection the workers and the server's relay
hold (pg_terminate_backend), as a failover or a pooler restart would. At the
end it checks the database: every booking answered 200 is there, nothing else
is, no slot is held twice; every booking has exactly the events of its changes
(one booking.confirmed, a booking.rescheduled per move, a booking.cancelled
if cancelled); and every event was published (the server's console names each
one, duplicates only under the same id). Only 503s may be 5xx (none are
expected: a dead connection is retried).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from appointments.data import migrations
from local import embedded_db
from local.dev_server import free_port, spawn

REPO = Path(__file__).resolve().parent.parent
USERS = ["user_alice", "user_bob", "user_charlie", "user_dave"]
DAYS = [f"2031-01-{day:02d}" for day in range(1, 11)]  # a small window, so bookings collide
HOURS = [f"{hour:02d}:00" for hour in range(9, 17)]


@dataclass
class SoakResult:
    seconds: float
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    connection_kills: int = 0
    connections_killed: int = 0
    bookings_answered: int = 0
    booking_rows: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Traffic:
    """Requests at a fixed rate from a thread pool; remembers every booking id answered."""

    def __init__(self, port: int, rate: float, seconds: float) -> None:
        self.port, self.rate, self.seconds = port, rate, seconds
        self.statuses: Counter[str] = Counter()
        self.booking_ids: set[str] = set()
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def run(self) -> None:
        interval, deadline = 1 / self.rate, time.monotonic() + self.seconds
        next_at = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            while next_at < deadline:
                pool.submit(self._one_request, random.random())  # noqa: S311 (traffic mix, not crypto)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _one_request(self, draw: float) -> None:
        slot = {"date": random.choice(DAYS), "time": random.choice(HOURS)}  # noqa: S311
        headers = {"Content-Type": "application/json"}
        known = sorted(self.booking_ids)
        if draw < 0.1:
            method, path, body = "GET", "/health", None
        elif draw < 0.35 or (draw >= 0.75 and not known):
            method, path, body = "GET", f"/slots?date={slot['date']}", None
        elif draw < 0.75:
            booking = {"user_id": random.choice(USERS), **slot}  # noqa: S311
            method, path, body = "POST", "/bookings", json.dumps(booking)
            if draw < 0.55:  # keyed, and sent again as a retry after a lost answer would be
                headers["Idempotency-Key"] = f"soak-{random.getrandbits(64):x}"
                self._send(method, path, body, headers)
        elif draw < 0.87:
            method, path, body = "DELETE", f"/bookings/{random.choice(known)}", None  # noqa: S311
        else:
            booking_id = random.choice(known)  # noqa: S311
            method, path, body = "POST", f"/bookings/{booking_id}/reschedule", json.dumps(slot)
        self._send(method, path, body, headers)

    def _send(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            payload = json.loads(response.read())
            connection.close()
        except Exception as error:  # a refused or broken HTTP exchange is a finding, not a crash
            with self._lock:
                self.errors.append(f"{method} {path}: {type(error).__name__}: {error}")
            return
        with self._lock:
            self.statuses[str(response.status)] += 1
            if method == "POST" and path == "/bookings" and response.status == 200:
                self.booking_ids.add(payload["booking_id"])


def _kill_connections(url: str, every: float, stop: threading.Event, result: SoakResult) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        while not stop.wait(every):
            killed = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            ).fetchone()
            result.connection_kills += 1
            result.connections_killed += int(killed[0]) if killed else 0


def _check_database(url: str, traffic: _Traffic, result: SoakResult) -> None:
    with psycopg.connect(url) as conn:
        stored = {booking_id for (booking_id,) in conn.execute("SELECT id FROM bookings")}
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM bookings WHERE status = 'confirmed'"
            " GROUP BY slot_date, slot_time HAVING count(*) > 1) AS d"
        ).fetchone()
    result.booking_rows = len(stored)
    result.bookings_answered = len(traffic.booking_ids)
    if lost := traffic.booking_ids - stored:
        result.problems.append(f"{len(lost)} bookings answered 200 are missing")
    if phantom := stored - traffic.booking_ids:
        result.problems.append(f"{len(phantom)} rows no request was told about")
    if doubled and doubled[0]:
        result.problems.append(f"{doubled[0]} slots booked twice")


# Per booking, its events of each kind beside what its row says happened to it.
_EVENTS_PER_BOOKING = """
    SELECT b.id, b.status = 'cancelled', b.version,
           count(e.position) FILTER (WHERE e.type = 'booking.confirmed'),
           count(e.position) FILTER (WHERE e.type = 'booking.rescheduled'),
           count(e.position) FILTER (WHERE e.type = 'booking.cancelled')
    FROM bookings AS b LEFT JOIN events AS e ON e.shop_id = b.shop_id AND e.subject_id = b.id
    GROUP BY b.id, b.status, b.version
"""


def _check_events(url: str, server_log: str, result: SoakResult) -> None:
    """One event per change of each booking, and every event published: the console's
    lines name each one by its sequence, some twice (republished), none missing."""
    with psycopg.connect(url) as conn:
        per_booking = conn.execute(_EVENTS_PER_BOOKING).fetchall()
        positions = {position for (position,) in conn.execute("SELECT position FROM events")}
        unpublished = conn.execute("SELECT count(*) FROM events WHERE published_at IS NULL")
        (waiting,) = unpublished.fetchone() or (0,)
    wrong = [
        booking_id
        for booking_id, cancelled, version, confirmed, moved, cancels in per_booking
        if (confirmed, cancels, moved) != (1, int(cancelled), version - 1 - int(cancelled))
    ]
    if wrong:
        result.problems.append(f"{len(wrong)} bookings whose events miss or repeat a change")
    if waiting:
        result.problems.append(f"{waiting} events never published")
    printed = {
        int(line.rsplit("sequence=", 1)[1])
        for line in server_log.splitlines()
        if " event published " in line
    }
    if positions - printed:
        result.problems.append(f"{len(positions - printed)} events published without a line")
    result.events = len(positions)


def _wait_until_relayed(url: str, seconds: float = 30) -> None:
    """Until the server's relay has published every event (or `seconds` have passed)."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM events WHERE published_at IS NULL").fetchone()
            if row == (0,):
                return
            time.sleep(0.2)


def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """The local server on `url`'s database, quiet but for its request lines."""
    env = {**os.environ, "DATABASE_URL": url, "POWERTOOLS_LOG_LEVEL": "WARNING"}
    return spawn(port, "--workers", str(workers), log_path=log, env=env)


def soak(seconds: float, rate: float, kill_every: float, workers: int = 4) -> SoakResult:
    """Run the soak against a fresh database and server of its own; both are stopped after."""
    result = SoakResult(seconds=seconds)
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        server = embedded_db.start(Path(folder) / "pgdata")
        url = str(server.get_uri())
        with psycopg.connect(url, autocommit=True) as conn:
            migrations.apply_migrations(
                conn, migrations.load_migrations(REPO / "db" / "migrations")
            )
            migrations.apply_seed(conn, REPO / "db" / "seed.sql")
        port = free_port()
        process = start_server(url, port, workers, Path(folder) / "server.log")
        stop = threading.Event()
        killer = threading.Thread(target=_kill_connections, args=(url, kill_every, stop, result))
        traffic = _Traffic(port, rate, seconds)
        try:
            killer.start()
            traffic.run()
        finally:
            stop.set()
            killer.join()
            _wait_until_relayed(url)
            process.terminate()
            process.wait(timeout=30)
        result.requests = sum(traffic.statuses.values()) + len(traffic.errors)
        result.statuses = dict(sorted(traffic.statuses.items()))
        result.problems += traffic.errors[:5]
        unexplained = {
            s: n for s, n in traffic.statuses.items() if s.startswith("5") and s != "503"
        }
        if unexplained:
            result.problems.append(f"5xx other than 503: {unexplained}")
        _check_database(url, traffic, result)
        _check_events(url, (Path(folder) / "server.log").read_text(), result)
        server.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--rate", type=float, default=100, help="requests per second")
    parser.add_argument(
        "--kill-every", type=float, default=2.0, help="seconds between connection kills"
    )
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    result = soak(args.seconds, args.rate, args.kill_every, args.workers)
    print(json.dumps({**asdict(result), "ok": result.ok}, indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
