-- migrate: no-transaction
-- A user's holds at a shop, counted against HoldLimit by every new hold.
-- Partial: only rows still marked held are in it, a few per user.
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_held_by_user
    ON bookings (shop_id, user_id) WHERE status = 'held';
