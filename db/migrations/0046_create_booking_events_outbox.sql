-- The outbox: every change of a booking or a hold writes its event here, in
-- the change's own statement, so that they commit or roll back together:
-- no change without its event, no event without its change. The relay
-- (appointments.data.outbox) publishes the rows to EventBridge and marks
-- them published; the purge deletes published rows after their retention.
--
-- Written by triggers, not by each statement that changes a booking (as the
-- versions of 0031 are counted): the previous release's bookings, moves and
-- cancels, which know no outbox, write their events too while it still runs,
-- and a change added later cannot forget to.
--
-- One row per event. `subject` is the booking (or hold) row as the change
-- left it, the columns its API body is rendered from; the relay renders it
-- with the code the API uses, so the event shows what GET shows.
-- `position` orders one subject's events: its changes are made one at a time
-- under the row's lock, held to commit, so a later change takes a later
-- position. Positions are not in commit order across subjects, and need not
-- be. `id` is what consumers dedupe by: random, so that it tells a shop's
-- subscriber nothing of other shops' volume.
--
-- shop_id leads the primary key (as every key), for distribution by shop.
--
-- A new table and two triggers: bookings is locked for an instant to add
-- them (given up after 2 s rather than make bookings queue).
SET LOCAL lock_timeout = '2s';

CREATE TABLE events (
    shop_id text NOT NULL,
    position bigint GENERATED ALWAYS AS IDENTITY,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    type text NOT NULL,
    subject_id text NOT NULL,
    -- The moment the change was written: clock_timestamp(), not the transaction's
    -- start, so that a subject's later change is never dated before its earlier one.
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    subject jsonb NOT NULL,
    published_at timestamptz,
    PRIMARY KEY (shop_id, position)
);

-- What the relay reads: the oldest unpublished events, and whether an event
-- has an unpublished one before it of its subject. Partial: a published row
-- leaves both, so they stay as small as the backlog.
CREATE INDEX events_to_publish ON events (position) WHERE published_at IS NULL;
CREATE INDEX events_to_publish_by_subject ON events (shop_id, subject_id, position)
    WHERE published_at IS NULL;
-- What the purge reads: published events, oldest first.
CREATE INDEX events_published ON events (published_at) WHERE published_at IS NOT NULL;

-- The events of a booking's change, from what it was (OLD, NULL for a new
-- row) and what it is (NEW). A hold's confirmation is two: the hold's end
-- and the booking's start. A hold marked expired (by a writer that wanted
-- its block) writes nothing: it lapsed at hold_expires_at, which
-- hold.created said.
CREATE FUNCTION record_booking_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
    event_type text;
BEGIN
    FOREACH event_type IN ARRAY CASE
        WHEN was IS NULL AND NEW.status = 'confirmed' THEN ARRAY['booking.confirmed']
        WHEN was IS NULL AND NEW.status = 'held' THEN ARRAY['hold.created']
        WHEN was = 'held' AND NEW.status = 'confirmed'
            THEN ARRAY['hold.confirmed', 'booking.confirmed']
        WHEN was = 'held' AND NEW.status = 'released' THEN ARRAY['hold.released']
        WHEN was = 'confirmed' AND NEW.status = 'cancelled' THEN ARRAY['booking.cancelled']
        WHEN was = 'confirmed' AND NEW.status = 'confirmed' THEN ARRAY['booking.rescheduled']
        ELSE ARRAY[]::text[]
    END
    LOOP
        INSERT INTO events (shop_id, type, subject_id, subject)
        VALUES (NEW.shop_id, event_type, NEW.id, jsonb_build_object(
            'id', NEW.id,
            'user_id', NEW.user_id,
            'shop_id', NEW.shop_id,
            'service_id', NEW.service_id,
            'resource_id', NEW.resource_id,
            'date', NEW.slot_date,
            'time', NEW.slot_time,
            'starts_at', lower(NEW.during),
            'ends_at', upper(NEW.during),
            'status', NEW.status,
            'version', NEW.version,
            'created_at', NEW.created_at,
            'cancelled_at', NEW.cancelled_at,
            'hold_expires_at', NEW.hold_expires_at,
            'moved_from', NEW.moved_from
        ));
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_record_new_events
    AFTER INSERT ON bookings
    FOR EACH ROW WHEN (NEW.status IN ('confirmed', 'held'))
    EXECUTE FUNCTION record_booking_events();

-- Every change a booking is shown with counts a version (0031), or changes
-- its status (a hold's confirmation starts the booking at version 1).
CREATE TRIGGER bookings_record_change_events
    AFTER UPDATE ON bookings
    FOR EACH ROW WHEN (NEW.status <> 'expired'
                       AND (OLD.status, OLD.version) IS DISTINCT FROM (NEW.status, NEW.version))
    EXECUTE FUNCTION record_booking_events();
