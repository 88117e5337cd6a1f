-- migrate: no-transaction
-- Bookings keyed by shop, then id (0030 makes it the primary key), so that
-- the key leads with the column they are distributed by. A booking id is
-- unique on its own (128 random bits; another shop's also begins with the
-- shop's id), and the previous release already looks bookings up by both.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS bookings_by_shop_and_id
    ON bookings (shop_id, id);
