-- migrate: no-transaction
-- 0029's index served the release before the previous one, which looked a
-- key's answer up by user and key alone. The previous release looks it up by
-- shop, user and key, through the primary key (0030).
DROP INDEX CONCURRENTLY IF EXISTS idempotency_keys_by_user_and_key;
