-- Booking with sign-in: a signed-in caller who is not yet a user becomes one
-- with their first booking, in the booking's own statement (one round trip)
-- and transaction. Two first bookings of one caller racing each other both
-- insert the user; ON CONFLICT DO NOTHING makes the second wait for the first
-- and then go on with the row it committed. The rest is book_slot_v1, called
-- from here: v1 must stay as long as v2 calls it (PostgreSQL records no such
-- dependency, so a DROP of v1 would succeed and break every booking). The
-- release that retires v1 first makes the booking function stand alone.
--
-- p_new_user_name NULL: no one is enrolled (sign-in off, or an admin booking
-- for someone else), and an unknown user is "User not found" as before.
CREATE FUNCTION book_slot_v2(
    p_booking_id text,
    p_user_id text,
    p_slot_date date,
    p_slot_time time,
    p_starts_at timestamptz,
    p_ends_at timestamptz,
    p_capacity integer,
    p_key text,
    p_fingerprint text,
    p_new_user_name text,
    OUT user_exists boolean,
    OUT booked boolean
)
LANGUAGE plpgsql AS $$
BEGIN
    -- Looked up first: a returning user's booking writes nothing here.
    IF p_new_user_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = p_user_id) THEN
        INSERT INTO users (id, name) VALUES (p_user_id, p_new_user_name)
        ON CONFLICT (id) DO NOTHING;
    END IF;
    SELECT v1.user_exists, v1.booked INTO user_exists, booked
    FROM book_slot_v1(
        p_booking_id, p_user_id, p_slot_date, p_slot_time, p_starts_at, p_ends_at,
        p_capacity, p_key, p_fingerprint
    ) AS v1;
END
$$;
