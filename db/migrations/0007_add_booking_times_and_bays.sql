-- Capacity: a slot has several bays, and a booking holds one of them over an
-- interval of absolute time. Intervals, not slot starts, are what must not
-- overlap: slot lengths and opening hours may change between deploys while
-- bookings exist, and an old booking still holds its bay for the time it was
-- booked.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings
    ADD COLUMN bay smallint NOT NULL DEFAULT 1,
    ADD COLUMN during tstzrange;

-- The previous release inserts bookings without an interval while a deploy
-- goes through: it only ever booked one-hour slots of a shop in UTC, which is
-- what this fills in. Dropped once no such release can run.
CREATE FUNCTION bookings_fill_in_interval() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.during := tstzrange(
        (NEW.slot_date + NEW.slot_time) AT TIME ZONE 'UTC',
        (NEW.slot_date + NEW.slot_time) AT TIME ZONE 'UTC' + interval '1 hour'
    );
    RETURN NEW;
END
$$;

CREATE TRIGGER bookings_fill_in_interval
    BEFORE INSERT ON bookings
    FOR EACH ROW WHEN (NEW.during IS NULL)
    EXECUTE FUNCTION bookings_fill_in_interval();
