-- The partial index of 0004 now decides who holds a slot. Dropping a
-- constraint is instant, under lock_timeout.
ALTER TABLE bookings DROP CONSTRAINT bookings_one_per_slot;
