"""Amazon EventBridge's PutEvents, with its partial failures handled.

PutEvents answers 200 even when some entries failed (FailedEntryCount): each
failed entry carries an ErrorCode in its place in the answer. Only those are
sent again, a few times with a short backoff; what still fails is left to the
caller (the relay keeps it unpublished, for its next batch). A failure of the
whole call (throttling, the network) is retried by botocore, then raised.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

from appointments.platform.observability import logger

MAX_ENTRIES = 10  # PutEvents' limit per call
ATTEMPTS = 3
BACKOFF_S = 0.1  # before the second attempt; doubled, with jitter, before each next


@cache
def client() -> Any:
    """The container's client, made on first use (boto3 costs ~100 ms to import)."""
    import boto3  # type: ignore[import-untyped]  # the runtime's; no stubs pinned

    return boto3.client("events")


def put_events(entries: Sequence[dict[str, Any]]) -> list[int]:
    """Send the entries (at most MAX_ENTRIES); the indexes of those EventBridge took."""
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"PutEvents takes at most {MAX_ENTRIES} entries, not {len(entries)}")
    pending = list(range(len(entries)))
    taken: list[int] = []
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(BACKOFF_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))  # noqa: S311
        answer = client().put_events(Entries=[entries[index] for index in pending])
        failed = []
        for index, result in zip(pending, answer["Entries"], strict=True):
            if result.get("ErrorCode"):
                failed.append(index)
                logger.warning(
                    "EventBridge refused an entry",
                    extra={
                        "attempt": attempt + 1,
                        "detail_type": entries[index].get("DetailType"),
                        "error_code": result.get("ErrorCode"),
                        "error_message": result.get("ErrorMessage"),
                    },
                )
            else:
                taken.append(index)
        if not failed:
            break
        pending = failed
    return sorted(taken)
