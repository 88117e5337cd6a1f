"""Post the webhook deliveries that are due; started every minute by a schedule
(template.yaml), never behind the API.

Each invocation delivers batch after batch until its time is nearly up, so a
delivery waits about a second, not a minute (docs/events.md#webhooks). What
fails is tried again with backoff for 24 hours. Invoked with
{"until_drained": true} (by hand), it stops as soon as nothing is due.
"""

from typing import TYPE_CHECKING, Any

from appointments.api import webhook_sender
from appointments.platform import deadline
from appointments.platform.observability import logger

if TYPE_CHECKING:  # Powertools' package: ~40 ms to import, for a type
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any] | None, context: "LambdaContext") -> dict[str, int]:
    with deadline.within(context):
        if (event or {}).get("until_drained"):  # by hand: sam remote invoke ... --event
            claimed = webhook_sender.deliver_until_drained(webhook_sender.time_nearly_up)
        else:
            claimed = webhook_sender.deliver_until(webhook_sender.time_nearly_up)
    return {"claimed": claimed}
