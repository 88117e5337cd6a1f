-- Booking a service on a resource of a shop, in one statement (one round trip)
-- for every outcome: book_slot_v1 and v2 (0012, 0013) made general. The
-- caller names the resources that may take the booking, in the order to try
-- them, and the block each would be busy over; the exclusion constraint of
-- 0019 decides every race, as 0010's did for bays. It stands alone: v1 and v2
-- stay for the running release, and a later release drops them.
--
-- The shop comes first, as the argument a distributed database routes the
-- call by (Citus: create_distributed_function(..., distribution_arg_name :=
-- 'p_shop_id')); every row it reads or writes is that shop's, or a user's.
--
-- p_catalogue_version: the shop's catalogue_version (0016) the resources and
-- the block were worked out from. If it is no longer the shop's, nothing is
-- written and catalogue_current is false: the caller reads the catalogue
-- again and retries. Otherwise the shop's row is held FOR SHARE until commit,
-- so that a catalogue change waits for this booking, and a booking made after
-- a change obeys it. NULL: no check (the default shop, whose hours the
-- template's parameters set for the whole release). Until a later release
-- drops the bay's constraint (0010), which knows no shops, only the default
-- shop books.
--
-- Returns whether the user exists and the resource p_booking_id holds (NULL:
-- not booked). Our own id already in the table means an earlier attempt of
-- this same request (its connection died) committed: the request is booked,
-- once. With a key, the outcome is recorded in the same transaction; a key
-- already recorded, or being recorded by a request still running, fails the
-- whole statement with a unique violation, and the caller answers from the
-- recorded row instead. p_new_user_name: as in v2, the name a signed-in
-- caller becomes a user under with a first booking; NULL enrols no one.
CREATE FUNCTION book_slot_v3(
    p_shop_id text,
    p_service_id text,
    p_catalogue_version bigint,
    p_resource_ids text[],
    p_booking_id text,
    p_user_id text,
    p_slot_date date,
    p_slot_time time,
    p_starts_at timestamptz,
    p_ends_at timestamptz,
    p_block_starts_at timestamptz,
    p_block_ends_at timestamptz,
    p_key text,
    p_fingerprint text,
    p_new_user_name text,
    OUT user_exists boolean,
    OUT booked_resource_id text,
    OUT catalogue_current boolean
)
LANGUAGE plpgsql AS $$
DECLARE
    wanted tstzrange := tstzrange(p_starts_at, p_ends_at);
    blocked tstzrange := tstzrange(p_block_starts_at, p_block_ends_at);
    in_shop catalogue_id_range := catalogue_id_range(p_shop_id, p_shop_id, '[]');
    free_resource text;
    looked_free boolean;
BEGIN
    -- Our own id first: an earlier attempt of this request that committed is
    -- its answer, whatever changed since.
    booked_resource_id := (
        SELECT b.resource_id FROM bookings AS b WHERE b.shop_id = p_shop_id AND b.id = p_booking_id
    );
    catalogue_current := true;
    IF p_catalogue_version IS NOT NULL AND booked_resource_id IS NULL THEN
        PERFORM FROM shops
        WHERE shop_id = p_shop_id AND catalogue_version = p_catalogue_version
        FOR SHARE;
        catalogue_current := FOUND;
        IF NOT catalogue_current THEN
            RETURN;
        END IF;
    END IF;
    -- Looked up first: a returning user's booking writes nothing here. Two
    -- first bookings of one caller both insert; the second waits for the
    -- first, then goes on with the row it committed.
    IF p_new_user_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = p_user_id) THEN
        INSERT INTO users (id, name) VALUES (p_user_id, p_new_user_name)
        ON CONFLICT (id) DO NOTHING;
    END IF;
    user_exists := EXISTS (SELECT 1 FROM users WHERE id = p_user_id);
    -- Each round tries the resources free in a new snapshot, in the caller's
    -- order. A racer may take one meanwhile: the insert then yields (ON
    -- CONFLICT DO NOTHING, naming no constraint, waits for the racer to commit
    -- or roll back) and the next is tried. A round that lost every race looks
    -- again, since a cancel may have freed one meanwhile; "full" is the answer
    -- once none looks free.
    FOR attempt IN 1..3 LOOP
        EXIT WHEN booked_resource_id IS NOT NULL OR NOT user_exists;
        looked_free := false;
        FOR free_resource IN
            SELECT candidate.resource_id
            FROM unnest(p_resource_ids) WITH ORDINALITY AS candidate (resource_id, rank)
            WHERE NOT EXISTS (
                SELECT 1 FROM bookings AS b
                WHERE b.status = 'confirmed'
                  AND catalogue_id_range(b.shop_id, b.shop_id, '[]') && in_shop
                  AND catalogue_id_range(b.resource_id, b.resource_id, '[]')
                      && catalogue_id_range(candidate.resource_id, candidate.resource_id, '[]')
                  AND b.block && blocked
            )
            ORDER BY candidate.rank
        LOOP
            looked_free := true;
            INSERT INTO bookings (
                id, user_id, slot_date, slot_time, during, shop_id, service_id, resource_id, block
            )
            SELECT p_booking_id, users.id, p_slot_date, p_slot_time, wanted,
                   p_shop_id, p_service_id, free_resource, blocked
            FROM users
            WHERE users.id = p_user_id
            ON CONFLICT DO NOTHING;
            IF FOUND THEN
                booked_resource_id := free_resource;
                EXIT;
            END IF;
        END LOOP;
        -- An earlier attempt of this request, still running when this one
        -- began, may have committed while our insert waited for it; and the
        -- user may have been deleted while it waited.
        booked_resource_id := coalesce(
            booked_resource_id,
            (SELECT b.resource_id FROM bookings AS b
             WHERE b.shop_id = p_shop_id AND b.id = p_booking_id)
        );
        user_exists := booked_resource_id IS NOT NULL
            OR EXISTS (SELECT 1 FROM users WHERE id = p_user_id);
        EXIT WHEN NOT looked_free;
    END LOOP;
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (shop_id, user_id, key, request_fingerprint, outcome, attempt_id)
        VALUES (
            p_shop_id,
            p_user_id,
            p_key,
            p_fingerprint,
            CASE
                WHEN booked_resource_id IS NOT NULL THEN 'booked'
                WHEN user_exists THEN 'slot_full'
                ELSE 'user_not_found'
            END,
            p_booking_id
        );
    END IF;
END
$$;
