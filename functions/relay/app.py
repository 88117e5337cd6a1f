"""Publish the outbox's events to the event bus; started every minute by a schedule
(template.yaml), never behind the API.

Each invocation relays batch after batch until its time is nearly up, so an
event waits about half a poll interval, not a minute, before it is published
(docs/events.md). A failed batch is logged and tried again: its events stay
unpublished until the bus has taken them. Invoked with {"until_drained": true}
(by hand), it stops as soon as nothing waits.
"""

from typing import TYPE_CHECKING, Any

from appointments.api import relay
from appointments.platform import deadline
from appointments.platform.observability import logger

if TYPE_CHECKING:  # Powertools' package: ~40 ms to import, for a type
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any] | None, context: "LambdaContext") -> dict[str, int]:
    with deadline.within(context):
        if (event or {}).get("until_drained"):  # by hand: sam remote invoke ... --event
            published = relay.relay_until_drained(relay.to_event_bridge)
        else:
            published = relay.relay_until(relay.time_nearly_up, relay.to_event_bridge)
    return {"published": published}
