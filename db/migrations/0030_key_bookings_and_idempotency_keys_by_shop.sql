-- The shop leads the primary keys of bookings and of keys' answers, as it
-- leads every other key of a shop's tables: each becomes the unique index
-- built beside it (0027, 0028), renamed to the key's name. No scan, no
-- rewrite: the columns are NOT NULL already and the index is built and valid.
-- The lock is held for an instant; waiting for it, bookings would queue
-- behind, so it is given up after 2 s and the run fails, to be run again.
--
-- Safe while the previous release still runs: it looks bookings up by shop
-- and id; it records a key's answer with its shop (0016), and a unique
-- violation still names idempotency_keys_pkey, which it answers from the
-- recorded row. A key is then one user's per shop: a user bringing one key to
-- two shops gets two answers where the previous release gave one (and, from
-- the previous release while both run, or after a rollback, the other shop's
-- answer: 422, or 503 if that one expired).
SET LOCAL lock_timeout = '2s';

-- Bookings first, as the booking function takes them (bookings, then keys),
-- so that it never waits for this file while this file waits for it.
ALTER TABLE bookings
    DROP CONSTRAINT bookings_pkey,
    ADD CONSTRAINT bookings_pkey PRIMARY KEY USING INDEX bookings_by_shop_and_id;

ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_pkey,
    ADD CONSTRAINT idempotency_keys_pkey
        PRIMARY KEY USING INDEX idempotency_keys_by_shop_user_and_key;
