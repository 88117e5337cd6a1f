-- migrate: no-transaction
-- For the previous release, while it still runs beside this one: it looks a
-- key's answer up by user and key alone, through the primary key that 0030
-- replaces. This index serves it instead, until the next release drops it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idempotency_keys_by_user_and_key
    ON idempotency_keys (user_id, key);
