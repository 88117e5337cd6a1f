-- move_booking_v1 (0032) for this release: it finds only bookings (a hold's
-- id is not_found: a hold is moved by releasing it and holding again), sees
-- live holds as taken, and keeps the change cut-off. v1 stays for the
-- previous release (which knows no holds: a lapsed hold in its way is marked
-- expired by 0039's trigger, and a live one refuses it through 0038's
-- constraint), and a later release drops it.
--
-- The cut-off: a booking that starts within p_change_notice_minutes (the
-- default shop's ChangeNoticeMinutes; NULL: the shop's change_notice_minutes,
-- 0041) is not moved: too_late. p_exempt: an admin's move, which it does not
-- bind. Checked after a move already made (a retry is answered moved, even
-- though the booking now starts soon) and before the catalogue.
CREATE FUNCTION move_booking_v2(
    p_shop_id text,
    p_booking_id text,
    p_owner text,
    p_versions integer[],
    p_catalogue_version bigint,
    p_resource_ids text[],
    p_slot_date date,
    p_slot_time time,
    p_starts_at timestamptz,
    p_ends_at timestamptz,
    p_block_starts_at timestamptz,
    p_block_ends_at timestamptz,
    p_moved_by text,
    p_change_notice_minutes integer,
    p_exempt boolean,
    OUT outcome text,
    OUT moved bookings
)
LANGUAGE plpgsql AS $$
DECLARE
    wanted tstzrange := tstzrange(p_starts_at, p_ends_at);
    blocked tstzrange := tstzrange(p_block_starts_at, p_block_ends_at);
    in_shop catalogue_id_range := catalogue_id_range(p_shop_id, p_shop_id, '[]');
    there boolean;
    free_resource text;
    looked_free boolean;
    change_notice integer;
BEGIN
    SELECT * INTO moved FROM bookings AS b
    WHERE b.shop_id = p_shop_id AND b.id = p_booking_id
      AND (p_owner IS NULL OR b.user_id = p_owner)
      AND b.status IN ('confirmed', 'cancelled')
    FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    IF moved.status = 'cancelled' THEN
        outcome := 'cancelled';
        RETURN;
    END IF;
    there := moved.block = blocked AND moved.during = wanted
        AND moved.resource_id = ANY (p_resource_ids);
    IF p_versions IS NOT NULL AND NOT moved.version = ANY (p_versions) THEN
        outcome := CASE WHEN there AND moved.version - 1 = ANY (p_versions) THEN 'moved'
                        ELSE 'changed' END;
        RETURN;
    END IF;
    IF there THEN
        outcome := 'moved';
        RETURN;
    END IF;
    -- The change cut-off, on the booking's start as it is: the caller's (the
    -- default shop's, from the template) or else the shop's own setting.
    change_notice := coalesce(
        p_change_notice_minutes,
        (SELECT s.change_notice_minutes FROM shops AS s WHERE s.shop_id = p_shop_id)
    );
    IF NOT p_exempt AND lower(moved.during) < now() + make_interval(mins => change_notice) THEN
        outcome := 'too_late';
        RETURN;
    END IF;
    IF p_catalogue_version IS NOT NULL THEN
        PERFORM FROM shops
        WHERE shop_id = p_shop_id AND catalogue_version = p_catalogue_version
        FOR SHARE;
        IF NOT FOUND THEN
            outcome := 'catalogue_changed';
            RETURN;
        END IF;
    END IF;
    -- As book_slot_v3: each round tries the resources free in a new snapshot,
    -- the booking's own first (a client moving keeps their bay or mechanic
    -- when it is free), then in the caller's order; an update that meets a racer's block fails on
    -- 0038's constraint (after waiting for the racer to commit), is undone
    -- alone, and the next resource is tried.
    FOR attempt IN 1..3 LOOP
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
                  AND b.id <> p_booking_id
            )
            ORDER BY candidate.resource_id = moved.resource_id DESC, candidate.rank
        LOOP
            looked_free := true;
            BEGIN
                UPDATE bookings AS b
                SET slot_date = p_slot_date,
                    slot_time = p_slot_time,
                    during = wanted,
                    block = blocked,
                    resource_id = free_resource,
                    moved_from = last_moves(coalesce(b.moved_from, '[]'::jsonb) || jsonb_build_object(
                        'date', b.slot_date,
                        'time', to_char(b.slot_time, 'HH24:MI'),
                        'starts_at', lower(b.during),
                        'ends_at', upper(b.during),
                        'resource_id', b.resource_id,
                        'version', b.version,
                        'moved_at', now(),
                        'moved_by', p_moved_by
                    ))
                WHERE b.shop_id = p_shop_id AND b.id = p_booking_id
                RETURNING * INTO moved;
                outcome := 'moved';
                RETURN;
            EXCEPTION WHEN exclusion_violation OR deadlock_detected THEN
                -- A racer took this resource: try the next. Or two moves each
                -- wanted the other's block (a swap), each waiting for the
                -- other's row: the server broke the tie by failing this
                -- update alone, which releases what it took, and the other
                -- move goes on.
                NULL;
            END;
        END LOOP;
        EXIT WHEN NOT looked_free;
    END LOOP;
    outcome := 'slot_full';
END
$$;
