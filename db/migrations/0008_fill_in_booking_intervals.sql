-- Every booking made so far was a one-hour slot of a shop in UTC.
UPDATE bookings
SET during = tstzrange(
    (slot_date + slot_time) AT TIME ZONE 'UTC',
    (slot_date + slot_time) AT TIME ZONE 'UTC' + interval '1 hour'
)
WHERE during IS NULL;

ALTER TABLE bookings
    ADD CONSTRAINT bookings_during_is_set CHECK (during IS NOT NULL) NOT VALID;
