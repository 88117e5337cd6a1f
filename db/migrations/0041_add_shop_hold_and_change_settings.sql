-- Two settings of a shop: how long its holds live (NULL: the template's
-- HoldSeconds), and how close to its start a booking may still be cancelled
-- or moved (NULL: any time). The default shop's come from the template
-- (HoldSeconds, ChangeNoticeMinutes). Nullable columns without a default: no
-- rewrite; the checks scan the shops, a short table, under a short lock.
SET LOCAL lock_timeout = '2s';

ALTER TABLE shops
    ADD COLUMN hold_seconds integer CHECK (hold_seconds BETWEEN 1 AND 3600),
    ADD COLUMN change_notice_minutes integer CHECK (change_notice_minutes BETWEEN 0 AND 999999);
