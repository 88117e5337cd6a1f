-- What decides a race for a slot from now on: two confirmed bookings of one
-- bay never overlap in time. With capacity N, bookings take bays 1..N, so no
-- more than N confirmed bookings overlap at any instant, whatever slot grid
-- each was booked on. (int4range(bay, bay, '[]') makes "same bay" a range
-- overlap, which GiST indexes without the btree_gist extension.)
-- An exclusion constraint cannot be built CONCURRENTLY: the table is locked
-- (reads too) while its index is built, a second or so per hundred thousand
-- bookings; lock_timeout bounds the wait to start.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings
    ADD CONSTRAINT bookings_one_per_bay_at_a_time
    EXCLUDE USING gist (int4range(bay, bay, '[]') WITH &&, during WITH &&)
    WHERE (status = 'confirmed');
