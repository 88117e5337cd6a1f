"""The container's logger and metrics, apart from the HTTP glue.

A function that only needs to log (the migrate function) imports this module
alone and pays for neither the resolver nor the request middleware.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from appointments.platform import redaction

# The fields that carry free text, where libpq or botocore may have quoted a
# piece of a password they could not parse. The others (timestamp, service,
# route, status...) are ours and fixed: masking a piece of them would garble
# them, and tell a reader of the logs what the password contains.
_FREE_TEXT_FIELDS = frozenset({"message", "exception", "cause", "reason", "traceback"})


def _redacted_json(record: dict[str, Any]) -> str:
    """A log record as Powertools writes it, with database passwords masked in its free text."""
    redacted = {
        key: redaction.scrub(value)
        if key in _FREE_TEXT_FIELDS and isinstance(value, str)
        else value
        for key, value in record.items()
    }
    return json.dumps(redacted, default=str, separators=(",", ":"), ensure_ascii=False)


# One of each per container, reused by warm invocations. Service name and
# metrics namespace come from POWERTOOLS_SERVICE_NAME and
# POWERTOOLS_METRICS_NAMESPACE, set in template.yaml.
logger = Logger(json_serializer=_redacted_json)
metrics = Metrics()
# POWERTOOLS_METRICS_DISABLED (make dev's quiet console), read as Powertools
# reads it. With metrics off, Powertools still keeps every value added, never
# clears them (its flush publishes nothing and keeps them), and prints them all
# as EMF once one metric holds 100 values: so with metrics off none is added.
_METRICS_DISABLED = is_metrics_disabled()
# Most requests (a slot list, a health check) count nothing; Powertools warns
# about each such invocation, which would fill the logs with noise.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(metric: str) -> None:
    """Add one to a business metric (emitted as EMF when the invocation ends)."""
    if not _METRICS_DISABLED:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def record_outcome(outcome: str) -> None:
    """Name how the request ended, in its log line and as a business metric."""
    count(outcome)
    logger.append_keys(outcome=outcome)
