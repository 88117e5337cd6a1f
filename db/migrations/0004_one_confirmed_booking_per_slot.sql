-- migrate: no-transaction
-- The slot's uniqueness counts confirmed bookings only, so that a cancelled
-- slot can be booked again. Built CONCURRENTLY: bookings go on during the
-- build. Until 0005 drops the old constraint both hold, and a slot stays as
-- taken as before. IF NOT EXISTS: a run stopped before recording this file
-- runs it again.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS bookings_one_confirmed_per_slot
    ON bookings (slot_date, slot_time)
    WHERE status = 'confirmed';
