-- What decides a race from now on: no two rows that keep a resource busy, a
-- confirmed booking or a hold, block it at the same instant. It replaces
-- 0019's constraint, which it contains (same columns, a wider predicate):
-- the previous release's bookings, confirmed only, are excluded as before,
-- its ON CONFLICT DO NOTHING (naming no constraint) yields to either, and its
-- reads of confirmed bookings are served by this index instead.
--
-- A lapsed hold is still in the index until the statement that wants its
-- block marks it expired (0039): the predicate cannot name the time.
--
-- Like 0019 it cannot be built CONCURRENTLY: the table is locked (reads too)
-- while its index is built, a second or so per hundred thousand bookings;
-- lock_timeout bounds the wait to start. One index is kept up to date, not
-- two: 0019's goes in the same statement.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings
    ADD CONSTRAINT bookings_one_hold_or_booking_per_resource_at_a_time
    EXCLUDE USING gist (
        catalogue_id_range(shop_id, shop_id, '[]') WITH &&,
        catalogue_id_range(resource_id, resource_id, '[]') WITH &&,
        block WITH &&
    )
    WHERE (status IN ('confirmed', 'held')),
    DROP CONSTRAINT bookings_one_per_resource_at_a_time;
