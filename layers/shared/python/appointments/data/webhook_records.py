"""A shop's webhook subscriptions, for the IAM-only administration routes: save one
(its secret made on creation only), look one up, delete one. One statement each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from appointments.data import database
from appointments.platform import webhook_http


@dataclass(frozen=True)
class Webhook:
    shop_id: str
    webhook_id: str
    url: str
    event_types: list[str]
    enabled: bool
    failing_since: datetime | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SavedWebhook:
    webhook: Webhook
    # The signing secret of a subscription this save created: shown once, then never.
    new_secret: str | None


_COLUMNS = """
    shop_id, webhook_id, url, event_types, enabled, failing_since, disabled_at,
    created_at, updated_at
"""

# Created with the secret given; replaced keeping its own, and enabled again
# (a PUT after the subscription was disabled is how it is switched back on).
# xmax = 0 on a row this statement inserted: whether it was created. No row:
# no such shop (the foreign key's check is left to the EXISTS, which names it).
_SAVE = f"""
    INSERT INTO webhooks (shop_id, webhook_id, url, event_types, secret)
    SELECT %(shop_id)s, %(webhook_id)s, %(url)s, %(event_types)s, %(secret)s
    WHERE EXISTS (SELECT 1 FROM shops WHERE shop_id = %(shop_id)s)
    ON CONFLICT (shop_id, webhook_id) DO UPDATE SET
        url = EXCLUDED.url, event_types = EXCLUDED.event_types, enabled = true,
        failing_since = NULL, disabled_at = NULL, updated_at = now()
    RETURNING {_COLUMNS}, xmax = 0
"""  # noqa: S608 (constants only)

_FIND = f"""
    SELECT {_COLUMNS} FROM webhooks WHERE shop_id = %(shop_id)s AND webhook_id = %(webhook_id)s
"""  # noqa: S608 (constants only)

# Its pending deliveries go with it (ON DELETE CASCADE).
_DELETE = f"""
    DELETE FROM webhooks WHERE shop_id = %(shop_id)s AND webhook_id = %(webhook_id)s
    RETURNING {_COLUMNS}
"""  # noqa: S608 (constants only)


def save(shop_id: str, webhook_id: str, url: str, event_types: list[str]) -> SavedWebhook | None:
    """Create (with a new signing secret) or replace (keeping it) the subscription; None
    if there is no such shop."""
    secret = webhook_http.new_secret()  # kept only if this creates the subscription
    params = {
        "shop_id": shop_id,
        "webhook_id": webhook_id,
        "url": url,
        "event_types": event_types,
        "secret": secret,
    }
    try:
        row = database.run(lambda conn: conn.execute(_SAVE, params).fetchone())
    except psycopg.errors.ForeignKeyViolation:
        return None  # the shop was deleted while this ran
    if row is None:
        return None
    *columns, created = row
    return SavedWebhook(Webhook(*columns), secret if created else None)


def find(shop_id: str, webhook_id: str) -> Webhook | None:
    params = {"shop_id": shop_id, "webhook_id": webhook_id}
    row = database.run(lambda conn: conn.execute(_FIND, params).fetchone())
    return Webhook(*row) if row else None


def delete(shop_id: str, webhook_id: str) -> Webhook | None:
    params = {"shop_id": shop_id, "webhook_id": webhook_id}
    row = database.run(lambda conn: conn.execute(_DELETE, params).fetchone())
    return Webhook(*row) if row else None
