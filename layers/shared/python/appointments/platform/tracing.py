"""X-Ray tracing, only when the stack turns it on (EnableTracing).

The tracer pulls in aws-xray-sdk, which is slow to import: a container with
tracing off never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import Any

# Powertools' own switch, which the template sets from EnableTracing. Read
# here rather than in Settings: the health function traces too, and has no
# database settings to validate.
ENABLED = os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false"


@cache
def get_tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer()


def subsegment(name: str) -> AbstractContextManager[Any]:
    """An X-Ray subsegment around a block, or nothing when tracing is off."""
    if not ENABLED:
        return nullcontext()
    return get_tracer().provider.in_subsegment(name)  # type: ignore[no-any-return]


def trace_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler as a traced segment when tracing is on, else unchanged."""
    if not ENABLED:
        return handler
    return get_tracer().capture_lambda_handler(handler)  # type: ignore[no-any-return]
