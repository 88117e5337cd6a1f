-- A user's calendar feed (GET /users/{id}/calendar.ics?token=...): the
-- SHA-256 of its token, so that a read of the table does not give feeds
-- away. NULL: no feed. A new token replaces the old one, which stops
-- working at once; clearing it revokes the feed. A nullable column without a
-- default: no rewrite, a lock held for an instant (given up after 2 s).
SET LOCAL lock_timeout = '2s';

ALTER TABLE users ADD COLUMN calendar_token_hash text;
