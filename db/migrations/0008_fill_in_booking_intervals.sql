-- Every booking made so far was a one-hour slot of a shop in UTC. The rows
-- are locked only until this commits; a cancel of one of them waits that long.
UPDATE bookings
SET during = tstzrange(
    (slot_date + slot_time) AT TIME ZONE 'UTC',
    (slot_date + slot_time) AT TIME ZONE 'UTC' + interval '1 hour'
)
WHERE during IS NULL;
