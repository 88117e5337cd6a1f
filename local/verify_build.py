"""`make verify-build`: run `sam build`'s output on aarch64 CPython 3.13, as Lambda would.

The tests run the sources on this machine's Python; this runs the artifact.
From .aws-sam/build only (its template, layer and function folders, never the
sources), it:

1. gets Debian's arm64 CPython 3.13 (trixie) and qemu-user-static, cached under
   .local/ so a second run costs seconds (emulator.py);
2. checks every native file of the layer: aarch64, and no glibc symbol newer
   than Lambda's (Amazon Linux 2023: 2.34), read from the ELF's version needs;
3. copies the layer (Lambda's /opt) and each function (its task root) into a
   temporary folder and makes them read-only, as on Lambda, where nothing can
   be written, so a module without its bytecode is compiled at every cold
   start; the functions run as an unprivileged user, for whom that holds;
4. starts a fresh embedded PostgreSQL and runs each function's handler in its
   own emulated process (one container): migrate with the seed, then health,
   bookings (booked, Slot full, refused, keyed, listed), users, slots and the
   catalogue, with API Gateway HTTP API 2.0 events and the environment the
   template gives the function;
5. fails, naming the function and why, on a wrong answer, a handler that
   cannot be imported, or a layer module compiled from source.

Times under emulation say nothing about Lambda's, so none are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from local import embedded_db, emulator, verify_build_bus
from local.check_layer import elf_machine
from local.http_api_event import http_api_event, iam_authorizer_context
from local.template import Function, functions, load_template, local_environment
from local.verify_build_runner import RESULT_MARKER

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BUILD_DIR = REPO / ".aws-sam" / "build"
RUNNER = Path(__file__).resolve().parent / "verify_build_runner.py"
MAX_GLIBC = (2, 34)  # Lambda's python3.13 runs on Amazon Linux 2023
_EM_AARCH64 = 183
# One emulated container's whole life: imports and every invocation.
PROCESS_TIMEOUT_SECONDS = 240
_GLIBC_NEED = re.compile(r"Name: GLIBC_(\d+)\.(\d+)(?:\.(\d+))?")
# The first day of a month far ahead: nothing else books it.
DAY = "2030-01-07"
MIGRATE_FUNCTION = "MigrateFunction"
RELAY_FUNCTION = "RelayFunction"
# make dev's allowance of http://127.0.0.1 for webhooks: the receiver here is on loopback.
LOCAL_WEBHOOK_FUNCTIONS = ("CatalogueAdminFunction", "WebhooksFunction")
BOOKING_ID = re.compile(r"booking_[A-Za-z0-9_-]{22}")  # 128 random bits, URL-safe base64
UNKNOWN_BOOKING = "booking_" + "A" * 22
# The users routes' requests, as API Gateway's IAM authorizer hands them on.
SIGNED = iam_authorizer_context()
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


class VerifyFailed(Exception):
    """The artifact would fail on Lambda; the message says which function and why."""


@dataclass(frozen=True)
class Call:
    """One invocation and the answer the deployed function must give."""

    label: str
    event: dict[str, Any]
    check: Callable[[Any], str | None]  # None when the answer is right, else what is wrong


def http_call(
    method: str,
    path: str,
    status: int,
    body: Any,
    *,
    query: str = "",
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    route: str | None = None,
    case: str = "",
    authorizer: dict[str, Any] | None = None,
) -> Call:
    """An API Gateway event for `method path`, expecting `status` and the JSON `body`.

    A value of `body` may be a regular expression the answer's value must match.
    """
    if json_body is not None:
        headers = {"content-type": "application/json", **(headers or {})}
    event = http_api_event(
        method,
        path,
        route_key=f"{method} {route}" if route else None,
        raw_query=query,
        headers=headers,
        body=json.dumps(json_body) if json_body is not None else None,
        path_parameters=_path_parameters(route, path) if route else None,
        authorizer=authorizer,
    )

    def check(response: Any) -> str | None:
        if not isinstance(response, dict):
            return f"answered {response!r}, not an API Gateway response"
        try:
            got = json.loads(response.get("body") or "null")
        except ValueError:
            return f"answered a body that is not JSON: {response.get('body')!r}"
        if response.get("statusCode") != status or not _matches(body, got):
            expected = json.dumps(body, default=lambda pattern: f"/{pattern.pattern}/")
            answered = f"{response.get('statusCode')} {json.dumps(got)}"
            return f"answered {answered}, expected {status} {expected}"
        headers = {str(k).lower(): v for k, v in (response.get("headers") or {}).items()}
        if not str(headers.get("content-type", "")).startswith("application/json"):
            return f"answered Content-Type {headers.get('content-type')!r}, not JSON"
        return None

    label = f"{method} {path}{'?' + query if query else ''}{f' ({case})' if case else ''}"
    return Call(label, event, check)


def _path_parameters(route: str, path: str) -> dict[str, str]:
    """What API Gateway hands on for `path` matched by `route`: {name} segments, decoded."""
    return {
        name[1:-1]: unquote(segment)
        for name, segment in zip(route.split("/"), path.split("/"), strict=True)
        if name.startswith("{")
    }


def _matches(expected: Any, got: Any) -> bool:
    if isinstance(expected, re.Pattern):
        return isinstance(got, str) and expected.fullmatch(got) is not None
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and expected.keys() == got.keys()
            and all(_matches(value, got[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(expected) == len(got)
            and all(_matches(e, g) for e, g in zip(expected, got, strict=True))
        )
    return bool(expected == got)


def calls_for(build_dir: Path, bus: verify_build_bus.Bus | None = None) -> dict[str, list[Call]]:
    """What each function is asked, in the order the functions run (migrate first); the
    relay publishes to `bus`."""
    migrations = sorted((build_dir / "MigrateFunction" / "db" / "migrations").glob("*.sql"))
    migrated = {"applied": [path.name for path in migrations], "seeded": True}
    hours = [f"{hour:02d}:00" for hour in range(9, 17)]
    # What BookingsFunction's calls book: two by the first version's route, one by a
    # shop's; and what they hold.
    booked = ("10:00", "11:00", "14:00", "15:00")

    def relay_result(response: Any) -> str | None:
        # The bookings, holds and cancels made above wrote their events: every one
        # reaches the bus, as a CloudEvent of the service.
        sent = bus.entries if bus is not None else []
        if response != {"published": len(sent)} or not sent:
            return f"answered {response!r}, and the bus was sent {len(sent)} entries"
        for entry in sent:
            detail = json.loads(entry["Detail"])
            if entry["Source"] != "appointments" or detail.get("type") != entry["DetailType"]:
                return f"sent an entry unlike an event of the service: {entry!r}"
        return None

    def subscribed(response: Any) -> str | None:
        # The default shop's bookings made above reach it: its secret is kept to check them.
        if not isinstance(response, dict) or response.get("statusCode") != 201:
            return f"answered {response!r}, expected 201 with the secret"
        secret = json.loads(response["body"]).get("secret", "")
        if not secret.startswith("whsec_") or bus is None:
            return f"answered no signing secret: {response['body']}"
        bus.webhook_secret = secret
        return None

    def webhooks_result(response: Any) -> str | None:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        posted = bus.webhooks if bus is not None else []
        if response != {"claimed": len(posted)} or not posted or bus is None:
            return f"answered {response!r}, and the receiver was posted {len(posted)} deliveries"
        verifier = Webhook(bus.webhook_secret or "")
        try:
            types = [verifier.verify(body, headers)["type"] for headers, body in posted]
        except WebhookVerificationError as refused:
            return f"posted a delivery whose signature does not verify: {refused}"
        if not set(types) <= {"booking.confirmed", "booking.cancelled"}:
            return f"posted events it was not subscribed to: {types}"
        return None

    def purge_result(response: Any) -> str | None:
        expected = {"purged": 0, "events_purged": 0, "deliveries_purged": 0}  # nothing old yet
        return None if response == expected else f"answered {response!r}, expected {expected}"

    def migrate_result(response: Any) -> str | None:
        return None if response == migrated else f"answered {response!r}, expected {migrated}"

    def booking(user: str, time: str) -> dict[str, str]:
        return {"user_id": user, "date": DAY, "time": time}

    def post(status: int, answer: Any, body: Any, case: str, key: str | None = None) -> Call:
        headers = {"idempotency-key": key} if key else None
        return http_call(
            "POST", "/bookings", status, answer, json_body=body, headers=headers, case=case
        )

    def listed(time: str) -> dict[str, Any]:
        return {
            **booking("user_alice", time),
            "starts_at": f"{DAY}T{time}:00+00:00",
            "ends_at": f"{DAY}T{int(time[:2]) + 1:02d}:00:00+00:00",
            "booking_id": BOOKING_ID,
            "status": "confirmed",
            "created_at": TIMESTAMP,
            "cancelled_at": None,
        }

    return {
        MIGRATE_FUNCTION: [Call("migrations and the seed", {"seed": True}, migrate_result)],
        "HealthFunction": [http_call("GET", "/health", 200, {"status": "ok"})],
        "BookingsFunction": [
            post(200, {"booking_id": BOOKING_ID}, booking("user_alice", "10:00"), "booked"),
            post(400, {"error": "Slot full"}, booking("user_bob", "10:00"), "the same slot again"),
            post(
                400,
                {"error": "Time must be on the hour"},
                booking("user_bob", "10:30"),
                "refused by validation",
            ),
            post(
                200,
                {"booking_id": BOOKING_ID},
                booking("user_alice", "11:00"),
                "with an Idempotency-Key",
                key="verify-build",
            ),
            post(
                422,
                {"error": "Idempotency-Key reused with a different request"},
                booking("user_alice", "12:00"),
                "its key reused",
                key="verify-build",
            ),
            http_call(
                "GET",
                "/bookings",
                200,
                {"bookings": [listed("10:00"), listed("11:00")], "next_cursor": None},
                query="user_id=user_alice",
            ),
            http_call(
                "POST",
                "/shops/default/bookings",
                200,
                {"booking_id": BOOKING_ID},
                json_body={**booking("user_alice", "14:00"), "service_id": "appointment"},
                route="/shops/{shop_id}/bookings",
                case="a service of a shop",
            ),
            http_call(
                "POST",
                "/shops/nowhere/bookings",
                404,
                {"error": "Shop not found"},
                json_body={**booking("user_alice", "14:00"), "service_id": "appointment"},
                route="/shops/{shop_id}/bookings",
                case="an unknown shop",
            ),
            http_call(
                "DELETE",
                f"/bookings/{UNKNOWN_BOOKING}",
                404,
                {"error": "Booking not found"},
                route="/bookings/{booking_id}",
            ),
            http_call(
                "GET",
                f"/bookings/{UNKNOWN_BOOKING}/calendar.ics",
                404,
                {"error": "Booking not found"},
                route="/bookings/{booking_id}/calendar.ics",
            ),
            http_call(
                "POST",
                f"/bookings/{UNKNOWN_BOOKING}/reschedule",
                404,
                {"error": "Booking not found"},
                json_body={"date": DAY, "time": "15:00"},
                headers={"if-match": '"1"'},
                route="/bookings/{booking_id}/reschedule",
                case="a move (its statement run)",
            ),
            http_call(
                "POST",
                "/holds",
                201,
                {
                    "hold_id": BOOKING_ID,
                    "expires_at": TIMESTAMP,
                    "shop_id": "default",
                    "service_id": "appointment",
                    "resource_id": "bay-1",
                    "date": DAY,
                    "time": "15:00",
                    "starts_at": f"{DAY}T15:00:00+00:00",
                    "ends_at": f"{DAY}T16:00:00+00:00",
                },
                json_body=booking("user_alice", "15:00"),
                case="a hold",
            ),
            http_call(
                "POST",
                f"/holds/{UNKNOWN_BOOKING}/confirm",
                404,
                {"error": "Hold not found"},
                route="/holds/{hold_id}/confirm",
                case="a confirmation (its statement run)",
            ),
        ],
        "UsersFunction": [
            http_call(
                "PUT",
                "/users/user_erin",
                201,
                {"user_id": "user_erin", "name": "Erin", "created_at": TIMESTAMP},
                json_body={"name": "Erin"},
                route="/users/{user_id}",
                case="created",
                authorizer=SIGNED,
            ),
            http_call(
                "GET",
                "/users/user_erin",
                200,
                {"user_id": "user_erin", "name": "Erin", "created_at": TIMESTAMP},
                route="/users/{user_id}",
                authorizer=SIGNED,
            ),
            http_call(
                "GET",
                "/users/user_nobody",
                404,
                {"error": "User not found"},
                route="/users/{user_id}",
                authorizer=SIGNED,
            ),
        ],
        "SlotsFunction": [
            http_call(
                "GET",
                "/slots",
                200,
                {"available_times": [h for h in hours if h not in booked]},
                query=f"date={DAY}",
            ),
            http_call(
                "GET",
                "/availability",
                200,
                {
                    "time_zone": "UTC",
                    "days": [
                        {
                            "date": DAY,
                            "slots": [
                                {
                                    "time": h,
                                    "starts_at": f"{DAY}T{h}:00+00:00",
                                    "ends_at": f"{DAY}T{int(h[:2]) + 1:02d}:00:00+00:00",
                                    "remaining": 0 if h in booked else 1,
                                }
                                for h in hours
                            ],
                        }
                    ],
                },
                query=f"from={DAY}&to={DAY}",
            ),
            http_call(
                "GET",
                "/shops/default/availability",
                200,
                {
                    "shop_id": "default",
                    "service_id": "appointment",
                    "time_zone": "UTC",
                    "days": [
                        {
                            "date": DAY,
                            "slots": [
                                {
                                    "time": h,
                                    "starts_at": f"{DAY}T{h}:00+00:00",
                                    "ends_at": f"{DAY}T{int(h[:2]) + 1:02d}:00:00+00:00",
                                    "remaining": 0 if h in booked else 1,
                                    "resource_ids": [] if h in booked else ["bay-1"],
                                }
                                for h in hours
                            ],
                        }
                    ],
                },
                query=f"service_id=appointment&from={DAY}&to={DAY}",
                route="/shops/{shop_id}/availability",
            ),
        ],
        "CatalogueFunction": [
            http_call(
                "GET",
                "/shops/default",
                200,
                {
                    "shop_id": "default",
                    "name": "Default shop",
                    "time_zone": "UTC",
                    "opening_hours": "Mon-Sun 09:00-17:00",
                    "closed_dates": [],
                    "minimum_notice_minutes": None,
                    "booking_horizon_days": None,
                    "hold_seconds": None,
                    "change_notice_minutes": None,
                },
                route="/shops/{shop_id}",
            ),
            http_call(
                "GET",
                "/shops/default/services",
                200,
                {
                    "services": [
                        {
                            "service_id": "appointment",
                            "name": "Appointment",
                            "duration_minutes": 60,
                            "buffer_before_minutes": 0,
                            "buffer_after_minutes": 0,
                            "step_minutes": 60,
                            "resource_ids": ["bay-1"],
                        }
                    ]
                },
                route="/shops/{shop_id}/services",
            ),
            http_call(
                "GET",
                "/shops/nowhere/resources",
                404,
                {"error": "Shop not found"},
                route="/shops/{shop_id}/resources",
            ),
        ],
        "CatalogueAdminFunction": [
            http_call(
                "PUT",
                "/shops/north",
                201,
                {
                    "shop_id": "north",
                    "name": "North",
                    "time_zone": "Europe/Lisbon",
                    "opening_hours": "Mon-Fri 09:00-17:00",
                    "closed_dates": [],
                    "minimum_notice_minutes": None,
                    "booking_horizon_days": None,
                    "hold_seconds": None,
                    "change_notice_minutes": None,
                },
                json_body={
                    "name": "North",
                    "time_zone": "Europe/Lisbon",
                    "opening_hours": "Mon-Fri 09:00-17:00",
                },
                route="/shops/{shop_id}",
                authorizer=SIGNED,
            ),
            http_call(
                "PUT",
                "/shops/north/resources/ana",
                201,
                {
                    "shop_id": "north",
                    "resource_id": "ana",
                    "name": "Ana",
                    "opening_hours": None,
                    "time_off": [
                        {
                            "time_off_id": "holiday",
                            "starts_at": "2030-08-01T00:00:00Z",
                            "ends_at": "2030-08-15T00:00:00Z",
                        }
                    ],
                },
                json_body={
                    "name": "Ana",
                    "time_off": [
                        {
                            "time_off_id": "holiday",
                            "starts_at": "2030-08-01T01:00:00+01:00",
                            "ends_at": "2030-08-15T01:00:00+01:00",
                        }
                    ],
                },
                route="/shops/{shop_id}/resources/{resource_id}",
                authorizer=SIGNED,
            ),
            http_call(
                "PUT",
                "/shops/north/services/full-service",
                201,
                {
                    "shop_id": "north",
                    "service_id": "full-service",
                    "name": "Full service",
                    "duration_minutes": 120,
                    "buffer_before_minutes": 15,
                    "buffer_after_minutes": 0,
                    "step_minutes": 60,
                    "resource_ids": ["ana"],
                },
                json_body={
                    "name": "Full service",
                    "duration_minutes": 120,
                    "buffer_before_minutes": 15,
                    "step_minutes": 60,
                    "resource_ids": ["ana"],
                },
                route="/shops/{shop_id}/services/{service_id}",
                authorizer=SIGNED,
            ),
            http_call(
                "DELETE",
                "/shops/north/services/full-service",
                200,
                {"shop_id": "north", "service_id": "full-service"},
                route="/shops/{shop_id}/services/{service_id}",
                authorizer=SIGNED,
            ),
            http_call(
                "GET",
                "/shops/north/services/full-service",
                404,
                {"error": "Service not found"},
                route="/shops/{shop_id}/services/{service_id}",
                authorizer=SIGNED,
            ),
            Call(
                "PUT /shops/default/webhooks/verify (subscribed: the secret, once)",
                http_call(
                    "PUT",
                    "/shops/default/webhooks/verify",
                    201,
                    {},
                    json_body={
                        "url": f"{bus.url if bus else 'http://127.0.0.1:9'}/hook",
                        "event_types": ["booking.confirmed", "booking.cancelled"],
                    },
                    route="/shops/{shop_id}/webhooks/{webhook_id}",
                    authorizer=SIGNED,
                ).event,
                subscribed,
            ),
        ],
        "RelayFunction": [Call("relay of the outbox to the bus", {}, relay_result)],
        "WebhooksFunction": [Call("delivery of the webhooks", {}, webhooks_result)],
        "PurgeFunction": [Call("purge of expired keys", {}, purge_result)],
    }


# ---------------------------------------------------------------- native files


def native_problems(layer: Path, readelf: str) -> tuple[int, list[str]]:
    """How many ELF files the layer has, and what is wrong with them for Lambda."""
    problems, count = [], 0
    for path in sorted(p for p in layer.rglob("*") if p.is_file() and ".so" in p.name):
        machine = elf_machine(path)
        if machine is None:
            continue
        count += 1
        relative = path.relative_to(layer)
        if machine != _EM_AARCH64:
            problems.append(f"{relative}: not an aarch64 binary (ELF machine {machine})")
            continue
        newest = newest_glibc(path, readelf)
        if newest is not None and newest[:2] > MAX_GLIBC:
            problems.append(
                f"{relative}: needs GLIBC_{'.'.join(map(str, newest))}, newer than"
                f" Lambda's {'.'.join(map(str, MAX_GLIBC))}"
            )
    return count, problems


def newest_glibc(path: Path, readelf: str) -> tuple[int, ...] | None:
    """The newest GLIBC_x.y version the ELF file needs (its .gnu.version_r), if any."""
    output = subprocess.run(  # noqa: S603 (readelf on the layer's files)
        [readelf, "--version-info", "--wide", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    _, _, needs = output.partition("Version needs section")
    versions = [
        tuple(int(part) for part in match.groups() if part is not None)
        for match in _GLIBC_NEED.finditer(needs)
    ]
    return max(versions, default=None)


# ---------------------------------------------------------------- laying out


@dataclass(frozen=True)
class Layout:
    root: Path
    layer: Path  # Lambda's /opt
    task_roots: dict[str, Path]  # Lambda's /var/task, per function
    runner: Path
    runtime: Path  # the AWS SDK Lambda's runtime brings (its /var/runtime)


def lay_out(build_dir: Path, names: list[str], workdir: Path) -> Layout:
    """Read-only copies of the layer and of each function, as Lambda mounts them."""
    workdir.chmod(0o755)  # the unprivileged user must reach it
    layer = workdir / "opt"
    shutil.copytree(build_dir / "SharedLayer", layer, symlinks=True)
    task_roots = {}
    for name in names:
        task_roots[name] = workdir / "task" / name
        shutil.copytree(build_dir / name, task_roots[name], symlinks=True)
    runner = workdir / RUNNER.name
    shutil.copy(RUNNER, runner)
    runtime = verify_build_bus.lay_out_sdk(workdir / "runtime")
    for tree in (layer, workdir / "task", runtime):
        make_read_only(tree)
    return Layout(workdir, layer, task_roots, runner, runtime)


def make_read_only(tree: Path) -> None:
    """Lambda's /opt and task root: read-only, each file's time as its zip kept it.

    A zip keeps times to 2 s, so a .pyc that checks its source's time (not the
    unchecked-hash kind the build writes) could go stale on the way to Lambda.
    """
    for path in sorted([tree, *tree.rglob("*")], reverse=True):  # files before their folder
        if not path.is_symlink():
            seconds = int(path.stat().st_mtime) // 2 * 2
            os.utime(path, (seconds, seconds))
            path.chmod(path.stat().st_mode & 0o555 | 0o444)


def make_writable(tree: Path) -> None:
    """So that the temporary folder can be removed (for root it could be anyway)."""
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink() and path.is_dir():
            path.chmod(0o755)


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class Outcome:
    function: str
    python: str
    layer_modules: frozenset[str]  # the layer's modules it imported


def run_function(
    function: Function,
    environment: dict[str, str],
    calls: list[Call],
    layout: Layout,
    python: emulator.Python,
    user: pwd.struct_passwd | None,
) -> Outcome:
    """Run `function` in one emulated process; raise VerifyFailed naming what went wrong."""
    name = function.logical_id
    job = {
        "task_root": str(layout.task_roots[name]),
        "layer_root": str(layout.layer),
        "handler": function.handler,
        "function_name": name,
        "timeout": function.timeout,
        "invocations": [call.event for call in calls],
        "runtime_paths": [str(layout.runtime)],
    }
    completed = _launch(name, job, environment, layout, python, user)
    result = _result(completed)
    if result is None:
        raise VerifyFailed(
            f"{name}: the emulated python3.13 exited with status {completed.returncode}"
            f" before answering\n{_tail(completed.stdout + completed.stderr)}"
        )
    if error := result.get("import_error"):
        raise VerifyFailed(
            f"{name}: cannot import its handler {function.handler!r} on"
            f" {result['machine']} Python {result['python']}: {_indent(error)}"
        )
    if problems := _problems(calls, result):
        details = "\n".join(f"  - {problem}" for problem in problems)
        raise VerifyFailed(f"{name}:\n{details}\n{_tail(completed.stdout, lines=15)}")
    for call in calls:
        print(f"  {name}: {call.label}: as expected")
    return Outcome(name, result["python"], frozenset(result["layer_modules"]))


def _launch(
    name: str,
    job: dict[str, Any],
    environment: dict[str, str],
    layout: Layout,
    python: emulator.Python,
    user: pwd.struct_passwd | None,
) -> subprocess.CompletedProcess[str]:
    """The runner's process, with the variables Lambda sets besides the template's."""
    env = {
        **environment,
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": str(layout.root),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "LAMBDA_TASK_ROOT": job["task_root"],
    }
    # No PYTHONDONTWRITEBYTECODE (this machine sets it): on Lambda the import
    # system tries to write bytecode, and only the read-only folders stop it.
    try:
        return subprocess.run(  # noqa: S603 (qemu, our interpreter and runner)
            [*python.command, str(layout.runner)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            env=env,
            cwd=layout.root,
            timeout=PROCESS_TIMEOUT_SECONDS,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise VerifyFailed(
            f"{name}: still running after {PROCESS_TIMEOUT_SECONDS} s under emulation"
        ) from None


def _problems(calls: list[Call], result: dict[str, Any]) -> list[str]:
    """What is wrong with the answers, and with how the layer was imported."""
    problems = []
    for call, answer in zip(calls, result["invocations"], strict=True):
        if "error" in answer:
            problems.append(f"{call.label} raised {_indent(answer['error'])}")
        elif wrong := call.check(answer["response"]):
            problems.append(f"{call.label} {wrong}")
    if compiled := result["compiled_from_source"]:
        shown = ", ".join(compiled[:5]) + (
            f" and {len(compiled) - 5} more" if len(compiled) > 5 else ""
        )
        problems.append(
            f"{len(compiled)} layer modules were compiled from source, not loaded from their"
            f" Python {result['python']} bytecode (every cold start would pay for it): {shown}"
        )
    return problems


def _result(completed: subprocess.CompletedProcess[str]) -> dict[str, Any] | None:
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            found: dict[str, Any] = json.loads(line.removeprefix(RESULT_MARKER))
            return found
    return None


def _tail(text: str, lines: int = 25) -> str:
    output = [line for line in text.strip().splitlines() if not line.startswith(RESULT_MARKER)]
    kept = output[-lines:]
    return "  its last output:\n" + "\n".join(f"    | {line}" for line in kept) if kept else ""


def _indent(text: str) -> str:
    return text.strip().replace("\n", "\n      ")


@contextmanager
def fresh_database(workdir: Path) -> Iterator[tuple[str, pwd.struct_passwd | None]]:
    """A new embedded PostgreSQL: its URL, and the user to run the functions as.

    As root, the functions run as the server's own unprivileged user: root could
    write to the read-only layer, and only that user may reach the socket.
    """
    data_dir = workdir / "pgdata"
    server = embedded_db.start(data_dir, stop_at_exit=True)
    try:
        user = pwd.getpwuid(data_dir.stat().st_uid) if os.geteuid() == 0 else None
        if user is not None and user.pw_uid == 0:
            raise VerifyFailed("the embedded PostgreSQL runs as root: no unprivileged user to use")
        yield str(server.get_uri()), user
    finally:
        server.stop()


def verify(build_dir: Path, only: list[str] | None = None) -> None:
    """Raise VerifyFailed unless every function of the build answers as it must.

    `only` narrows it to some functions (name the migrate function too when
    they need the schema and the users: it runs first).
    """
    template_path = build_dir / "template.yaml"
    if not template_path.exists():
        raise VerifyFailed(f"no {template_path}: run `make build` first")
    template = load_template(template_path)
    built = functions(template, build_dir)
    with verify_build_bus.event_bus() as bus:
        _verify(build_dir, template, built, calls_for(build_dir, bus), bus, only)


def _verify(
    build_dir: Path,
    template: dict[str, Any],
    built: dict[str, Function],
    calls: dict[str, list[Call]],
    bus: verify_build_bus.Bus,
    only: list[str] | None,
) -> None:
    template_path = build_dir / "template.yaml"
    if missing := sorted(set(built) - set(calls)):
        raise VerifyFailed(f"{', '.join(missing)}: no requests to verify it with in {__name__}")
    names = [name for name in calls if name in built and (not only or name in only)]
    if unknown := sorted(set(only or []) - set(names)):
        raise VerifyFailed(f"{', '.join(unknown)}: not a function of {template_path}")

    tools = emulator.ensure()
    failures: list[str] = []
    outcomes: list[Outcome] = []
    count, problems = native_problems(build_dir / "SharedLayer", tools.readelf)
    if problems:
        users = ", ".join(sorted(built))
        failures.append(
            f"SharedLayer (the layer of {users}):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    else:
        print(f"layer: {count} native files, all aarch64, none needs a glibc newer than 2.34")

    with tempfile.TemporaryDirectory(prefix="verify-build-") as tmp:
        workdir = Path(tmp)
        layout = lay_out(build_dir, names, workdir)
        try:
            with fresh_database(workdir) as (url, user):
                for name in names:
                    env = {**local_environment(template, built[name]), "DATABASE_URL": url}
                    if name in LOCAL_WEBHOOK_FUNCTIONS:  # the receiver is on loopback
                        env["WEBHOOKS_ALLOW_LOCAL"] = "true"
                    if name == RELAY_FUNCTION:  # its bus, on loopback
                        env |= {
                            "AWS_ENDPOINT_URL_EVENTBRIDGE": bus.url,
                            "AWS_ACCESS_KEY_ID": "verify-build",
                            "AWS_SECRET_ACCESS_KEY": "verify-build",
                            "EVENT_BUS_NAME": "verify-build",
                        }
                    try:
                        outcome = run_function(
                            built[name], env, calls[name], layout, tools.python, user
                        )
                        outcomes.append(outcome)
                    except VerifyFailed as failed:  # the others are still worth hearing
                        failures.append(str(failed))
        finally:
            make_writable(workdir)
    if failures:
        raise VerifyFailed("\n".join(failures))
    modules = frozenset[str]().union(*(outcome.layer_modules for outcome in outcomes))
    print(
        f"verified {', '.join(names)} on aarch64 CPython {outcomes[0].python} (qemu): every"
        f" answer as expected; the {len(modules)} layer modules they imported all loaded from"
        " their bytecode"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    parser.add_argument(
        "--only", action="append", metavar="FUNCTION", help="verify only this function (repeatable)"
    )
    args = parser.parse_args(argv)
    try:
        verify(args.build_dir.resolve(), args.only)
    except (VerifyFailed, emulator.SetupFailed) as failed:
        print(f"verify-build FAILED\n{failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
