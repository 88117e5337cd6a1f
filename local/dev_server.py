"""`make dev`: the whole API on localhost, no Docker.

Starts the embedded PostgreSQL under .local/ (one `make dev` per data folder;
a server found running is used and left running), applies migrations
and the seed with the real migrate handler, then serves the routes declared in
template.yaml with gunicorn's pre-fork workers. Each worker handles one request
at a time with its own warm handlers and database connection, as Lambda
containers do, so simultaneous requests really race in the database.

The console gets one line per request (time, method, path, status, outcome,
duration, function), each in one write; a request an authorizer refused says
why, and the database going away and coming back is said once each. The
master also relays the outbox's events, a console line each (local/dev_relay).
DEV_LOGS=json adds the handlers' JSON logs and metrics.
"""

from __future__ import annotations

import signal
import sys

from local.ctrl_c import CtrlC

if __name__ == "__main__":
    # Ctrl-C during the imports below (about a second of them) ends `make dev`
    # quietly, as it does later; main() takes over from its first line.
    signal.signal(signal.SIGINT, CtrlC.exit_while_importing)

import argparse
import errno
import http.client
import io
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import psycopg
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]

from appointments.errors import ConfigurationError
from appointments.platform import connection_url, redaction
from local import authorizers, embedded_db
from local.api_docs import with_api_docs
from local.dev_relay import ConsoleRelay
from local.dev_settings import DEFAULT_PORT, StartupError, port_from_environment, port_number
from local.gateway import Gateway
from local.migrate import describe_database_error, register_passwords
from local.template import (
    TEMPLATE_PATH,
    Route,
    functions,
    http_routes,
    load_template,
    local_environment,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORKERS = 4
# The handlers' own output on the default, one-line-per-request console: their
# warnings and errors only, and no EMF metrics (each a JSON line of hundreds of
# characters). DEV_LOGS=json (--json-logs) shows all of it.
QUIET_HANDLERS = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


class DatabaseWatch:
    """Says on the console when the database stops answering, and when it answers again: once each.

    The functions answer 503 meanwhile, one console line per request, which
    does not say why. Checked from gunicorn's master with a connection of its
    own, opened and closed at each check: none is open when a worker forks.
    """

    def __init__(self, url: str, every_seconds: float = 2.0) -> None:
        self._url = url
        self._every_seconds = every_seconds
        self._next_check = time.monotonic() + every_seconds
        self._away = False

    def check(self) -> None:
        """Connect, if a check is due; say so when the answer differs from the last one."""
        if time.monotonic() < self._next_check:
            return
        try:
            conninfo = connection_url.conninfo_from_url(self._url)
            psycopg.connect(conninfo, connect_timeout=2).close()
        except (psycopg.Error, ConfigurationError) as error:
            if not self._away:
                reason = describe_database_error(self._url, error)
                log(f"{reason}; requests answer 503 until it is back")
            self._away = True
        else:
            if self._away:
                log("the database answers again")
            self._away = False
        self._next_check = time.monotonic() + self._every_seconds


class _Arbiter(Arbiter):  # type: ignore[misc]  # gunicorn has no type hints
    def __init__(self, app: _Gunicorn, database: DatabaseWatch, relay: ConsoleRelay) -> None:
        super().__init__(app)
        self._database = database
        self._relay = relay

    def handle_hup(self) -> None:
        # gunicorn reloads on SIGHUP; a closed terminal should stop the server.
        self.handle_term()

    def manage_workers(self) -> None:
        # Called on each turn of the master's loop (a second at most apart).
        super().manage_workers()
        self._database.check()
        self._relay.relay()


# A terminal's Ctrl-C reaches the workers with the master, and the master then
# sends them SIGQUIT. gunicorn's workers answer both with SystemExit, raised
# wherever they are: mid-request (a traceback), in an atexit callback
# ("Exception ignored ... SystemExit: 0"). Late in the interpreter's exit,
# Python's own handlers are gone and SIGQUIT kills the worker ("was sent
# SIGQUIT!"). So a worker finishes its request and leaves, as on SIGTERM, and
# once leaving takes no more signals; the master SIGKILLs one still there
# after graceful_timeout.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)


def _finish_the_request_on_ctrl_c(worker: Any) -> None:
    """gunicorn's post_worker_init: Ctrl-C stops a worker after its request, as SIGTERM does."""
    for number in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(number, worker.handle_exit)


def _already_stopping(_number: int, _frame: Any) -> None:
    """SIGINT's handler while `make dev` stops: nothing to do, it is stopping."""


def _leave_undisturbed(_arbiter: Any, _worker: Any) -> None:
    """gunicorn's worker_exit, run in the worker as it leaves: no signal interrupts that."""
    for number in _STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn run from code, with our options instead of its command line."""

    def __init__(
        self,
        app: Callable[..., Any],
        options: dict[str, Any],
        database: DatabaseWatch,
        relay: ConsoleRelay,
    ) -> None:
        self._app, self._options = app, options
        self._database, self._relay = database, relay
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable[..., Any]:
        return self._app

    def run(self) -> None:
        _Arbiter(self, self._database, self._relay).run()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make dev", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, help=f"default: PORT, else {DEFAULT_PORT}")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="Lambda containers")
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=embedded_db.DEFAULT_DATA_DIR,
        help="embedded PostgreSQL data (ignored when DATABASE_URL is set)",
    )
    parser.add_argument(
        "--example-catalogue",
        action="store_true",
        help="also write an example workshop, shop north (local/example_catalogue.py)",
    )
    parser.add_argument(
        "--json-logs",
        action="store_true",
        default=None,
        help="also print the handlers' JSON logs and EMF metrics (default: DEV_LOGS=json)",
    )
    args = parser.parse_args(argv)
    if args.port is None:
        args.port = port_from_environment()
    if args.json_logs is None:
        args.json_logs = json_logs_from_environment()
    return args


def json_logs_from_environment() -> bool:
    value = os.environ.get("DEV_LOGS", "")
    if value not in ("", "json"):
        raise StartupError(f"DEV_LOGS={value!r} is not understood: set DEV_LOGS=json, or unset it")
    return value == "json"


def read_routes(path: Path) -> tuple[list[Route], dict[str, str]]:
    """The template's HTTP routes and the environment its functions would get locally."""
    try:
        template = load_template(path)
        routes = http_routes(template, path.parent)
    except Exception as error:  # any reason the template cannot be used is the same to the user
        raise StartupError(f"cannot read template {path}: {error}") from error
    if not routes:
        raise StartupError(f"template {path} declares no HttpApi routes")
    environment: dict[str, str] = {}
    for function in functions(template, path.parent).values():
        for name, value in local_environment(template, function).items():
            if environment.get(name, value) != value:
                log(f"warning: functions disagree on {name}; using {environment[name]!r}")
            environment.setdefault(name, value)
    return routes, environment


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a busy port is reported before anything starts."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            holder = listening_pid(port)
            by = f" by pid {holder}" if holder is not None else ""
            raise StartupError(
                f"port {port} is in use{by}: stop what runs there, or set PORT"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.listen(128)
    listener.set_inheritable(True)
    return listener


def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port`, when this user may see it.

    Of a server whose workers share the socket (gunicorn's), the master: the
    eldest in the line of parents that all listen on it.
    """
    # Only on this error path: a development dependency, with no type hints.
    import psutil  # type: ignore[import-untyped]

    def listens(process: Any) -> bool:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port
            for c in process.net_connections(kind="tcp")
        )

    try:
        found = next(
            (
                c.pid
                for c in psutil.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid is not None
            ),
            None,
        )
        if found is None:
            return None
        process = psutil.Process(found)
        while (parent := process.parent()) is not None and listens(parent):
            process = parent
        return int(process.pid)
    except psutil.Error:  # another user's sockets, on some systems; or gone meanwhile
        return None


def spawn(
    port: int, *args: str, log_path: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.Popen[bytes]:
    """This server as a child process (tests, benchmarks), answering /health when returned.

    It runs in a session of its own, so a SIGINT to its process group is a Ctrl-C.
    """
    command = [sys.executable, "-m", "local.dev_server", "--port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our own module)
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dev server exited early:\n{log_path.read_text()}")
        # The port listens from before the database starts, so a request is
        # accepted long before a worker answers it. Wait for that answer: a
        # request sent again after a timeout would be answered too, and say a
        # second readiness line on the console.
        remaining = max(deadline - time.monotonic(), 0.1)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=remaining)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:  # refused (not listening yet), or reset (the server left)
            time.sleep(0.1)
        finally:
            connection.close()
    process.kill()
    raise RuntimeError(f"dev server did not start in {timeout}s:\n{log_path.read_text()}")


def free_port() -> int:
    """A loopback port nothing listens on right now (for tests and benchmarks)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check_database(url: str) -> None:
    # The URL read as the functions read it (the last "@" ends the password).
    try:
        psycopg.connect(connection_url.conninfo_from_url(url), connect_timeout=5).close()
    except (psycopg.Error, ConfigurationError) as error:
        raise StartupError(describe_database_error(url, error)) from None


def migrate_and_seed(url: str) -> None:
    result = _run_apart(url, "local.migrate", "--seed")  # the same command as `make seed`
    if result.returncode != 0:
        register_passwords(url)
        message = redaction.scrub(result.stderr.strip()).removeprefix("error: ")
        raise StartupError(f"make seed: {message}")
    log(f"database ready: {describe_migrations(json.loads(result.stdout))}")


def write_example_catalogue(url: str) -> None:
    result = _run_apart(url, "local.example_catalogue")
    if result.returncode != 0:
        register_passwords(url)
        raise StartupError(f"example catalogue: {redaction.scrub(result.stderr.strip())}")
    log(result.stdout.strip())


def _run_apart(url: str, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m module args` against the database, in its own process, so that the
    workers start with nothing imported and pay their cold starts as Lambda would."""
    return subprocess.run(  # noqa: S603 (our interpreter, our module)
        [sys.executable, "-m", module, *args],
        env={**os.environ, "DATABASE_URL": url, "POWERTOOLS_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=False,
    )


def describe_migrations(result: dict[str, Any]) -> str:
    """The migrate function's result in a few words: how many files it applied."""
    applied = len(result["applied"])
    if not applied:
        return "schema up to date"
    return f"{applied} migration{'s' if applied != 1 else ''} applied"


def check_schedule(environment: dict[str, str]) -> str:
    """The shop in one line; refuse to start on a setting the functions would refuse at cold start.

    Read in a process of its own, as migrate_and_seed is, so the workers still
    import the layer themselves, as a cold start does.
    """
    result = subprocess.run(
        [sys.executable, "-m", "local.shop_summary"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["cannot read the shop's settings"])[-1]
        raise StartupError(last_line)
    return result.stdout.strip()


def set_handler_environment(environment: dict[str, str], *, json_logs: bool) -> None:
    """What the workers' handlers will read: the template's values, under the shell's."""
    for name, value in environment.items():
        os.environ.setdefault(name, value)  # the shell's own settings win
    if not json_logs:
        os.environ.update(QUIET_HANDLERS)  # ...but for these: the switch is how to see them


def sign_in_settings(port: int) -> authorizers.AuthorizationSettings:
    """The gateway's authorizers from the shell's JWT_* and DEV_IAM_*; the functions told."""
    try:
        settings = authorizers.settings_from_environment(os.environ, port)
    except authorizers.ConfigurationError as error:
        raise StartupError(str(error)) from None
    # Before set_handler_environment: JWT_ISSUER=local reaches the functions as
    # the issuer's URL, so they see sign-in on, as the template's JwtIssuer says.
    os.environ.update(authorizers.function_environment(settings, os.environ))
    return settings


def line_buffered_stdout() -> None:
    # Handlers print to stdout, the console lines go to stderr: with stdout
    # block-buffered (a pipe, a file) the two would come out of order.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)


def log(message: str) -> None:
    # One write per line: print() writes the text and its newline apart, and
    # another worker's line would land between them.
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {message}\n")
    sys.stderr.flush()


def serve(
    listener: socket.socket,
    routes: list[Route],
    workers: int,
    authorization: authorizers.AuthorizationSettings,
    database_url: str,
) -> None:
    timeout = max(route.function.timeout for route in routes) + 5
    options = {
        "bind": f"fd://{listener.fileno()}",
        "workers": workers,
        "worker_class": "sync",  # one request at a time per worker, like a Lambda container
        "timeout": timeout,
        "graceful_timeout": 5,
        "accesslog": None,  # the gateway logs one line per request itself
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "appointments-dev",
        "post_worker_init": _finish_the_request_on_ctrl_c,
        "worker_exit": _leave_undisturbed,
    }
    app = with_api_docs(Gateway(routes, log, authorization), log)
    relay = ConsoleRelay(database_url, log)
    _Gunicorn(app, options, DatabaseWatch(database_url), relay).run()


def hold_data_dir(data_dir: Path, url: str) -> IO[str]:
    """This server's claim on the embedded database's folder, held until closed."""
    try:
        return embedded_db.claim(data_dir, url)
    except embedded_db.InUse as in_use:
        serving = f", serving {in_use.url}" if in_use.url else ""
        raise StartupError(
            f"make dev is already running on {data_dir} (pid {in_use.pid or '?'}{serving}):"
            " use that one, or stop it first"
        ) from None


def start_database(data_dir: Path) -> embedded_db.Embedded:
    with embedded_db.exclusive(data_dir):
        if (pid := embedded_db.running_pid(data_dir)) is None:
            log(f"starting the embedded PostgreSQL in {data_dir}")
        else:
            log(f"using the embedded PostgreSQL already running in {data_dir} (pid {pid})")
        # A terminal's Ctrl-C reaches initdb, pg_ctl and PostgreSQL too: let
        # them finish with it (initdb removes what it wrote), then answer it.
        with CtrlC.deferred():
            try:
                embedded = embedded_db.attach_or_start(data_dir)
            except BaseException as error:
                _stop_if_started_here(data_dir, found_running=pid is not None)
                if CtrlC.pressed:
                    raise KeyboardInterrupt from None
                if isinstance(error, subprocess.CalledProcessError):  # pg_ctl failed
                    raise StartupError(f"the embedded PostgreSQL did not start: {error}") from None
                raise
        return embedded


def _stop_if_started_here(data_dir: Path, *, found_running: bool) -> None:
    """Half-started or started for us, and interrupted: not left behind."""
    if not found_running and (starting := embedded_db.running_pid(data_dir)) is not None:
        embedded_db.stop_starting(data_dir, starting)


def stop_database(embedded: embedded_db.Embedded) -> None:
    """Stop the embedded server if this process started it; else leave it as it was found."""
    if not embedded.started_here:
        log(f"embedded PostgreSQL left running (pid {embedded.pid}), as found: make stop stops it")
        return
    with embedded_db.exclusive(embedded.data_dir):  # after a `make seed` in progress, say
        if CtrlC.pressed:  # during start-up: the terminal's Ctrl-C already stops it too
            _stop_if_started_here(embedded.data_dir, found_running=False)
        else:
            embedded.server.stop()
    log("embedded PostgreSQL stopped")


def announce(args: argparse.Namespace, routes: list[Route]) -> None:
    width = max(len(route.route_key) for route in routes)
    for route in routes:
        log(f"route {route.route_key:<{width}} -> {route.function.logical_id}")
    if not args.json_logs:
        log("one line per request and per event published; DEV_LOGS=json shows the handlers' logs")
    log(f"serving http://{args.host}:{args.port} with {args.workers} workers (Ctrl-C stops)")


def main(argv: list[str] | None = None) -> int:
    held: IO[str] | None = None
    embedded: embedded_db.Embedded | None = None
    # gunicorn forks the workers inside serve(): when one exits, its SystemExit
    # unwinds through this function too, and must not stop the database.
    master_pid = os.getpid()
    try:
        # Until gunicorn installs its own handlers: Ctrl-C is a KeyboardInterrupt
        # (answered below), and a SIGTERM or a closed terminal during start-up
        # still unwinds through `finally` and stops the database.
        signal.signal(signal.SIGINT, CtrlC.raise_it)
        for stop_signal in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop_signal, lambda number, _: sys.exit(128 + number))
        CtrlC.answer()
        args = parse_args(argv)
        routes, environment = read_routes(args.template.resolve())
        authorization = sign_in_settings(args.port)
        shop_line = check_schedule({**environment, **os.environ})
        url = os.environ.get("DATABASE_URL")
        if not url:  # before bind: a second `make dev` hears why, not "port in use"
            held = hold_data_dir(args.data_dir.resolve(), f"http://{args.host}:{args.port}")
        listener = bind(args.host, args.port)
        CtrlC.answer()
        if not url:
            with CtrlC.deferred():  # until `embedded` holds what `finally` must stop
                embedded = start_database(args.data_dir.resolve())
            url = embedded.url
        CtrlC.answer()
        check_database(url)
        migrate_and_seed(url)
        if args.example_catalogue:
            write_example_catalogue(url)
        CtrlC.answer()
        set_handler_environment(environment, json_logs=args.json_logs)
        # Webhooks to a receiver on this machine (http://127.0.0.1:…): docs/events.md.
        os.environ.setdefault("WEBHOOKS_ALLOW_LOCAL", "true")
        os.environ["DATABASE_URL"] = url
        line_buffered_stdout()
        log(shop_line)
        log(authorizers.describe(authorization, args.port))
        announce(args, routes)
        CtrlC.answer()
        serve(listener, routes, args.workers, authorization, url)
    except StartupError as error:
        if CtrlC.pressed:
            log("interrupted while starting")
            return 130
        log(f"error: {error}")
        return 1
    except KeyboardInterrupt:  # Ctrl-C before gunicorn took over the signal
        log("interrupted while starting")
        return 130
    except SystemExit as stop:  # gunicorn exits this way on Ctrl-C and SIGTERM
        return int(stop.code or 0)
    finally:
        # Stopping already: another Ctrl-C waits. A Python handler that does nothing,
        # not SIG_IGN: a Ctrl-C that arrived during a C call (the relay's database
        # work, say) and is still pending would otherwise be reported as "Signal 2
        # ignored due to race condition", with a traceback.
        signal.signal(signal.SIGINT, _already_stopping)
        if embedded is not None and os.getpid() == master_pid:
            stop_database(embedded)
        if held is not None:
            held.close()  # in a worker, the master's claim stands: flock follows the open file
    return 0


if __name__ == "__main__":
    sys.exit(main())
