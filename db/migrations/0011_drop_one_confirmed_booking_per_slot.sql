-- migrate: no-transaction
-- Several bookings may now share a slot (one per bay); the constraint of 0010
-- decides. IF EXISTS: a run stopped before recording this file runs it again.
DROP INDEX CONCURRENTLY IF EXISTS bookings_one_confirmed_per_slot;
