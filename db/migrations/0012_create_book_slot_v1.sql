-- Booking a slot, in one statement (one round trip) for every outcome.
-- A function because a booking may have to try bay after bay: in PL/pgSQL
-- each statement sees the commits made before it starts, so an insert that
-- lost its bay to a racer can try the next. No lock is taken by hand: the
-- exclusion constraint of 0010 decides every race (ON CONFLICT DO NOTHING,
-- naming no constraint, waits for a racer's insert to commit or roll back and
-- then yields, or goes ahead). "_v1": the release that calls it keeps calling
-- the same function while the next one's migrations add a v2.
--
-- Returns whether the user exists and whether p_booking_id holds a bay. Our
-- own id already in the table means an earlier attempt of this same request
-- (its connection died) committed: the request is booked, once. With a key,
-- the outcome is recorded in the same transaction; a key already recorded, or
-- being recorded by a request still running, fails the whole statement with a
-- unique violation, and the caller answers from the recorded row instead.
CREATE FUNCTION book_slot_v1(
    p_booking_id text,
    p_user_id text,
    p_slot_date date,
    p_slot_time time,
    p_starts_at timestamptz,
    p_ends_at timestamptz,
    p_capacity integer,
    p_key text,
    p_fingerprint text,
    OUT user_exists boolean,
    OUT booked boolean
)
LANGUAGE plpgsql AS $$
DECLARE
    wanted tstzrange := tstzrange(p_starts_at, p_ends_at);
    free_bay integer;
    looked_free boolean;
BEGIN
    booked := EXISTS (SELECT 1 FROM bookings WHERE id = p_booking_id);
    user_exists := EXISTS (SELECT 1 FROM users WHERE id = p_user_id);
    -- Each round tries the bays free in a new snapshot, lowest first. A racer
    -- may take one meanwhile: the insert then yields and the next is tried.
    -- A round that lost every race looks again, since a cancel may have freed
    -- a bay meanwhile; "full" is the answer once no bay looks free. A few
    -- rounds at most: each one that fails saw its bays taken by commits.
    FOR attempt IN 1..3 LOOP
        EXIT WHEN booked OR NOT user_exists;
        looked_free := false;
        FOR free_bay IN
            SELECT candidate.bay FROM generate_series(1, p_capacity) AS candidate (bay)
            WHERE NOT EXISTS (
                SELECT 1 FROM bookings
                WHERE bookings.status = 'confirmed'
                  AND int4range(bookings.bay, bookings.bay, '[]')
                      && int4range(candidate.bay, candidate.bay, '[]')
                  AND bookings.during && wanted
            )
            ORDER BY candidate.bay
        LOOP
            looked_free := true;
            INSERT INTO bookings (id, user_id, slot_date, slot_time, during, bay)
            SELECT p_booking_id, users.id, p_slot_date, p_slot_time, wanted, free_bay
            FROM users
            WHERE users.id = p_user_id
            ON CONFLICT DO NOTHING;
            IF FOUND THEN
                booked := true;
                EXIT;
            END IF;
        END LOOP;
        -- An earlier attempt of this request, still running when this one
        -- began, may have committed while our insert waited for it; and the
        -- user may have been deleted while it waited.
        booked := booked OR EXISTS (SELECT 1 FROM bookings WHERE id = p_booking_id);
        user_exists := booked OR EXISTS (SELECT 1 FROM users WHERE id = p_user_id);
        EXIT WHEN NOT looked_free;
    END LOOP;
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, key, request_fingerprint, outcome, attempt_id)
        VALUES (
            p_user_id,
            p_key,
            p_fingerprint,
            CASE WHEN booked THEN 'booked' WHEN user_exists THEN 'slot_full' ELSE 'user_not_found' END,
            p_booking_id
        );
    END IF;
END
$$;
