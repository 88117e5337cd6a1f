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

from appointments import redaction


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redaction.scrub(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def _redacted_json(record: dict[str, Any]) -> str:
    """A log record as Powertools writes it, with database passwords masked in every field.

    Every field, the message and the stack trace included: libpq and botocore
    quote whatever they could not parse, which may be a piece of a password.
    """
    return json.dumps(_redacted(record), default=str, separators=(",", ":"), ensure_ascii=False)


# One of each per container, reused by warm invocations. Service name and
# metrics namespace come from POWERTOOLS_SERVICE_NAME and
# POWERTOOLS_METRICS_NAMESPACE, set in template.yaml.
logger = Logger(json_serializer=_redacted_json)
metrics = Metrics()
# Most requests (a slot list, a health check) count nothing; Powertools warns
# about each such invocation, which would fill the logs with noise.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(metric: str) -> None:
    """Add one to a business metric (emitted as EMF when the invocation ends)."""
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def record_outcome(outcome: str) -> None:
    """Name how the request ended, in its log line and as a business metric."""
    count(outcome)
    logger.append_keys(outcome=outcome)
