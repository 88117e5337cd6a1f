-- Checks every existing row under SHARE UPDATE EXCLUSIVE: bookings, reads
-- and cancellations carry on while it scans.
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_status_is_known;
