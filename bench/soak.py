"""`make soak`: steady mixed traffic through the local server while connections are killed.

Starts its own embedded PostgreSQL and `local.dev_server` on loopback, sends
GET /health, GET /slots and POST /bookings at a fixed rate, and every few
seconds terminates every connection the workers hold (pg_terminate_backend),
as a failover or a pooler restart would. At the end it checks the database:
every booking answered 200 is there, nothing else is, no slot is held twice.
Only 503s may be 5xx (none are expected: a dead connection is retried).
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
        if draw < 0.1:
            method, path, body = "GET", "/health", None
        elif draw < 0.5:
            method, path, body = "GET", f"/slots?date={random.choice(DAYS)}", None  # noqa: S311
        else:
            booking = {
                "user_id": random.choice(USERS),  # noqa: S311
                "date": random.choice(DAYS),  # noqa: S311
                "time": random.choice(HOURS),  # noqa: S311
            }
            method, path, body = "POST", "/bookings", json.dumps(booking)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            connection.request(method, path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = json.loads(response.read())
            connection.close()
        except Exception as error:  # a refused or broken HTTP exchange is a finding, not a crash
            with self._lock:
                self.errors.append(f"{method} {path}: {type(error).__name__}: {error}")
            return
        with self._lock:
            self.statuses[str(response.status)] += 1
            if method == "POST" and response.status == 200:
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
            "SELECT count(*) FROM (SELECT 1 FROM bookings GROUP BY slot_date, slot_time"
            " HAVING count(*) > 1) AS d"
        ).fetchone()
    result.booking_rows = len(stored)
    result.bookings_answered = len(traffic.booking_ids)
    if lost := traffic.booking_ids - stored:
        result.problems.append(f"{len(lost)} bookings answered 200 are missing")
    if phantom := stored - traffic.booking_ids:
        result.problems.append(f"{len(phantom)} rows no request was told about")
    if doubled and doubled[0]:
        result.problems.append(f"{doubled[0]} slots booked twice")


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
