"""A webhook subscription over HTTP: its PUT body, checked field by field (the URL
also for where it leads), and the JSON it is shown as. Its secret is shown once,
in the answer to the PUT that created it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from appointments.data.webhook_records import SavedWebhook, Webhook
from appointments.domain.schedule import rfc3339_utc
from appointments.errors import ClientError
from appointments.platform import webhook_http

# What a subscription may ask for: every type the outbox writes.
EVENT_TYPES: Final = (
    "booking.confirmed",
    "booking.rescheduled",
    "booking.cancelled",
    "hold.created",
    "hold.confirmed",
    "hold.released",
    "webhook.disabled",
)
MAX_BODY_BYTES: Final = 8 * 1024


@dataclass(frozen=True)
class WebhookBody:
    url: str
    event_types: list[str]

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> WebhookBody:
        url = fields.get("url")
        if not isinstance(url, str) or not url:
            raise ClientError("url: required, an https:// URL")
        try:
            webhook_http.destination(url, allow_local=webhook_http.local_delivery_allowed())
        except webhook_http.UnsafeDestination as unsafe:
            raise ClientError(f"url: {unsafe}") from None
        return cls(url, _event_types(fields.get("event_types")))


def _event_types(value: Any) -> list[str]:
    known = ", ".join(EVENT_TYPES)
    if not isinstance(value, list) or not value:
        raise ClientError(f"event_types: required, a list of one or more of {known}")
    unknown = [item for item in value if item not in EVENT_TYPES]
    if unknown:
        raise ClientError(f"event_types: {unknown[0]!r} is not one of {known}")
    return sorted(set(value), key=EVENT_TYPES.index)


def webhook_shown(webhook: Webhook) -> dict[str, Any]:
    return {
        "shop_id": webhook.shop_id,
        "webhook_id": webhook.webhook_id,
        "url": webhook.url,
        "event_types": webhook.event_types,
        "enabled": webhook.enabled,
        "failing_since": rfc3339_utc(webhook.failing_since) if webhook.failing_since else None,
        "disabled_at": rfc3339_utc(webhook.disabled_at) if webhook.disabled_at else None,
        "created_at": rfc3339_utc(webhook.created_at),
        "updated_at": rfc3339_utc(webhook.updated_at),
    }


def saved_shown(saved: SavedWebhook) -> dict[str, Any]:
    """The subscription saved, with its secret if this save created it (and only then)."""
    shown = webhook_shown(saved.webhook)
    if saved.new_secret is not None:
        shown["secret"] = saved.new_secret
    return shown
