-- Every booking made so far holds its bay over its interval: no buffers. The
-- rows are locked only until this commits; a cancel of one of them waits that
-- long (as in 0008).
UPDATE bookings
SET resource_id = 'bay-' || bay, block = during
WHERE resource_id IS NULL OR block IS NULL;
