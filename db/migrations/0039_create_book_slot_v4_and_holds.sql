-- A lapsed hold blocks no one, with no sweeper needed: every write that puts
-- a booking or a hold on a resource's block (an insert; a move, which changes
-- the block or the resource) first marks the lapsed holds in its way expired,
-- so that the exclusion constraint (0038) no longer counts them. A trigger,
-- so that the previous release's bookings (book_slot_v3) get past them too.
-- Two writers that want one lapsed hold's block both reach it: the second
-- waits for the first's row lock and then finds it expired already. A
-- confirmation racing it takes the row lock too, and re-checks the hold: the
-- hold is either confirmed (and the writer's insert meets the constraint) or
-- expired (and the confirmation answers so), never both.
CREATE FUNCTION expire_lapsed_holds_in_the_way() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bookings AS lapsed
    SET status = 'expired'
    WHERE lapsed.status = 'held' AND lapsed.hold_expires_at <= now()
      AND catalogue_id_range(lapsed.shop_id, lapsed.shop_id, '[]')
          && catalogue_id_range(NEW.shop_id, NEW.shop_id, '[]')
      AND catalogue_id_range(lapsed.resource_id, lapsed.resource_id, '[]')
          && catalogue_id_range(NEW.resource_id, NEW.resource_id, '[]')
      AND lapsed.block && NEW.block
      AND lapsed.id <> NEW.id;
    RETURN NEW;
END
$$;

-- Not on a change of status alone: marking a hold expired (above), released
-- or confirmed takes no new block.
CREATE TRIGGER bookings_expire_lapsed_holds_in_the_way
    BEFORE INSERT OR UPDATE OF block, resource_id ON bookings
    FOR EACH ROW WHEN (NEW.status IN ('confirmed', 'held'))
    EXECUTE FUNCTION expire_lapsed_holds_in_the_way();

-- book_slot_v3 (0020) that also holds: with p_hold_seconds, the row is a hold
-- (status 'held') lasting the shop's hold_seconds (0041), or else that long,
-- and the user may have at most
-- p_hold_limit live holds at the shop. The limit is decided here, not by a
-- count read earlier: the user's row is locked (FOR NO KEY UPDATE, which the
-- foreign keys' checks do not wait for) before their live holds are counted,
-- so one user's holds are made one at a time and each counts the ones before
-- it. too_many_holds: refused for that; nothing written. hold_expires_at: the
-- hold's, or NULL. Bookings and holds see live holds as taken. v3 stays for
-- the previous release, and a later release drops it.
CREATE FUNCTION book_slot_v4(
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
    p_hold_seconds integer,
    p_hold_limit integer,
    OUT user_exists boolean,
    OUT booked_resource_id text,
    OUT catalogue_current boolean,
    OUT too_many_holds boolean,
    OUT hold_expires_at timestamptz
)
LANGUAGE plpgsql AS $$
DECLARE
    wanted tstzrange := tstzrange(p_starts_at, p_ends_at);
    blocked tstzrange := tstzrange(p_block_starts_at, p_block_ends_at);
    in_shop catalogue_id_range := catalogue_id_range(p_shop_id, p_shop_id, '[]');
    free_resource text;
    looked_free boolean;
    hold_for integer := CASE WHEN p_hold_seconds IS NOT NULL THEN coalesce(
        (SELECT s.hold_seconds FROM shops AS s WHERE s.shop_id = p_shop_id), p_hold_seconds
    ) END;
BEGIN
    -- Our own id first: an earlier attempt of this request that committed is
    -- its answer, whatever changed since.
    SELECT b.resource_id, b.hold_expires_at INTO booked_resource_id, hold_expires_at
    FROM bookings AS b WHERE b.shop_id = p_shop_id AND b.id = p_booking_id;
    catalogue_current := true;
    too_many_holds := false;
    IF p_catalogue_version IS NOT NULL AND booked_resource_id IS NULL THEN
        PERFORM FROM shops
        WHERE shop_id = p_shop_id AND catalogue_version = p_catalogue_version
        FOR SHARE;
        catalogue_current := FOUND;
        IF NOT catalogue_current THEN
            RETURN;
        END IF;
    END IF;
    IF p_new_user_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = p_user_id) THEN
        INSERT INTO users (id, name) VALUES (p_user_id, p_new_user_name)
        ON CONFLICT (id) DO NOTHING;
    END IF;
    user_exists := EXISTS (SELECT 1 FROM users WHERE id = p_user_id);
    IF p_hold_seconds IS NOT NULL AND booked_resource_id IS NULL AND user_exists THEN
        PERFORM FROM users WHERE id = p_user_id FOR NO KEY UPDATE;
        -- An earlier attempt of this request may have committed while we
        -- waited for the lock: it is the answer, not one hold too many.
        SELECT b.resource_id, b.hold_expires_at INTO booked_resource_id, hold_expires_at
        FROM bookings AS b WHERE b.shop_id = p_shop_id AND b.id = p_booking_id;
    END IF;
    IF p_hold_seconds IS NOT NULL AND booked_resource_id IS NULL AND user_exists THEN
        -- The user's lapsed holds leave the index of held rows (0037) that the
        -- count reads: it reads their live holds, at most p_hold_limit, and
        -- those lapsed since their last hold.
        UPDATE bookings AS b SET status = 'expired'
        WHERE b.shop_id = p_shop_id AND b.user_id = p_user_id
          AND b.status = 'held' AND b.hold_expires_at <= now();
        too_many_holds := p_hold_limit <= (
            SELECT count(*) FROM bookings AS b
            WHERE b.shop_id = p_shop_id AND b.user_id = p_user_id
              AND b.status = 'held' AND b.hold_expires_at > now()
        );
        IF too_many_holds THEN
            RETURN;
        END IF;
    END IF;
    -- As v3: each round tries the resources free in a new snapshot, in the
    -- caller's order; an insert that meets a racer yields (ON CONFLICT DO
    -- NOTHING waits for the racer to commit or roll back) and the next is
    -- tried; "full" once none looks free.
    FOR attempt IN 1..3 LOOP
        EXIT WHEN booked_resource_id IS NOT NULL OR NOT user_exists;
        looked_free := false;
        FOR free_resource IN
            SELECT candidate.resource_id
            FROM unnest(p_resource_ids) WITH ORDINALITY AS candidate (resource_id, rank)
            WHERE NOT EXISTS (
                SELECT 1 FROM bookings AS b
                WHERE b.status IN ('confirmed', 'held')
                  AND (b.status = 'confirmed' OR b.hold_expires_at > now())
                  AND catalogue_id_range(b.shop_id, b.shop_id, '[]') && in_shop
                  AND catalogue_id_range(b.resource_id, b.resource_id, '[]')
                      && catalogue_id_range(candidate.resource_id, candidate.resource_id, '[]')
                  AND b.block && blocked
            )
            ORDER BY candidate.rank
        LOOP
            looked_free := true;
            INSERT INTO bookings (
                id, user_id, slot_date, slot_time, during, shop_id, service_id, resource_id,
                block, status, hold_expires_at
            )
            SELECT p_booking_id, users.id, p_slot_date, p_slot_time, wanted,
                   p_shop_id, p_service_id, free_resource, blocked,
                   CASE WHEN p_hold_seconds IS NULL THEN 'confirmed' ELSE 'held' END,
                   now() + make_interval(secs => hold_for)
            FROM users
            WHERE users.id = p_user_id
            ON CONFLICT DO NOTHING
            RETURNING bookings.hold_expires_at INTO hold_expires_at;
            IF FOUND THEN
                booked_resource_id := free_resource;
                EXIT;
            END IF;
        END LOOP;
        -- An earlier attempt of this request, still running when this one
        -- began, may have committed while our insert waited for it; and the
        -- user may have been deleted while it waited.
        IF booked_resource_id IS NULL THEN
            SELECT b.resource_id, b.hold_expires_at INTO booked_resource_id, hold_expires_at
            FROM bookings AS b WHERE b.shop_id = p_shop_id AND b.id = p_booking_id;
        END IF;
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

-- A booking confirmed from its hold is made then: version 1, whatever its
-- hold went through. Every other change counts as 0031 counts it.
CREATE OR REPLACE FUNCTION count_booking_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := CASE WHEN OLD.status = 'held' AND NEW.status = 'confirmed' THEN 1
                        ELSE OLD.version + 1 END;
    RETURN NEW;
END
$$;
