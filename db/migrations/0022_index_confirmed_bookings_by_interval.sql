-- migrate: no-transaction
-- For the previous release, while it still runs beside this one: its slots'
-- statement and its booking function (book_slot_v1, 0012) find confirmed
-- bookings by interval alone, through the index of the bay's constraint,
-- which 0023 drops. This index serves them instead, until a later release
-- drops it with the bay. This release finds them by shop and block, through
-- the index of 0019's constraint.
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_confirmed_by_interval
    ON bookings USING gist (during) WHERE (status = 'confirmed');
