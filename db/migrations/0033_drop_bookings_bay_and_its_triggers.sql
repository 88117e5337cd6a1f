-- Contract step of the resources' deploy (0016-0023): no running release reads
-- or writes a booking's bay any more, nor leaves out its interval, resource
-- or block. The previous release writes all four itself (book_slot_v3, 0020;
-- move_booking_v1, 0032), so the triggers that filled them in for older
-- releases, 0007's and 0016's, go with the bay. From here a write that leaves
-- one out is refused (the columns are NOT NULL), not filled in by guesswork.
--
-- Dropping a column changes the catalog only (no rewrite, no scan), under a
-- lock held for an instant; given up after 2 s rather than make bookings
-- queue behind it (the run fails, to be run again). Bookings first, as the
-- booking function locks them.
SET LOCAL lock_timeout = '2s';

DROP TRIGGER IF EXISTS bookings_keep_bay_and_resource_in_step ON bookings;
DROP TRIGGER IF EXISTS bookings_fill_in_interval ON bookings;
ALTER TABLE bookings DROP COLUMN IF EXISTS bay;

DROP FUNCTION IF EXISTS bookings_keep_bay_and_resource_in_step();
DROP FUNCTION IF EXISTS bookings_fill_in_interval();
