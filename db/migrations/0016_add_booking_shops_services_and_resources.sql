-- The catalogue reaches bookings (expand): a booking belongs to a shop, is of
-- one of its services, and keeps one of its resources busy over its block,
-- its interval widened by the service's buffers. The running release books
-- by bay and knows none of this: its bookings are the default shop's, of its
-- one service, on the resource of their bay, which the defaults and the
-- trigger below fill in. 0017 fills in the bookings made so far, 0018 makes
-- the columns required, 0019 adds the constraint that decides races by
-- resource. The bay, its constraint (0010) and the trigger go in a later
-- release, once no running release books by bay.
SET LOCAL lock_timeout = '2s';

-- A catalogue id as the one-point range [id, id]: a GiST index then compares
-- ids by overlap, which is equality, without the btree_gist extension (absent
-- from some builds, the embedded PostgreSQL of the tests among them). "C":
-- bounds compare byte by byte, the same on every database.
CREATE TYPE catalogue_id_range AS RANGE (subtype = text, collation = "C");

-- Set anew by every change to a shop's catalogue (the shop, its resources and
-- their time off, its services). A booking made from what a request read of
-- the catalogue checks, in its own statement, that the version it read is
-- still the shop's, holding the shop's row FOR SHARE until it commits: a
-- change waits for it, and a booking after a change obeys the change. From
-- one sequence for every shop, so that a version is never seen twice, not
-- even by a shop deleted and made again under the same id. (The shops table
-- is the catalogue's, new in 0015 and small: its rewrite for the volatile
-- default is short.)
CREATE SEQUENCE catalogue_versions;
ALTER TABLE shops
    ADD COLUMN catalogue_version bigint NOT NULL DEFAULT nextval('catalogue_versions');

-- A key's answer belongs to the shop its booking was asked of, so that both
-- are written on one shard once bookings are distributed by shop.
ALTER TABLE idempotency_keys
    ADD COLUMN shop_id text NOT NULL DEFAULT 'default';

-- Bookings last: locked from here to the commit, they wait for no other
-- table's lock meanwhile. Constant defaults: added without rewriting the table.
ALTER TABLE bookings
    ADD COLUMN shop_id text NOT NULL DEFAULT 'default',
    ADD COLUMN service_id text NOT NULL DEFAULT 'appointment',
    ADD COLUMN resource_id text,
    ADD COLUMN block tstzrange;

-- Keeps the running release's bay and this one's resource in step while both
-- exist, so that each release's bookings exclude the other's under either
-- constraint: a booking that names only its bay (the running release's, or a
-- row 0017 has not reached when it is cancelled) is on resource "bay-N" over
-- its interval; a booking of the default shop that names its resource (this
-- release's) holds bay N. The bay's constraint knows no shops: no other shop
-- books until a later release has dropped it.
CREATE FUNCTION bookings_keep_bay_and_resource_in_step() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.resource_id IS NULL THEN
        NEW.resource_id := 'bay-' || NEW.bay;
    ELSIF TG_OP = 'INSERT' AND NEW.shop_id = 'default' THEN
        NEW.bay := substring(NEW.resource_id FROM '^bay-([0-9]{1,4})$')::smallint;
    END IF;
    NEW.block := coalesce(NEW.block, NEW.during);
    RETURN NEW;
END
$$;

-- Fires after bookings_fill_in_interval (0007; triggers fire in name order),
-- so that an interval it fills in is there to copy.
CREATE TRIGGER bookings_keep_bay_and_resource_in_step
    BEFORE INSERT OR UPDATE ON bookings
    FOR EACH ROW WHEN (NEW.resource_id IS NULL OR NEW.block IS NULL OR NEW.shop_id = 'default')
    EXECUTE FUNCTION bookings_keep_bay_and_resource_in_step();

-- Enforced from now on for every write; 0018 validates them for the rows 0017
-- fills in (added here, under this file's short lock_timeout: see 0007).
ALTER TABLE bookings
    ADD CONSTRAINT bookings_resource_is_set CHECK (resource_id IS NOT NULL AND block IS NOT NULL) NOT VALID,
    ADD CONSTRAINT bookings_block_holds_interval CHECK (block @> during) NOT VALID;
