-- migrate: no-transaction
-- Serves GET /bookings?user_id=...: one user's bookings in the order they are
-- listed and paged (keyset on date, time, id). Also serves the foreign key
-- when a user is deleted.
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_by_user
    ON bookings (user_id, slot_date, slot_time, id);
