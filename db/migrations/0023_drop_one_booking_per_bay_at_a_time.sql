-- Races are decided by resource from here on (0019): the bay's constraint
-- (0010) goes, so that shops other than the default one can book. It knows no
-- shops, and every other shop's booking holds bay 1, the column's default.
-- Safe while the previous release still runs: its bookings name only their
-- bay, which the trigger of 0016 turns into resource "bay-N" over the same
-- interval, and 0019 then excludes them as 0010 did, this release's bookings
-- too; 0022 serves its reads. The bay, that trigger, 0022's index and
-- book_slot_v1/v2 stay until a later release, once no running release books
-- by bay.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings DROP CONSTRAINT bookings_one_per_bay_at_a_time;
