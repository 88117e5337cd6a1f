-- migrate: no-transaction
-- A key's answer keyed by shop, user and key (0030 makes it the primary key):
-- a key is one user's at one shop, recorded on the shard of its booking.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idempotency_keys_by_shop_user_and_key
    ON idempotency_keys (shop_id, user_id, key);
