-- Holds: a client keeps a slot for a few minutes while checking out. A hold
-- is a row of bookings in status 'held', with the moment it lapses. It keeps
-- its resource busy under the same exclusion constraint as a confirmed
-- booking (0038), and confirming it turns the same row into the booking, so
-- nothing can take the block in between. Once lapsed it blocks no one: the
-- statement that wants its block marks it expired first (0039), and every
-- read counts only live holds. hold_expires_at stays set after the hold is
-- confirmed, as the mark of a booking that began as a hold.
--
-- A hold's statuses: held (live until hold_expires_at), expired (a booking
-- or hold that wanted its block found it lapsed), released (DELETE
-- /holds/{id}); then confirmed, and cancelled, as any booking.
--
-- A nullable column without a default: no rewrite. The status check gives
-- way to one that knows the new statuses, NOT VALID (no scan; 0036
-- validates it). The previous release writes only confirmed and cancelled
-- rows, which both accept; a lock held for an instant, given up after 2 s.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings
    ADD COLUMN hold_expires_at timestamptz,
    DROP CONSTRAINT bookings_status_is_known,
    ADD CONSTRAINT bookings_status_is_known_v2 CHECK (
        (status = 'confirmed' AND cancelled_at IS NULL)
        OR (status = 'cancelled' AND cancelled_at IS NOT NULL)
        OR (status IN ('held', 'expired', 'released')
            AND cancelled_at IS NULL AND hold_expires_at IS NOT NULL)
    ) NOT VALID;
