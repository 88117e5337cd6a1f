-- As 0009: VALIDATE scans under a lock that lets bookings go on; SET NOT NULL
-- then trusts the validated check and holds its ACCESS EXCLUSIVE lock for an
-- instant.
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_resource_is_set;
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_block_holds_interval;

SET LOCAL lock_timeout = '2s';
ALTER TABLE bookings ALTER COLUMN resource_id SET NOT NULL, ALTER COLUMN block SET NOT NULL;
ALTER TABLE bookings DROP CONSTRAINT bookings_resource_is_set;
