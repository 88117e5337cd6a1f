"""appointments.platform.observability writes what Powertools' Logger and Metrics wrote.

The module replaced them to save their import at cold start; Powertools stays
installed (Tracer, Parameters), so the same invocations are run through both,
from the same lines of code, and every printed line compared: its keys in
order and its values, timestamps aside (both are checked for their form).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest
from aws_lambda_powertools import Logger as PowertoolsLogger
from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from appointments.api import web
from appointments.platform import observability, redaction
from local.lambda_context import LocalLambdaContext

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}")
EVENTS = [
    {"routeKey": "POST /bookings", "requestContext": {"requestId": "request-1"}},
    {"routeKey": "GET /slots", "requestContext": {"requestId": "request-2"}},
    {"routeKey": "GET /health"},  # no request id: no correlation_id
    {"routeKey": "GET /health", "requestContext": "not an object"},
]


def invocation(logger: Any, count: Any, event: dict[str, Any], number: int) -> None:
    """What a handler logs and counts, in every shape the functions use."""
    logger.append_keys(route=event.get("routeKey"))
    logger.debug("not shown at INFO")
    if number % 2 == 0:
        count("SlotFull")
        count("SlotFull")
        count("BookingCreated")
    logger.info("request handled", extra={"status": 200, "duration_ms": 0.25})
    logger.warning("123")  # JSON text: logged as the number
    # Logged as JSON or as text, whichever Powertools chose: the shortcut for prose must agree.
    for text in (' \n{"a": [1, null]}', "-Infinity", "true", "tru", "[1, 2", "\u00a0{}", "", "I"):
        logger.info(text)
    logger.warning("cannot connect to the database", extra={"cause": "password=s3cr3t-pw x"})
    logger.info("ünïcode \u2028 and a quote \"'")
    try:
        error = ValueError("boom")
        if number == 1:
            error.add_note("a note")
        raise error
    except ValueError:
        logger.exception("unhandled error")
    logger.error("misconfigured: DATABASE_URL", extra={"route": "overridden", "purged": None})


CONTEXT = LocalLambdaContext("bookings")


def run(logger: Any, metrics: Any, count: Any, correlation: Any) -> list[str]:
    context = CONTEXT
    printed = io.StringIO()
    for number, event in enumerate(EVENTS):

        @metrics.log_metrics(capture_cold_start_metric=True)
        @logger.inject_lambda_context(clear_state=True, **correlation)
        def handler(event: dict[str, Any], context: Any, number: int = number) -> None:
            invocation(logger, count, event, number)

        with redirect_stdout(printed):
            handler(event, context)
    return printed.getvalue().split("\n")[:-1]


@pytest.fixture
def cold_containers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import aws_lambda_powertools.logging.logger as powertools_logger
    from aws_lambda_powertools.metrics.provider import cold_start

    monkeypatch.setattr(powertools_logger, "is_cold_start", True)
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    observability.start_cold()
    redaction.register("s3cr3t-pw")
    yield


def comparable(line: str) -> dict[str, Any]:
    record = json.loads(line)
    if "timestamp" in record:
        assert TIMESTAMP.fullmatch(record["timestamp"]), record["timestamp"]
        record["timestamp"] = "…"
    if "_aws" in record:
        assert isinstance(record["_aws"]["Timestamp"], int)
        record["_aws"]["Timestamp"] = "…"
    return record


@pytest.mark.usefixtures("cold_containers")
def test_every_line_is_powertools_line() -> None:
    ours = observability.Logger()
    ours_metrics = observability.Metrics()

    def ours_count(name: str) -> None:
        ours_metrics.add_metric(name, "Count", 1)

    theirs_printed = io.StringIO()
    theirs = PowertoolsLogger(
        json_serializer=observability._redacted_json,
        logger_handler=logging.StreamHandler(theirs_printed),
    )
    theirs_metrics = PowertoolsMetrics()

    def theirs_count(name: str) -> None:
        theirs_metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    with io.StringIO() as ours_printed:
        ours.set_stream(ours_printed)
        emf_ours = run(ours, ours_metrics, ours_count, {"correlation_id": web.request_id})
        logs_ours = ours_printed.getvalue().split("\n")[:-1]
    path = {"correlation_id_path": correlation_paths.API_GATEWAY_HTTP}
    emf_theirs = run(theirs, theirs_metrics, theirs_count, path)
    logs_theirs = theirs_printed.getvalue().split("\n")[:-1]

    assert len(logs_ours) == len(logs_theirs) >= 6 * len(EVENTS)
    assert [comparable(line) for line in logs_ours] == [comparable(line) for line in logs_theirs]
    assert [list(comparable(line)) for line in logs_ours] == [
        list(comparable(line)) for line in logs_theirs
    ]  # the same keys in the same order
    assert [comparable(line) for line in emf_ours] == [comparable(line) for line in emf_theirs]
    assert [line.split('"Timestamp"')[0] for line in emf_ours] == [
        line.split('"Timestamp"')[0] for line in emf_theirs
    ]
    assert "s3cr3t-pw" not in "".join(logs_ours)
