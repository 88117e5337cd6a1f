-- Every booking has a version: 1 when made, one more on every change of its
-- status or its time (a cancel; a move). Counted by a trigger, not by each
-- statement that changes a booking, so that the previous release's cancels,
-- which know no versions, count too while it still runs; and a change added
-- later cannot forget to. A cancel of a booking already cancelled changes
-- nothing and counts nothing.
--
-- Bookings made before start at 1, cancelled ones too: their earlier changes
-- went uncounted.
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

-- Named to fire after the triggers of 0007 and 0016 (BEFORE triggers fire in
-- name order), so that it sees what they fill in. Every column the booking is
-- shown with counts; a write that changes none of them (a second cancel,
-- which keeps the first cancellation's time) counts nothing.
CREATE TRIGGER bookings_version_counts_changes
    BEFORE UPDATE ON bookings
    FOR EACH ROW
    WHEN ((OLD.status, OLD.cancelled_at, OLD.slot_date, OLD.slot_time, OLD.during, OLD.block,
           OLD.resource_id, OLD.service_id, OLD.user_id)
          IS DISTINCT FROM
          (NEW.status, NEW.cancelled_at, NEW.slot_date, NEW.slot_time, NEW.during, NEW.block,
           NEW.resource_id, NEW.service_id, NEW.user_id))
    EXECUTE FUNCTION count_booking_versions();
