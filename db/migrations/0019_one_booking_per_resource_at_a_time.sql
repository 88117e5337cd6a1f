-- What decides a race from now on: two confirmed bookings of one resource of
-- one shop never block it at the same instant, whatever services they were
-- booked for. The shop leads, so that the constraint holds shard by shard
-- once bookings are distributed by shop (DEPLOY.md, "Past one database").
-- Until a later release drops it, 0010's constraint by bay holds as well; for
-- every booking the running releases make, it decides the same (the trigger
-- of 0016 keeps bay and resource in step, and the default shop has no
-- buffers).
-- Like 0010, it cannot be built CONCURRENTLY: the table is locked (reads too)
-- while its index is built, a second or so per hundred thousand bookings;
-- lock_timeout bounds the wait to start.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings
    ADD CONSTRAINT bookings_one_per_resource_at_a_time
    EXCLUDE USING gist (
        catalogue_id_range(shop_id, shop_id, '[]') WITH &&,
        catalogue_id_range(resource_id, resource_id, '[]') WITH &&,
        block WITH &&
    )
    WHERE (status = 'confirmed');
