"""What `make dev` prints: one line per request and nothing else, a start-up that says
what it serves, a quiet stop, and the database's coming and going.

Each server here runs on its own embedded PostgreSQL (or one the test controls),
on a loopback port, and is stopped by the test that started it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local import dev_server, embedded_db
from local.ctrl_c import CtrlC
from tests.process.local_server import (
    REPO,
    LocalServer,
    free_port,
    processes_using,
    request_lines,
    start_local_server,
)

LOAD_SECONDS = 20
LOAD_CLIENTS = 8
# Each worker hosts every function; the bookings function counts a metric per
# request, so a few hundred of these reach Powertools' 100-metric flush.
LOAD_REQUESTS = [
    ("GET", "/health", None),
    ("GET", "/slots?date=2031-06-02", None),
    ("POST", "/bookings", b'{"user_id":"user_bob","date":"2031-06-02","time":"09:00"}'),
    ("POST", "/bookings", b'{"user_id":"user_alice","date":"2031-06-07","time":"09:00"}'),
    ("GET", "/bookings?user_id=user_alice", None),
    ("GET", "/bookings/booking_none", None),
    ("GET", "/nope", None),
]
# The relay's line for an event published (local/dev_relay.py).
EVENT_LINE = re.compile(r"\d\d:\d\d:\d\d event published  [a-z.]+  \S+  shop=\S+  sequence=\d{20}")
# What a stopping server may say after its last request line.
STOP_LINES = re.compile(r"\d\d:\d\d:\d\d embedded PostgreSQL stopped")


def environment() -> dict[str, str]:
    """The shell's environment, without a DATABASE_URL: the server starts its own."""
    return {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}


def send(base_url: str, method: str, path: str, body: bytes | None) -> int:
    headers = {"Content-Type": "application/json"} if body else {}
    request = urllib.request.Request(base_url + path, body, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)


def console_after_start(log: str) -> list[str]:
    """The console's lines after the one that says the server is serving."""
    lines = log.splitlines(keepends=True)
    serving = next(i for i, line in enumerate(lines) if " serving http://" in line)
    return lines[serving + 1 :]


def settled(server: LocalServer, seconds: float = 15) -> str:
    """The console once it has said nothing new for a second (lines follow their responses)."""
    deadline = time.monotonic() + seconds
    log = server.log()
    while time.monotonic() < deadline:
        time.sleep(1)
        if (now := server.log()) == log:
            return log
        log = now
    raise AssertionError("the console never settled")


def wait_for(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the console")
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    running = start_local_server(tmp_path / "server.log", "--data-dir", str(tmp_path / "pgdata"))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.interrupt()


def test_under_8_way_load_for_20_s_the_console_is_one_line_per_request_and_nothing_else(
    server: LocalServer,
) -> None:
    taken = b'{"user_id":"user_alice","date":"2031-06-02","time":"09:00"}'
    assert send(server.base_url, "POST", "/bookings", taken) == 200
    wait_for(lambda: len(request_lines(server.log())) == 2)  # the readiness /health, the booking
    counts = [0] * LOAD_CLIENTS
    stop_at = time.monotonic() + LOAD_SECONDS

    def client(index: int) -> None:
        while time.monotonic() < stop_at:
            method, path, body = LOAD_REQUESTS[counts[index] % len(LOAD_REQUESTS)]
            send(server.base_url, method, path, body)
            counts[index] += 1

    clients = [threading.Thread(target=client, args=(i,)) for i in range(LOAD_CLIENTS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=LOAD_SECONDS + 60)
    log = settled(server)

    assert sum(counts) > 500  # enough for 100 metrics of one kind in every worker
    console = console_after_start(log)
    event_lines = [line for line in console if EVENT_LINE.fullmatch(line.rstrip("\n"))]
    other_lines = [line for line in console if not request_lines(line) and line not in event_lines]
    assert (len(other_lines), other_lines[:3]) == (0, [])
    # A line for each booking made, and only for those.
    booked = [line for line in request_lines(log) if line.method == "POST" and line.status == 200]
    assert [line.split()[3] for line in event_lines] == ["booking.confirmed"] * len(booked)
    assert len(request_lines(log)) == 2 + sum(counts)
    assert server.interrupt() == 0
    after_stop = server.log()[len(log) :].splitlines()
    assert [line for line in after_stop if not STOP_LINES.fullmatch(line)] == []


def test_ctrl_c_under_load_stops_quietly(server: LocalServer) -> None:
    """No traceback from a worker stopped mid-request, no "Exception ignored" from one leaving."""
    log_before = server.log()
    stop_at = time.monotonic() + 30

    def client() -> None:
        while time.monotonic() < stop_at:
            try:
                send(server.base_url, *LOAD_REQUESTS[2])
            except OSError:  # the server has stopped listening
                return

    clients = [threading.Thread(target=client) for _ in range(LOAD_CLIENTS)]
    for thread in clients:
        thread.start()
    time.sleep(2)
    assert server.interrupt() == 0
    for thread in clients:
        thread.join(timeout=40)

    said = server.log()[len(log_before) :].splitlines()
    expected = (request_lines, STOP_LINES.fullmatch, EVENT_LINE.fullmatch)
    assert [line for line in said if not any(allowed(line) for allowed in expected)] == []
    assert processes_using(server.log_path.with_name("pgdata")) == []


@pytest.mark.parametrize("after_seconds", [0.2, 0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5])
def test_ctrl_c_in_the_first_moments_stops_quietly(tmp_path: Path, after_seconds: float) -> None:
    """While Python imports, while the database starts, while migrations run: no traceback."""
    data_dir = tmp_path / "pgdata"
    command = [sys.executable, "-m", "local.dev_server", "--port", str(free_port())]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        cwd=REPO,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    time.sleep(after_seconds)
    os.killpg(process.pid, signal.SIGINT)
    said, _ = process.communicate(timeout=30)

    assert process.returncode in (0, 130), said
    assert "Traceback" not in said and "KeyboardInterrupt" not in said
    assert [line for line in said.splitlines() if not re.match(r"\d\d:\d\d:\d\d ", line)] == []
    assert processes_using(data_dir) == []


def test_ctrl_c_that_a_child_fails_from_first_is_still_an_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C reaches PostgreSQL too; its failure can surface before our KeyboardInterrupt does."""

    def database_fails_first(_data_dir: Path) -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the terminal's Ctrl-C, to the whole group
            time.sleep(1)
        except KeyboardInterrupt:
            pass  # swallowed on the way (a library's cleanup, say), and its failure reported
        raise dev_server.StartupError("the database closed the connection")

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(dev_server, "start_database", database_fails_first)
    monkeypatch.setattr(CtrlC, "pressed", False)
    handlers = {
        number: signal.getsignal(number)
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        code = dev_server.main(["--port", str(free_port()), "--data-dir", str(tmp_path / "pgdata")])
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)

    said = capsys.readouterr().err
    assert (code, said[9:]) == (130, "interrupted while starting\n")


def test_start_up_names_the_shop_and_the_migrations_in_a_line_each(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    shop = {
        "SHOP_TIME_ZONE": "Europe/Berlin",
        "OPENING_HOURS": "Mon-Fri 09:00-12:00,13:00-17:00; Sat 10:00-14:00",
        "SLOT_MINUTES": "30",
        "CAPACITY": "2",
        "MINIMUM_NOTICE_MINUTES": "120",
        "CLOSED_DATES": "2031-12-25,2031-12-26",
    }
    first = start_local_server(tmp_path / "first.log", "--data-dir", str(data_dir), env=shop)
    assert first.interrupt() == 0
    again = start_local_server(tmp_path / "again.log", "--data-dir", str(data_dir))
    assert again.interrupt() == 0

    migrations = len(list((REPO / "db" / "migrations").glob("*.sql")))
    assert said_at_start(first.log()) == [
        f"starting the embedded PostgreSQL in {data_dir}",
        f"database ready: {migrations} migrations applied",
        "shop: Europe/Berlin, open Mon-Fri 09:00-12:00,13:00-17:00; Sat 10:00-14:00,"
        " 30-minute slots, 2 bays, 120 minutes' notice, no booking horizon, 2 closed dates",
        "sign-in off (JWT_ISSUER=local turns it on with the local issuer)",
    ]
    assert said_at_start(again.log())[1:3] == [
        "database ready: schema up to date",
        "shop: UTC, open Daily 09:00-17:00, 60-minute slots, 1 bay, no minimum notice,"
        " no booking horizon, 0 closed dates",
    ]


def said_at_start(log: str) -> list[str]:
    """The start-up lines before the routes, without their time of day."""
    lines = [line[9:] for line in log.splitlines()]
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("route "))]


def test_the_console_says_once_when_the_database_goes_away_and_once_when_it_is_back(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "theirs"
    database = embedded_db.start(data_dir)
    url = database.get_uri()
    running = start_local_server(tmp_path / "server.log", env={"DATABASE_URL": url})
    try:
        database.stop()
        wait_for(lambda: "requests answer 503 until it is back" in running.log())
        statuses = [running.request("GET", "/slots?date=2031-06-02").status for _ in range(3)]
        time.sleep(3)  # more checks, all failing, say nothing more
        database.ensure_postgres_running()
        wait_for(lambda: "the database answers again" in running.log())
        answered = running.request("GET", "/slots?date=2031-06-02").status
    finally:
        running.interrupt()
        database.stop()

    said = [line[9:].rstrip("\n") for line in console_after_start(running.log())]
    away = [line for line in said if line.endswith("requests answer 503 until it is back")]
    assert statuses == [503] * 3 and answered == 200
    assert len(away) == 1 and away[0].startswith("cannot reach the database at ")
    assert said.count("the database answers again") == 1
    assert said.index("the database answers again") > said.index(away[0])
