-- As 0003: VALIDATE scans under a lock that lets bookings go on.
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_status_is_known_v2;
