-- An Idempotency-Key now also makes a move (POST /bookings/{id}/reschedule) and
-- a hold's confirmation exactly once: their outcomes are recorded as a
-- booking's are. The check on outcomes gives way to one that knows theirs,
-- NOT VALID (no scan; 0044 validates it). The previous release records only
-- booking outcomes, which both accept; a lock held for an instant.
SET LOCAL lock_timeout = '2s';

ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_outcome_check,
    ADD CONSTRAINT idempotency_keys_outcome_is_known CHECK (outcome IN (
        'booked', 'slot_full', 'user_not_found',
        'moved', 'changed', 'cancelled', 'too_late',
        'hold_expired', 'hold_released'
    )) NOT VALID;
