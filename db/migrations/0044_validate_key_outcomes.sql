-- As 0003: VALIDATE scans under a lock that lets bookings go on.
ALTER TABLE idempotency_keys VALIDATE CONSTRAINT idempotency_keys_outcome_is_known;
