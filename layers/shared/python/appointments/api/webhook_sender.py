"""The webhook sender: the deliveries the relay wrote, posted to their receivers,
batch after batch, until the invocation's time is nearly up (functions/webhooks,
started every minute) or until told to stop (make dev's in-process sender).

Each batch: claim (a lease, committed), post every delivery at once (threads,
each within webhook_http.TIMEOUT_S), record the outcomes in one statement.
A delivery that fails is tried again after a backoff that doubles from
FIRST_RETRY up to MAX_RETRY, with jitter, for 24 hours from its event's
publication; then it is given up. The URL is checked again before each post.
"""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from appointments.data import database, webhook_deliveries
from appointments.data.webhook_deliveries import Delivery, Outcome
from appointments.platform import deadline, webhook_http
from appointments.platform.observability import logger, metrics

POLL_INTERVAL_S = 1.0
MAX_ERROR_CHARS = 500
# A batch is claimed only with this much of the invocation left: its posts run
# in parallel, each cut off after webhook_http.TIMEOUT_S, then one statement
# records them, all within the lease.
BATCH_TIME_S = 2 * webhook_http.TIMEOUT_S + 2.0
FIRST_RETRY = timedelta(seconds=10)
MAX_RETRY = timedelta(hours=2)

# How one delivery's attempt goes; tests put another in its place.
Poster = Callable[[Delivery], Outcome]


def backoff(attempt: int) -> timedelta:
    """How long after failed attempt number `attempt` (1, 2, ...) to try again."""
    base: timedelta = min(FIRST_RETRY * 2 ** min(attempt - 1, 20), MAX_RETRY)
    return base * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)


def attempt(delivery: Delivery) -> Outcome:
    """Post the delivery, signed, if it may still be: what came of it."""
    if not delivery.enabled:
        return Outcome(delivery, delivered=False, error="subscription disabled")
    if datetime.now(UTC) - delivery.created_at >= webhook_deliveries.GIVE_UP_AFTER:
        return Outcome(delivery, delivered=False, error="given up after 24 hours", expired=True)
    retry_in = backoff(delivery.attempt)
    allow_local = webhook_http.local_delivery_allowed()
    try:
        place = webhook_http.destination(delivery.url, allow_local=allow_local)
        status = webhook_http.post(place, delivery.body, signed_headers(delivery))
    except webhook_http.UnsafeDestination as unsafe:
        return Outcome(delivery, delivered=False, error=str(unsafe), retry_in=retry_in)
    except (OSError, http.client.HTTPException) as failure:
        error = _printable(f"{type(failure).__name__}: {failure}")
        return Outcome(delivery, delivered=False, error=error, retry_in=retry_in)
    except Exception as failure:  # one receiver's oddity must not lose the batch's records
        logger.exception("webhook delivery failed unexpectedly")
        error = _printable(type(failure).__name__)
        return Outcome(delivery, delivered=False, error=error, retry_in=retry_in)
    if 200 <= status < 300:
        return Outcome(delivery, delivered=True, status=status)
    return Outcome(delivery, delivered=False, status=status, retry_in=retry_in)


def _printable(text: str) -> str:
    """An error as it is kept: what a receiver sent may hold NULs and control characters."""
    return "".join(c if c.isprintable() else "?" for c in text)[:MAX_ERROR_CHARS]


def signed_headers(delivery: Delivery) -> dict[str, str]:
    """Standard Webhooks' headers: the event's id (the same on every attempt), the
    attempt's time, and the signature of both with the body."""
    message_id = str(delivery.event_id)
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "User-Agent": "appointments-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_http.signature(
            delivery.secret, message_id, timestamp, delivery.body
        ),
    }


def time_nearly_up() -> bool:
    """True when the invocation has too little left to post a batch and record it."""
    left = deadline.seconds_left()
    return left is not None and left < BATCH_TIME_S


def deliver_once(post: Poster = attempt) -> int:
    """One batch: how many deliveries were claimed (fewer than BATCH: none more due)."""
    claimed = database.run(webhook_deliveries.claim)
    if not claimed:
        return 0
    with ThreadPoolExecutor(max_workers=len(claimed)) as posting:
        outcomes = list(posting.map(post, claimed))
    database.run(lambda conn: webhook_deliveries.record(conn, outcomes))
    _report(outcomes)
    return len(claimed)


def deliver_until(stop: Callable[[], bool], post: Poster = attempt) -> int:
    """Deliver batch after batch until `stop()` says so: how many were claimed. A failed
    batch is logged; its deliveries are claimed again when their lease runs out."""
    total = 0
    while not stop():
        try:
            claimed = deliver_once(post)
        except Exception:
            logger.exception("delivering webhooks failed; trying again")
            claimed = 0
        total += claimed
        if claimed < webhook_deliveries.BATCH:
            until = time.monotonic() + POLL_INTERVAL_S
            while time.monotonic() < until and not stop():
                time.sleep(0.1)
    return total


def deliver_until_drained(stop: Callable[[], bool], post: Poster = attempt) -> int:
    """Deliver until nothing is due (or `stop()`): how many were claimed. For an
    operator's one-off invocation ({"until_drained": true}), not the schedule."""
    total = 0
    while not stop() and (claimed := deliver_once(post)):
        total += claimed
    return total


def _report(outcomes: Sequence[Outcome]) -> None:
    delivered = sum(outcome.delivered for outcome in outcomes)
    for outcome in outcomes:
        if not outcome.delivered:
            logger.warning(
                "webhook delivery failed",
                extra={
                    "shop_id": outcome.delivery.shop_id,
                    "webhook_id": outcome.delivery.webhook_id,
                    "event_id": str(outcome.delivery.event_id),
                    "attempt": outcome.delivery.attempt,
                    "status": outcome.status,
                    "error": outcome.error,
                    "given_up": outcome.retry_in is None,
                },
            )
    metrics.add_metric("WebhooksDelivered", "Count", delivered)
    metrics.add_metric("WebhookAttemptsFailed", "Count", len(outcomes) - delivered)
    metrics.flush()
