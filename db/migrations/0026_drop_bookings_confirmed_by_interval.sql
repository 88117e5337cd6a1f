-- migrate: no-transaction
-- 0022's index served the reads of the release before the catalogue, which
-- found bookings by interval alone. The previous release finds them by shop
-- and block, through the index of 0019's constraint.
DROP INDEX CONCURRENTLY IF EXISTS bookings_confirmed_by_interval;
