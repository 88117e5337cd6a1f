-- Every booking has a version: 1 when made, one more on every change of its
-- status or its time (a cancel; a move). Counted by a trigger, not by each
-- statement that changes a booking, so that the previous release's cancels,
-- which know no versions, count too while it still runs; and a change added
-- later cannot forget to. A cancel of a booking already cancelled changes
-- nothing and counts nothing.
--
-- A constant default: the column is added without rewriting the table, under
-- a lock held for an instant (given up after 2 s rather than make bookings
-- queue behind it; the run fails, to be run again).
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings ADD COLUMN version integer NOT NULL DEFAULT 1;

CREATE FUNCTION count_booking_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER bookings_count_versions
    BEFORE UPDATE ON bookings
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.block IS DISTINCT FROM NEW.block
          OR OLD.resource_id IS DISTINCT FROM NEW.resource_id)
    EXECUTE FUNCTION count_booking_versions();
