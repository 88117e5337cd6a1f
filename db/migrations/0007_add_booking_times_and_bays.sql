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
-- what this fills in. On update too: a row 0008 has not filled in yet may be
-- cancelled meanwhile, and the check below would refuse it. To be dropped by a
-- later release, once no release that leaves `during` out can run.
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
    BEFORE INSERT OR UPDATE ON bookings
    FOR EACH ROW WHEN (NEW.during IS NULL)
    EXECUTE FUNCTION bookings_fill_in_interval();

-- Enforced from now on for every write; 0009 validates it for the rows 0008
-- fills in. Added here, under this file's short lock_timeout, rather than
-- after 0008's UPDATE: that would wait for the exclusive lock while holding
-- row locks a cancel may be waiting on (a deadlock).
ALTER TABLE bookings
    ADD CONSTRAINT bookings_during_is_set CHECK (during IS NOT NULL) NOT VALID;
