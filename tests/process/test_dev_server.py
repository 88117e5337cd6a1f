"""`make dev`'s server, as a subprocess on a free port, driven over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from local import embedded_db
from tests.process.local_server import (
    REPO,
    LocalServer,
    free_port,
    processes_using,
    request_lines,
    run_module,
    start_local_server,
)

ALL_TIMES = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server for the module, on its own embedded PostgreSQL."""
    folder = tmp_path_factory.mktemp("dev")
    running = start_local_server(folder / "server.log", "--data-dir", str(folder / "pgdata"))
    yield running
    running.interrupt()


def booking(user: str, date: str, time: str) -> dict[str, str]:
    return {"user_id": user, "date": date, "time": time}


class TestContractOverHttp:
    def test_health(self, server: LocalServer) -> None:
        response = server.request("GET", "/health")
        assert (response.status, response.json) == (200, {"status": "ok"})
        assert response.headers["Content-Type"] == "application/json"

    def test_slots_of_an_empty_day(self, server: LocalServer) -> None:
        response = server.request("GET", "/slots?date=2031-03-03")
        assert (response.status, response.json) == (200, {"available_times": ALL_TIMES})

    def test_slots_with_a_bad_date(self, server: LocalServer) -> None:
        for query in ("?date=2024-02-30", "?date=2024-1-5", "", "?date="):
            response = server.request("GET", f"/slots{query}")
            assert (response.status, response.json) == (400, {"error": "Invalid date format"})

    def test_book_then_slot_full_then_gone_from_the_list(self, server: LocalServer) -> None:
        first = server.post_json("/bookings", booking("user_alice", "2031-03-04", "10:00"))
        second = server.post_json("/bookings", booking("user_bob", "2031-03-04", "10:00"))
        slots = server.request("GET", "/slots?date=2031-03-04")

        assert first.status == 200
        assert first.json["booking_id"].startswith("booking_")
        assert (second.status, second.json) == (400, {"error": "Slot full"})
        assert slots.json == {"available_times": [t for t in ALL_TIMES if t != "10:00"]}

    @pytest.mark.parametrize(
        ("payload", "error"),
        [
            (booking("user_alice", "2031-03-05", "17:00"), "Shop closed"),
            (booking("user_alice", "2031-03-05", "08:00"), "Shop closed"),
            (booking("user_nobody", "2031-03-05", "10:00"), "User not found"),
            (booking("user_alice", "2031-02-29", "10:00"), "Invalid date format"),
            (booking("user_alice", "2031-03-05", "9:00"), "Invalid time format"),
            (booking("user_alice", "2031-03-05", "10:30"), "Time must be on the hour"),
            ({"user_id": "user_alice"}, "date: Field required"),
        ],
    )
    def test_refused_bookings(
        self, server: LocalServer, payload: dict[str, str], error: str
    ) -> None:
        response = server.post_json("/bookings", payload)
        assert (response.status, response.json) == (400, {"error": error})

    def test_malformed_json(self, server: LocalServer) -> None:
        response = server.request(
            "POST", "/bookings", b"{oops", {"Content-Type": "application/json"}
        )
        assert (response.status, response.json) == (
            400,
            {"error": "Request body must be valid JSON"},
        )

    def test_form_encoded_body_arrives_base64_and_is_still_read(self, server: LocalServer) -> None:
        # curl -d without a Content-Type sends form encoding; API Gateway passes it base64-encoded.
        body = json.dumps(booking("user_dave", "2031-03-06", "09:00")).encode()
        response = server.request(
            "POST", "/bookings", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert response.status == 200

    def test_a_route_not_in_the_template_is_api_gateways_404(self, server: LocalServer) -> None:
        for method, path in (("GET", "/nope"), ("DELETE", "/bookings"), ("PUT", "/bookings/x")):
            response = server.request(method, path)
            assert (response.status, response.body) == (404, b'{"message":"Not Found"}')
            assert response.headers["Content-Type"] == "application/json"

    def test_a_body_over_10_mb_is_api_gateways_413(self, server: LocalServer) -> None:
        too_large = b"x" * (10 * 1024 * 1024 + 1)
        response = server.request("POST", "/bookings", too_large, {"Content-Type": "text/plain"})
        assert (response.status, response.body) == (413, b'{"message":"Request Entity Too Large"}')

    def test_each_request_is_one_line_naming_its_outcome(self, server: LocalServer) -> None:
        server.post_json("/bookings", booking("user_alice", "2031-03-07", "09:00"))
        server.post_json("/bookings", booking("user_bob", "2031-03-07", "09:00"))
        server.request("GET", "/nope")
        lines = [
            (line.method, line.path, line.status, line.outcome, line.function)
            for line in request_lines(server.log())
        ]
        assert ("POST", "/bookings", 200, "OK", "BookingsFunction") in lines
        assert ("POST", "/bookings", 400, "Slot full", "BookingsFunction") in lines
        assert ("GET", "/nope", 404, "Not Found", "-") in lines

    def test_the_console_shows_no_info_logs_or_metrics_by_default(
        self, server: LocalServer
    ) -> None:
        server.request("GET", "/slots?date=2031-03-07")
        log = server.log()
        assert '"level":"INFO"' not in log
        assert '"_aws"' not in log  # EMF metrics


def test_simultaneous_bookings_of_one_slot_over_http_give_one_booking(server: LocalServer) -> None:
    attempts = 20
    release = threading.Barrier(attempts)
    responses = []
    users = ["user_alice", "user_bob", "user_charlie", "user_dave"]

    def attempt(n: int) -> None:
        release.wait(timeout=30)
        responses.append(
            server.post_json("/bookings", booking(users[n % 4], "2031-04-01", "11:00"))
        )

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(response.status for response in responses)
    assert statuses == [200] + [400] * (attempts - 1)
    assert [r.json for r in responses if r.status == 400] == [{"error": "Slot full"}] * (
        attempts - 1
    )
    slots = server.request("GET", "/slots?date=2031-04-01").json["available_times"]
    assert "11:00" not in slots


ECHO_FUNCTION = """
import base64

from aws_lambda_powertools import Logger

logger = Logger(service="echo")


def handler(event, context):
    shape = (event.get("queryStringParameters") or {}).get("shape")
    if shape == "text":
        return "plain"
    if shape == "warn":
        logger.warning("echo was asked to warn")
        return "warned"
    if shape == "full":
        return {
            "statusCode": 201,
            "headers": {"X-Echo": "yes", "Content-Type": "application/octet-stream"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\\x00\\x01binary").decode(),
            "isBase64Encoded": True,
        }
    return {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "aws_request_id": context.aws_request_id,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
"""

ECHO_RESOURCE = """
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo
      Handler: app.handler
      Events:
        Echo:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: ANY
            Path: /echo/{name}
        Files:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: GET
            Path: /files/{path+}
        Fallback:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
"""


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The server on a copy of the template with one more function and its routes."""
    folder = tmp_path_factory.mktemp("template")
    (folder / "echo").mkdir()
    (folder / "echo" / "app.py").write_text(ECHO_FUNCTION)
    template = (REPO / "template.yaml").read_text()
    template = template.replace("CodeUri: functions/", f"CodeUri: {REPO}/functions/")
    template = template.replace("\nOutputs:", ECHO_RESOURCE + "\nOutputs:")
    (folder / "template.yaml").write_text(template)
    running = start_local_server(
        folder / "server.log",
        "--template",
        str(folder / "template.yaml"),
        "--data-dir",
        str(folder / "pgdata"),
    )
    yield running
    running.interrupt()


class TestBookingLifecycleOverHttp:
    """The routes added around the contract, as a client reaches them through the gateway."""

    def test_book_look_up_list_cancel_and_rebook(self, server: LocalServer) -> None:
        booked = server.post_json("/bookings", booking("user_charlie", "2031-05-01", "11:00"))
        booking_id = booked.json["booking_id"]

        shown = server.request("GET", f"/bookings/{booking_id}")
        listed = server.request(
            "GET", "/bookings?user_id=user_charlie&from=2031-05-01&to=2031-05-01"
        )
        cancelled = server.request("DELETE", f"/bookings/{booking_id}")
        again = server.request("DELETE", f"/bookings/{booking_id}")
        rebooked = server.post_json("/bookings", booking("user_dave", "2031-05-01", "11:00"))

        assert (shown.status, shown.json["status"], shown.json["time"]) == (
            200,
            "confirmed",
            "11:00",
        )
        assert listed.json == {"bookings": [shown.json], "next_cursor": None}
        assert (cancelled.status, cancelled.json["status"]) == (200, "cancelled")
        assert (again.status, again.json) == (200, cancelled.json)
        assert rebooked.status == 200

    def test_an_unknown_booking_is_a_404(self, server: LocalServer) -> None:
        for method in ("GET", "DELETE"):
            response = server.request(method, "/bookings/booking_nope")
            assert (response.status, response.json) == (404, {"error": "Booking not found"})

    def test_a_keyed_retry_replays_the_first_answer(self, server: LocalServer) -> None:
        body = json.dumps(booking("user_charlie", "2031-05-02", "09:00")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": "dev-server-1"}

        first = server.request("POST", "/bookings", body, headers)
        retried = server.request("POST", "/bookings", body, headers)
        other = json.dumps(booking("user_charlie", "2031-05-02", "10:00")).encode()
        reused = server.request("POST", "/bookings", other, headers)

        assert first.status == retried.status == 200
        assert retried.json == first.json
        assert retried.headers["Idempotent-Replayed"] == "true"
        assert reused.status == 422


class TestTemplateDrivenGateway:
    def test_a_route_added_to_the_template_is_served(self, echo_server: LocalServer) -> None:
        response = echo_server.request("GET", "/echo/world")
        assert response.status == 200
        assert response.json["event"]["routeKey"] == "ANY /echo/{name}"
        assert response.json["event"]["pathParameters"] == {"name": "world"}

    def test_the_event_is_a_valid_http_api_v2_event(self, echo_server: LocalServer) -> None:
        response = echo_server.request(
            "POST",
            "/echo/x%20y?a=1&a=2&b=&c=%C3%A9",
            b'{"k": 1}',
            {"Content-Type": "application/json", "Cookie": "s=1; t=2", "X-Custom": "Value"},
        )
        event = response.json["event"]
        parsed = APIGatewayProxyEventV2Model.model_validate(event)  # Powertools' own schema

        assert parsed.version == "2.0"
        assert event["rawPath"] == "/echo/x%20y"
        assert event["pathParameters"] == {"name": "x y"}
        assert event["rawQueryString"] == "a=1&a=2&b=&c=%C3%A9"
        assert event["queryStringParameters"] == {"a": "1,2", "b": "", "c": "é"}
        assert event["cookies"] == ["s=1", "t=2"]
        assert event["headers"]["x-custom"] == "Value"
        assert all(name == name.lower() for name in event["headers"])
        assert (event["body"], event["isBase64Encoded"]) == ('{"k": 1}', False)
        http = event["requestContext"]["http"]
        assert (http["method"], http["path"], http["sourceIp"]) == (
            "POST",
            "/echo/x%20y",
            "127.0.0.1",
        )
        context = event["requestContext"]
        assert context["stage"] == "$default"
        assert context["requestId"] and context["time"] and context["timeEpoch"] > 0

    def test_a_binary_body_arrives_base64_encoded(self, echo_server: LocalServer) -> None:
        payload = b"\x00\xff\x10binary"
        response = echo_server.request(
            "PUT", "/echo/bin", payload, {"Content-Type": "application/octet-stream"}
        )
        event = response.json["event"]
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == payload

    def test_the_handler_gets_a_lambda_context(self, echo_server: LocalServer) -> None:
        context = echo_server.request("GET", "/echo/ctx").json["context"]
        assert context["function_name"] == "EchoFunction"
        assert context["invoked_function_arn"].endswith(":function:EchoFunction")
        assert context["memory_limit_in_mb"] > 0 and context["aws_request_id"]
        assert 0 < context["remaining_ms"] <= 10_000

    def test_a_greedy_path_parameter_takes_the_rest_of_the_path(
        self, echo_server: LocalServer
    ) -> None:
        event = echo_server.request("GET", "/files/a/b/c.txt").json["event"]
        assert event["pathParameters"] == {"path": "a/b/c.txt"}
        assert event["routeKey"] == "GET /files/{path+}"

    def test_the_default_route_takes_what_no_other_route_matches(
        self, echo_server: LocalServer
    ) -> None:
        response = echo_server.request("DELETE", "/no/such/route?x=1")
        event = response.json["event"]
        assert response.status == 200
        assert (event["routeKey"], event["rawPath"], event["rawQueryString"]) == (
            "$default",
            "/no/such/route",
            "x=1",
        )
        assert "pathParameters" not in event
        health = echo_server.request("GET", "/health")
        assert (health.status, health.json) == (200, {"status": "ok"})

    def test_a_handlers_warnings_show_on_the_quiet_console(self, echo_server: LocalServer) -> None:
        assert echo_server.request("GET", "/echo/w?shape=warn").status == 200
        records = [json.loads(line) for line in echo_server.log().splitlines() if line[:1] == "{"]
        assert [(r["level"], r["message"]) for r in records if r.get("service") == "echo"] == [
            ("WARNING", "echo was asked to warn")
        ]

    def test_a_bare_string_result_is_sent_as_json(self, echo_server: LocalServer) -> None:
        response = echo_server.request("GET", "/echo/s?shape=text")
        assert (response.status, response.body) == (200, b'"plain"')
        assert response.headers["Content-Type"] == "application/json"

    def test_a_full_result_maps_status_headers_cookies_and_binary_body(
        self, echo_server: LocalServer
    ) -> None:
        response = echo_server.request("GET", "/echo/s?shape=full")
        assert response.status == 201
        assert response.headers["X-Echo"] == "yes"
        assert response.body == b"\x00\x01binary"
        # One Set-Cookie header per cookie: read them with a client that keeps repeats.
        with urllib.request.urlopen(echo_server.base_url + "/echo/s?shape=full") as raw:
            assert raw.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]


def test_json_logs_show_handler_logs_and_metrics_and_agree_on_cold_starts(
    tmp_path: Path,
) -> None:
    # One worker: it hosts both functions, as each worker of `make dev` does.
    running = start_local_server(
        tmp_path / "server.log",
        "--data-dir",
        str(tmp_path / "pgdata"),
        "--workers",
        "1",
        "--json-logs",
    )
    try:
        for _ in range(2):
            assert running.request("GET", "/slots?date=2031-03-09").status == 200
    finally:
        running.interrupt()
    log = running.log()
    records = [json.loads(line) for line in log.splitlines() if line[:1] == "{"]
    invocations: dict[str, tuple[str, bool]] = {}  # by request id: one entry per invocation
    for record in records:
        if "function_request_id" in record:
            invocations.setdefault(
                record["function_request_id"], (record["function_name"], record["cold_start"])
            )
    console = [(line.function, line.cold) for line in request_lines(log)]

    assert list(invocations.values()) == console
    # The readiness check's /health came first, in the same worker.
    assert console[0] == ("HealthFunction", True)
    assert [cold for name, cold in console if name == "SlotsFunction"] == [True, False]
    cold_start_metrics = [r["function_name"] for r in records if "ColdStart" in r]
    assert cold_start_metrics == ["HealthFunction", "SlotsFunction"]


def test_ctrl_c_stops_everything_and_a_restart_keeps_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    first = start_local_server(tmp_path / "first.log", "--data-dir", str(data_dir))
    booked = first.post_json("/bookings", booking("user_alice", "2031-05-05", "13:00"))
    assert booked.status == 200

    assert first.interrupt() == 0
    assert processes_using(data_dir) == []
    assert not (data_dir / "postmaster.pid").exists()

    second = start_local_server(tmp_path / "second.log", "--data-dir", str(data_dir))
    try:
        slots = second.request("GET", "/slots?date=2031-05-05").json["available_times"]
        assert "13:00" not in slots
    finally:
        assert second.interrupt() == 0
    assert processes_using(data_dir) == []


def test_a_second_dev_server_on_the_same_data_is_refused_in_one_line(server: LocalServer) -> None:
    data_dir = server.log_path.with_name("pgdata")  # where the fixture put it
    result = run_to_exit("--port", str(free_port()), "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert (
        f"make dev is already running on {data_dir}"
        f" (pid {server.process.pid}, serving {server.base_url}): use that one, or stop it first"
    ) in result.stderr
    assert server.request("GET", "/health").status == 200


def test_a_database_it_did_not_start_is_left_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    theirs = embedded_db.start(data_dir)  # someone else's, already running
    try:
        running = start_local_server(tmp_path / "server.log", "--data-dir", str(data_dir))
        assert running.interrupt() == 0
        with psycopg.connect(theirs.get_uri()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert f"left running (pid {theirs.get_pid()})" in running.log()
    finally:
        theirs.stop()


def test_closing_the_terminal_stops_the_server_instead_of_reloading_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    running = start_local_server(tmp_path / "server.log", "--data-dir", str(data_dir))
    os.killpg(running.process.pid, signal.SIGHUP)  # what a closed terminal sends
    assert running.process.wait(timeout=20) == 0
    assert processes_using(data_dir) == []


def run_to_exit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the dev server expecting it to refuse to start."""
    return run_module("local.dev_server", *args, env=env)


class TestStartupErrors:
    def test_a_port_in_use_is_reported(self, server: LocalServer, tmp_path: Path) -> None:
        # A data folder of its own: the checkout's may be a running `make dev`'s.
        result = run_to_exit("--port", str(server.port), "--data-dir", str(tmp_path / "pgdata"))
        assert result.returncode == 1
        assert result.stderr.endswith(
            f" error: port {server.port} is in use by pid {server.process.pid}:"
            " stop what runs there, or set PORT\n"
        )

    def test_an_unreadable_template_is_reported(self, tmp_path: Path) -> None:
        broken = tmp_path / "template.yaml"
        broken.write_text("Resources: [unclosed")
        result = run_to_exit("--port", str(free_port()), "--template", str(broken))
        assert result.returncode == 1
        assert f"cannot read template {broken}" in result.stderr

    def test_a_port_that_is_not_a_number_is_one_line(self) -> None:
        result = run_to_exit(env={"PORT": "abc"})
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1
        assert result.stderr.endswith(" error: PORT='abc' is not a port number (1 to 65535)\n")

    @pytest.mark.parametrize(
        ("url", "password", "reason"),
        [
            ("postgresql://app:s3cr3t!Pw@127.0.0.1:1/appointments", "s3cr3t!Pw", "refused"),
            # An @ in a password, not percent-encoded: read as the functions read it.
            ("postgresql://app:s3cr@3t!Pw@127.0.0.1:1/db", "s3cr@3t!Pw", "refused"),
            # Pasted with a space in front: still a URL, its password still masked.
            (" postgresql://app:s3cr3tPw@127.0.0.1:1/db", "s3cr3tPw", "refused"),
            ("postgresql://app:s3cr3t!Pw@[::1/appointments", "s3cr3t!Pw", "IPv6 host address"),
            ("host=127.0.0.1 password='s3cr3t!Pw", "s3cr3t!Pw", "unterminated quoted string"),
        ],
    )
    def test_a_bad_database_url_is_one_line_with_libpqs_reason_and_no_password(
        self, url: str, password: str, reason: str
    ) -> None:
        result = run_to_exit("--port", str(free_port()), env={"DATABASE_URL": url})
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and "\t" not in result.stderr
        assert " error: " in result.stderr and reason in result.stderr
        for start in range(len(password) - 3):
            assert password[start : start + 4] not in result.stderr

    def test_an_unreachable_database_is_named_without_its_password(self) -> None:
        url = "postgresql://app:s3cr3t!Pw@127.0.0.1:1/appointments"
        result = run_to_exit("--port", str(free_port()), env={"DATABASE_URL": url})
        assert "cannot reach the database at postgresql://app:***@127.0.0.1:1/appointments: " in (
            result.stderr
        )


def test_the_example_catalogue_is_there_to_try_in_one_command(tmp_path: Path) -> None:
    running = start_local_server(
        tmp_path / "server.log", "--data-dir", str(tmp_path / "pgdata"), "--example-catalogue"
    )
    try:
        services = running.request("GET", "/shops/north/services")
        offered = running.request(
            "GET", "/shops/north/availability?service_id=diagnosis&from=2030-06-03&to=2030-06-03"
        )
    finally:
        running.interrupt()
    assert services.status == 200
    assert [s["service_id"] for s in services.json["services"]] == ["diagnosis", "oil-change"]
    assert offered.status == 200
    first = offered.json["days"][0]["slots"][0]
    assert (first["time"], first["resource_ids"]) == ("08:00", ["ana"])
    assert "example catalogue: shop north" in running.log()
