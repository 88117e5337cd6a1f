-- A booking can be cancelled; cancelled bookings stay as history.
-- Metadata-only changes (a constant default needs no table rewrite): the
-- ACCESS EXCLUSIVE lock is held for an instant. Waiting for it behind a long
-- transaction would stall every request queued behind this ALTER, so the wait
-- is cut short: the run fails, and is run again when the table is quieter.
-- The check is added NOT VALID so that no scan happens under that lock; 0003
-- validates it under a lock that lets bookings go on.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings
    ADD COLUMN status text NOT NULL DEFAULT 'confirmed',
    ADD COLUMN cancelled_at timestamptz,
    ADD CONSTRAINT bookings_status_is_known CHECK (
        (status = 'confirmed' AND cancelled_at IS NULL)
        OR (status = 'cancelled' AND cancelled_at IS NOT NULL)
    ) NOT VALID;

-- The answer given to a POST /bookings carrying an Idempotency-Key, written
-- in the same statement as the booking it answers. A second request with
-- the key is refused by the primary key and answered from this row.
-- No foreign keys: a key records answers about users that do not exist too,
-- and must not stop a user or a booking from being removed.
CREATE TABLE idempotency_keys (
    user_id text NOT NULL,
    key text NOT NULL,
    -- SHA-256 of the validated request, to tell a replay from a reuse.
    request_fingerprint text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('booked', 'slot_full', 'user_not_found')),
    -- The booking id the first request tried: the booking's when it booked.
    -- A retry of that same request knows it, and is not told it is a replay.
    attempt_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- For the scheduled purge of expired keys.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
