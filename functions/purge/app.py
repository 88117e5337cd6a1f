"""Delete what is kept only for a while; run on a schedule (template.yaml), never behind
the API: Idempotency-Keys past their 24 hours, events published and webhook deliveries
done more than their retention ago (appointments.data.outbox, webhook_deliveries).

Expiry does not wait for this: a key older than 24 hours is treated as unused
when a request brings it again. The purge only keeps the tables small.
"""

from typing import TYPE_CHECKING, Any

from appointments.data import outbox, store, webhook_deliveries
from appointments.platform import deadline
from appointments.platform.observability import logger

if TYPE_CHECKING:  # Powertools' package: ~40 ms to import, for a type
    from aws_lambda_powertools.utilities.typing import LambdaContext


class PurgeFailed(RuntimeError):
    """Raised so the invocation counts as failed; the log line before it has the details."""


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any] | None, context: "LambdaContext") -> dict[str, int]:
    try:
        with deadline.within(context):
            purged = store.purge_expired_keys()
            events_purged = outbox.purge_published()
            deliveries_purged = webhook_deliveries.purge_done()
    except Exception:
        # Logged by our logger, which masks passwords; the runtime would print
        # the chained database error as it is.
        logger.exception("purging expired idempotency keys or published events failed")
        raise PurgeFailed("purge failed") from None
    logger.info(
        "expired idempotency keys and published events purged",
        extra={"purged": purged, "events_purged": events_purged},
    )
    return {
        "purged": purged,
        "events_purged": events_purged,
        "deliveries_purged": deliveries_purged,
    }
