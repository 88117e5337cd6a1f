"""The container's structured logger and EMF metrics.

They write what aws-lambda-powertools' Logger and Metrics wrote, field for
field (tests/unit/test_observability_format.py compares the two), without
their import: Powertools' logging and metrics packages cost every cold start
~40 ms (pathlib, inspect, jmespath, typing_extensions and its user-agent hook
among them), and formatting each line through `logging` most of a warm
request's overhead. What is kept of Powertools' behaviour, as configured
here:
- one JSON object per line on stdout: level, location, message, timestamp,
  service, then the invocation's keys (cold_start, function_name,
  function_memory_size, function_arn, function_request_id, correlation_id),
  the appended keys, the call's `extra`, an exception's text, name and stack
  trace, and xray_trace_id; keys whose value is None left out; a message that
  is JSON text logged as that JSON;
- the level from AWS_LAMBDA_LOG_LEVEL, else POWERTOOLS_LOG_LEVEL, else INFO;
- an EMF document per invocation that counted something (dimension service),
  and a ColdStart one (function_name, service) after a container's first
  successful invocation.
Where they differ: POWERTOOLS_METRICS_DISABLED prints no ColdStart metric
either (Powertools printed it); Powertools' own stderr warnings (POWERTOOLS_DEV,
a Lambda log level stricter than ours) are not printed; and what this service
never sets is not read: sampling, event logging, provisioned concurrency's
warm first invocation, the WARN and FATAL level aliases (an unknown level
reads as INFO; Powertools refused it).
The migrate function, which only logs, imports this module alone.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any, Final, TypeVar, overload

from appointments.platform import redaction

Handler = TypeVar("Handler", bound=Callable[..., Any])

_LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
# Lambda's advanced logging controls name levels their own way (Powertools maps
# TRACE to NOTSET; here it is DEBUG, the most verbose level this logger has).
_LAMBDA_LEVELS: Final = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
}
_TRUE: Final = frozenset({"1", "y", "yes", "t", "true", "on"})
# What json.loads can find first, past whitespace: NaN, Infinity and -Infinity included.
_JSON_OPENERS: Final = frozenset('{["-0123456789tfnNI')

# The fields that carry free text, where libpq or botocore may have quoted a
# piece of a password they could not parse. The others (timestamp, service,
# route, status...) are ours and fixed: masking a piece of them would garble
# them, and tell a reader of the logs what the password contains.
_FREE_TEXT_FIELDS = frozenset({"message", "exception", "cause", "reason", "traceback"})


def _redacted_json(record: dict[str, Any]) -> str:
    """A log record as Powertools writes it: None values left out, passwords masked in free text."""
    redacted = {
        key: redaction.scrub(value)
        if key in _FREE_TEXT_FIELDS and isinstance(value, str)
        else value
        for key, value in record.items()
        if value is not None
    }
    return _LOG_ENCODER.encode(redacted)


# What json.dumps(default=str, separators=(",", ":"), ensure_ascii=False) would
# build for every line, built once.
_LOG_ENCODER: Final = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False)


class _ColdStart:
    """A container's first invocation, as the log record and the ColdStart metric each see it."""

    log = True
    metric = True


def start_cold() -> None:
    """Take the next invocation for the container's first (make dev: a worker hosts many)."""
    _ColdStart.log = _ColdStart.metric = True


class Logger:
    """One JSON line per record, with the invocation's keys."""

    def __init__(self) -> None:
        self.service = os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
        self.level = _LEVELS[_level_name()]
        self.stream: IO[str] = sys.stdout
        self._keys: dict[str, Any] = {}

    def set_stream(self, stream: IO[str]) -> IO[str]:
        """Write to `stream` from now on; the previous one is returned."""
        previous, self.stream = self.stream, stream
        return previous

    def append_keys(self, **keys: Any) -> None:
        self._keys.update(keys)

    def inject_lambda_context(
        self,
        *,
        correlation_id: Callable[[dict[str, Any]], Any] | None = None,
        clear_state: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Decorate a handler: the invocation's keys on each of its records."""

        def decorate(handler: Handler) -> Handler:
            @functools.wraps(handler)
            def with_context(event: Any, context: Any) -> Any:
                cold_start, _ColdStart.log = _ColdStart.log, False
                if clear_state:
                    self._keys = {}
                self.append_keys(
                    cold_start=cold_start,
                    function_name=context.function_name,
                    function_memory_size=context.memory_limit_in_mb,
                    function_arn=context.invoked_function_arn,
                    function_request_id=context.aws_request_id,
                )
                if correlation_id is not None:
                    self.append_keys(correlation_id=correlation_id(event))
                return handler(event, context)

            return with_context  # type: ignore[return-value]

        return decorate

    def debug(self, message: Any, *, extra: dict[str, Any] | None = None) -> None:
        self._log("DEBUG", message, extra)

    def info(self, message: Any, *, extra: dict[str, Any] | None = None) -> None:
        self._log("INFO", message, extra)

    def warning(self, message: Any, *, extra: dict[str, Any] | None = None) -> None:
        self._log("WARNING", message, extra)

    def error(self, message: Any, *, extra: dict[str, Any] | None = None) -> None:
        self._log("ERROR", message, extra)

    def exception(self, message: Any, *, extra: dict[str, Any] | None = None) -> None:
        """An ERROR record with the exception being handled: its text, name and frames."""
        self._log("ERROR", message, extra, sys.exc_info())

    def _log(
        self,
        level: str,
        message: Any,
        extra: dict[str, Any] | None,
        exc_info: tuple[Any, Any, Any] | None = None,
    ) -> None:
        if _LEVELS[level] < self.level:
            return
        created = time.time()
        caller = sys._getframe(2)  # the caller of info(), warning()...
        record: dict[str, Any] = {
            "level": level,
            "location": f"{caller.f_code.co_name}:{caller.f_lineno}",
            "message": _as_logged(message),
            "timestamp": _timestamp(created),
            "service": self.service,
            **self._keys,
            **(extra or {}),
        }
        if exc_info is not None and exc_info[0] is not None:
            record.update(_exception_fields(exc_info))
        trace = os.environ.get("_X_AMZN_TRACE_ID")
        record["xray_trace_id"] = trace.split(";")[0].replace("Root=", "") if trace else None
        line = _redacted_json(record)
        self.stream.write(line + "\n")
        self.stream.flush()


def _level_name() -> str:
    lambda_level = _LAMBDA_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", ""))
    chosen = os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO"
    return lambda_level or (chosen.upper() if chosen.upper() in _LEVELS else "INFO")


def _as_logged(message: Any) -> Any:
    """Powertools logs a message that is JSON text as that JSON value."""
    # Most messages are prose: one that cannot open a JSON value skips the
    # parse and the ValueError it would raise (a few µs of every request).
    if not isinstance(message, str) or message.lstrip()[:1] not in _JSON_OPENERS:
        return message
    try:
        return json.loads(message)
    except ValueError:
        return message


def _timestamp(created: float) -> str:
    """2026-03-29 10:00:00,123+0000: local time (UTC on Lambda), as Powertools writes it."""
    milliseconds = "%03d" % int((created - int(created)) * 1000)  # noqa: UP031 (as logging)
    return time.strftime(f"%Y-%m-%d %H:%M:%S,{milliseconds}%z", time.localtime(created))


def _exception_fields(exc_info: tuple[Any, Any, Any]) -> dict[str, Any]:
    import traceback  # only when an exception is logged

    kind, error, frames = exc_info
    text = "".join(traceback.format_exception(kind, error, frames)).removesuffix("\n")
    return {
        "exception": text,
        "exception_name": kind.__name__,
        "exception_notes": getattr(error, "__notes__", None),
        "stack_trace": {
            "type": kind.__name__,
            "value": error,
            "module": type(error).__module__,
            "frames": [
                {"file": f.filename, "line": f.lineno, "function": f.name, "statement": f.line}
                for f in traceback.extract_tb(frames)
            ],
        },
    }


def metrics_disabled() -> bool:
    """POWERTOOLS_METRICS_DISABLED, or POWERTOOLS_DEV without it, as Powertools reads them."""
    disabled = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    if disabled is not None:
        return disabled.lower() in _TRUE
    return os.environ.get("POWERTOOLS_DEV", "false").lower() in _TRUE


class Metrics:
    """Business metrics of an invocation, printed as one EMF document when it ends."""

    def __init__(self) -> None:
        self.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
        self.service = os.environ.get("POWERTOOLS_SERVICE_NAME")
        self._units: dict[str, str] = {}
        self._values: dict[str, list[float]] = {}

    def add_metric(self, name: str, unit: str, value: float) -> None:
        self._units[name] = unit
        self._values.setdefault(name, []).append(float(value))

    @overload
    def log_metrics(self, handler: Handler) -> Handler: ...

    @overload
    def log_metrics(
        self, handler: None = None, *, capture_cold_start_metric: bool = False
    ) -> Callable[[Handler], Handler]: ...

    def log_metrics(
        self, handler: Handler | None = None, *, capture_cold_start_metric: bool = False
    ) -> Any:
        """Decorate a handler: its metrics printed when it ends, ColdStart after the first."""
        if handler is None:
            return functools.partial(
                self.log_metrics, capture_cold_start_metric=capture_cold_start_metric
            )

        @functools.wraps(handler)
        def with_metrics(event: Any, context: Any) -> Any:
            try:
                response = handler(event, context)
                if capture_cold_start_metric and _ColdStart.metric:
                    _ColdStart.metric = False
                    self._print_cold_start(context.function_name)
            finally:
                self.flush()
            return response

        return with_metrics

    def flush(self) -> None:
        """Print the metrics counted since the last flush, if any and if metrics are on."""
        if self._values and not _METRICS_DISABLED:
            definitions = [{"Name": name, "Unit": self._units[name]} for name in self._values]
            dimensions = {"service": self.service} if self.service else {}
            self._print(definitions, dimensions, self._values)
        self._units, self._values = {}, {}

    def _print_cold_start(self, function_name: str) -> None:
        if _METRICS_DISABLED:
            return
        dimensions = {"function_name": function_name}
        if self.service:
            dimensions["service"] = self.service
        self._print([{"Name": "ColdStart", "Unit": "Count"}], dimensions, {"ColdStart": [1.0]})

    def _print(
        self, definitions: list[dict[str, str]], dimensions: dict[str, str], values: Any
    ) -> None:
        if self.namespace is None:
            raise ValueError("Must contain a metric namespace.")
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [list(dimensions)],
                        "Metrics": definitions,
                    }
                ],
            },
            **dimensions,
            **values,
        }
        print(json.dumps(document, separators=(",", ":")))


# One of each per container, reused by warm invocations. Service name and
# metrics namespace come from POWERTOOLS_SERVICE_NAME and
# POWERTOOLS_METRICS_NAMESPACE, set in template.yaml.
logger = Logger()
metrics = Metrics()
# POWERTOOLS_METRICS_DISABLED (make dev's quiet console), read once per container.
_METRICS_DISABLED = metrics_disabled()


def count(metric: str) -> None:
    """Add one to a business metric (emitted as EMF when the invocation ends)."""
    if not _METRICS_DISABLED:
        metrics.add_metric(metric, "Count", 1)


def record_outcome(outcome: str) -> None:
    """Name how the request ended, in its log line and as a business metric."""
    count(outcome)
    logger.append_keys(outcome=outcome)
