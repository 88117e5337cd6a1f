-- Webhooks: a shop's subscriptions (PUT /shops/{id}/webhooks/{id}, IAM only)
-- and each event's delivery to each of them.
--
-- A delivery row is written with its event's publication (the relay's mark,
-- appointments.data.outbox), for every enabled subscription of the event's
-- shop and type, in the same transaction: once per event and subscription,
-- however often the event is republished. The sender (functions/webhooks)
-- posts it, signed (Standard Webhooks), until the receiver answers 2xx, with
-- backoff, for 24 hours. A subscription's deliveries of one subject go one
-- after another, in the events' order: the next waits while one is pending.
-- The table is the queue: a sender that dies mid-post leaves the delivery
-- leased (next_attempt_at a minute ahead), and it is posted again then.
--
-- The signing secret is kept as it is given out: it signs every delivery.
-- Keys lead with shop_id, for distribution by shop. New tables only.
SET LOCAL lock_timeout = '2s';

CREATE TABLE webhooks (
    shop_id text NOT NULL REFERENCES shops (shop_id) ON DELETE CASCADE,
    webhook_id text NOT NULL CHECK (webhook_id ~ '^[a-z0-9_-]{1,64}$'),
    url text NOT NULL,
    event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
    secret text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    -- Since when every delivery has failed (NULL: the last one succeeded); a
    -- failure 24 hours after that disables the subscription.
    failing_since timestamptz,
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, webhook_id)
);

CREATE TABLE webhook_deliveries (
    shop_id text NOT NULL,
    webhook_id text NOT NULL,
    position bigint NOT NULL,  -- the event's (0046): orders a subject's deliveries
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    subject_id text NOT NULL,
    body text NOT NULL,  -- the CloudEvent, exactly as signed and sent
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status integer,
    last_error text,
    delivered_at timestamptz,
    failed_at timestamptz,  -- given up: 24 hours of failures, or its subscription disabled
    PRIMARY KEY (shop_id, webhook_id, position),
    FOREIGN KEY (shop_id, webhook_id) REFERENCES webhooks ON DELETE CASCADE
);

-- What the sender reads: the pending deliveries that are due, and whether a
-- delivery has a pending one before it of its subject. Partial: a delivery
-- done leaves both. And what the purge reads: deliveries done, oldest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_pending_by_subject
    ON webhook_deliveries (shop_id, webhook_id, subject_id, position)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at)
    WHERE delivered_at IS NOT NULL OR failed_at IS NOT NULL;

-- A subscription disabled after 24 hours of failures is an event of its
-- shop (type webhook.disabled), written in the same statement, as a
-- booking's change is (0046).
CREATE FUNCTION record_webhook_disabled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (shop_id, type, subject_id, subject)
    VALUES (NEW.shop_id, 'webhook.disabled', NEW.webhook_id, jsonb_build_object(
        'webhook_id', NEW.webhook_id,
        'shop_id', NEW.shop_id,
        'url', NEW.url,
        'event_types', to_jsonb(NEW.event_types),
        'enabled', NEW.enabled,
        'failing_since', NEW.failing_since,
        'disabled_at', NEW.disabled_at
    ));
    RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_record_disabled
    AFTER UPDATE OF enabled ON webhooks
    FOR EACH ROW WHEN (OLD.enabled AND NOT NEW.enabled)
    EXECUTE FUNCTION record_webhook_disabled();
