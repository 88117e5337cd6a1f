"""What the handlers print for CloudWatch: structured logs and EMF metrics.

Logs must say what happened (route, outcome, duration, correlation id) and
never carry a password, a connection string or a request body.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from appointments.data import database
from appointments.platform import settings, tracing
from tests.conftest import Invoke, Printed

BOOKING = {"user_id": "user_alice", "date": "2024-01-20", "time": "10:00"}


def post(invoke: Invoke, body: dict[str, Any]) -> dict[str, Any]:
    return invoke("bookings", "POST", "/bookings", body=json.dumps(body))


def metrics_in(records: list[dict[str, Any]]) -> dict[str, float]:
    """Every EMF metric value printed, summed by name."""
    totals: dict[str, float] = {}
    for record in records:
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            assert directive["Namespace"] == "Appointments"
            for metric in directive["Metrics"]:
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(record[metric["Name"]])
    return totals


def request_lines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("message") == "request handled"]


def test_each_request_logs_route_status_outcome_duration_and_correlation_id(
    invoke: Invoke, stdout_json: Printed
) -> None:
    event_fields = {"headers": {"content-type": "application/json"}}
    response = invoke("bookings", "POST", "/bookings", body=json.dumps(BOOKING), **event_fields)
    [line] = request_lines(stdout_json())

    assert response["statusCode"] == 200
    assert line["level"] == "INFO"
    assert line["service"] == "appointments"
    assert (line["route"], line["status"], line["outcome"]) == (
        "POST /bookings",
        200,
        "BookingCreated",
    )
    assert line["duration_ms"] >= 0
    assert line["correlation_id"]  # API Gateway's request id
    assert "user_alice" not in json.dumps(line)  # no body, no personal data


@pytest.mark.parametrize(
    ("body", "metric"),
    [
        (BOOKING, "BookingCreated"),
        ({**BOOKING, "time": "17:00"}, "ShopClosed"),
        ({**BOOKING, "user_id": "user_nobody"}, "UserNotFound"),
        ({**BOOKING, "date": "2024-13-01"}, "InvalidRequest"),
    ],
)
def test_each_booking_outcome_is_a_metric(
    invoke: Invoke, stdout_json: Printed, body: dict[str, str], metric: str
) -> None:
    stdout_json()  # drop what came before
    post(invoke, body)
    counted = metrics_in(stdout_json())
    assert counted.get(metric) == 1
    business = {"BookingCreated", "SlotFull", "ShopClosed", "UserNotFound", "InvalidRequest"}
    assert {name for name in counted if name in business} == {metric}


def test_a_taken_slot_counts_slot_full(invoke: Invoke, stdout_json: Printed) -> None:
    post(invoke, BOOKING)
    stdout_json()
    post(invoke, {**BOOKING, "user_id": "user_bob"})
    assert metrics_in(stdout_json()).get("SlotFull") == 1


def test_a_bad_slots_query_counts_invalid_request(invoke: Invoke, stdout_json: Printed) -> None:
    stdout_json()
    invoke("slots", "GET", "/slots", raw_query="date=nope")
    assert metrics_in(stdout_json()).get("InvalidRequest") == 1


def test_the_first_invocation_of_a_container_counts_a_cold_start(
    invoke: Invoke, stdout_json: Printed
) -> None:
    from appointments.platform import observability

    observability.start_cold()  # as in a fresh container
    invoke("health", "GET", "/health")
    invoke("health", "GET", "/health")
    cold = [r for r in stdout_json() if "ColdStart" in r]
    assert len(cold) == 1
    assert cold[0]["function_name"] == "health"


DB_PASSWORD = "pa55-w0rd-never-logged"


def test_a_database_error_is_logged_and_counted_without_the_password(
    invoke: Invoke, stdout_json: Printed, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://app:{DB_PASSWORD}@127.0.0.1:1/appointments?connect_timeout=2"
    monkeypatch.setenv("DATABASE_URL", url)
    settings.get_settings.cache_clear()
    database.close()
    try:
        response = post(invoke, BOOKING)
        slots = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    finally:
        settings.get_settings.cache_clear()

    printed = stdout_json()
    everything = json.dumps(printed) + response["body"] + slots["body"]
    assert (response["statusCode"], slots["statusCode"]) == (503, 503)
    assert DB_PASSWORD not in everything
    assert url not in everything
    warnings = [r for r in printed if r.get("level") == "WARNING"]
    assert [w["message"] for w in warnings] == ["cannot connect to the database"] * 2
    assert "127.0.0.1" in warnings[0]["cause"]  # where it tried, so someone can act
    assert metrics_in(printed).get("DatabaseError") == 2
    assert [(r["route"], r["status"]) for r in request_lines(printed)] == [
        ("POST /bookings", 503),
        ("GET /slots", 503),
    ]


def test_an_unexpected_error_is_logged_in_full_and_answered_without_detail(
    invoke: Invoke, stdout_json: Printed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appointments.data import store

    def broken(*_: Any) -> Any:
        raise RuntimeError("SELECT secret_column FROM internals")

    monkeypatch.setattr(store, "book_slot", broken)
    response = post(invoke, BOOKING)

    assert (response["statusCode"], response["json"]) == (500, {"error": "Internal server error"})
    assert "SELECT" not in response["body"] and "Traceback" not in response["body"]
    [error] = [r for r in stdout_json() if r.get("level") == "ERROR"]
    assert error["message"] == "unhandled error"
    assert "SELECT secret_column" in error["exception"]


class FakeXRay:
    """Stands in for the X-Ray SDK (an AWS service) and records subsegment names."""

    def __init__(self) -> None:
        self.subsegments: list[str] = []

    def in_subsegment(self, name: str) -> Any:
        from contextlib import nullcontext

        self.subsegments.append(name)
        return nullcontext()


def test_with_tracing_on_each_database_call_is_a_subsegment(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    xray = FakeXRay()
    monkeypatch.setattr(tracing, "ENABLED", True)
    monkeypatch.setattr(tracing, "get_tracer", lambda: type("T", (), {"provider": xray})())
    invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    post(invoke, BOOKING)
    invoke("health", "GET", "/health")
    assert xray.subsegments == ["## postgres", "## postgres"]


def test_with_tracing_off_the_xray_sdk_is_never_imported() -> None:
    import subprocess
    import sys

    code = (
        "import os; os.environ['POWERTOOLS_TRACE_DISABLED']='true';"
        "import functions.bookings.app, sys;"
        "print(any(m.startswith('aws_xray_sdk') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_malformed_database_url_is_a_500_that_names_the_problem_but_not_the_password(
    invoke: Invoke, stdout_json: Printed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The password holds a raw `%` and an `@`: taken as written. The option is what is wrong.
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql://app:se%zz@cret@db.example/appointments?sslmod=require"
    )
    settings.get_settings.cache_clear()
    database.close()
    try:
        response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    finally:
        settings.get_settings.cache_clear()

    printed = stdout_json()
    assert (response["statusCode"], response["json"]) == (500, {"error": "Internal server error"})
    assert "zz@cret" not in json.dumps(printed) + response["body"]
    [error] = [r for r in printed if r.get("level") == "ERROR"]
    assert error["message"].startswith("misconfigured: the database URL is not valid: ")
    assert "sslmod" in error["message"]  # libpq's reason: the option it does not know
