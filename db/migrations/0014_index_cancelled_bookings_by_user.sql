-- migrate: no-transaction
-- Serves GET /bookings?user_id=...&status=cancelled: a user's cancelled
-- bookings in the order they are listed, without reading through their
-- confirmed ones in bookings_by_user. Partial, so only cancelled rows pay for
-- it; the list's statement for that filter repeats its predicate as a
-- literal, so that even a generic plan can use it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_cancelled_by_user
    ON bookings (user_id, slot_date, slot_time, id) WHERE status = 'cancelled';
