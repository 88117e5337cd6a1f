-- The partial index of 0004 now decides who holds a slot. Dropping a
-- constraint is instant, but needs ACCESS EXCLUSIVE: as in 0002, the wait for
-- it is cut short rather than stall the requests queued behind it.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings DROP CONSTRAINT bookings_one_per_slot;
