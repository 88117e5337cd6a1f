"""Run `local.dev_server` as a real subprocess and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from local.dev_server import REPO, free_port, spawn

__all__ = [
    "REPO",
    "LocalServer",
    "RequestLine",
    "free_port",
    "processes_using",
    "request_lines",
    "run_module",
    "start_local_server",
]

# The console line the server prints per request, e.g.
# "13:02:11 POST /bookings 400 Slot full 3.1ms BookingsFunction (cold start)".
_REQUEST_LINE = re.compile(
    r"\d\d:\d\d:\d\d (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<outcome>.+)"
    r" \d+\.\dms (?P<function>\S+)(?P<cold> \(cold start\))?"
)


@dataclass(frozen=True)
class RequestLine:
    method: str
    path: str
    status: int
    outcome: str
    function: str  # "-" when API Gateway answered without a function
    cold: bool


def request_lines(log: str) -> list[RequestLine]:
    """The request lines of a server's console output, in order."""
    found = []
    for line in log.splitlines():
        if match := _REQUEST_LINE.fullmatch(line):
            found.append(
                RequestLine(
                    match["method"],
                    match["path"],
                    int(match["status"]),
                    match["outcome"],
                    match["function"],
                    bool(match["cold"]),
                )
            )
    return found


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LocalServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return HttpResponse(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return HttpResponse(error.code, dict(error.headers), error.read())

    def post_json(self, path: str, payload: Any) -> HttpResponse:
        body = json.dumps(payload).encode()
        return self.request("POST", path, body, {"Content-Type": "application/json"})

    def log(self) -> str:
        return self.log_path.read_text()

    def interrupt(self, timeout: float = 20) -> int:
        """Ctrl-C: SIGINT to the whole process group, as a terminal sends it."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=timeout)


def start_local_server(
    log_path: Path, *args: str, env: dict[str, str] | None = None
) -> LocalServer:
    """The dev server on a free port, in its own session, answering /health.

    `env` is added to its environment, as variables set in the shell for `make dev`.
    """
    port = free_port()
    process = spawn(port, *args, log_path=log_path, env={**_environment(), **(env or {})})
    return LocalServer(process, port, log_path)


def run_module(
    module: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m module args` to its end, on the embedded database unless env names one."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**_environment(), **(env or {})},
        check=False,
    )


def _environment() -> dict[str, str]:
    # The shell's (or a test fixture's) DATABASE_URL would make the local
    # tools skip their embedded database.
    return {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}


def processes_using(data_dir: Path) -> list[str]:
    """Command lines of live processes that mention `data_dir` (postgres does)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline:
            found.append(cmdline)
    return found
