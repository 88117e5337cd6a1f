-- The functions the releases before the catalogue booked with (0012, 0013).
-- No running release calls them: the previous one books with book_slot_v3
-- (0020).
DROP FUNCTION IF EXISTS book_slot_v1(text, text, date, time, timestamptz, timestamptz, integer,
                                     text, text);
DROP FUNCTION IF EXISTS book_slot_v2(text, text, date, time, timestamptz, timestamptz, integer,
                                     text, text, text);
