-- Live holds keep resources busy for the reads and moves of the previous
-- release too: service_calendar_v1 (0024) and move_booking_v1 (0032) are
-- replaced in place, their signatures unchanged, the previous release calls
-- them as before and gets the better answer. Only what differs:
-- - the calendar counts a live hold as busy, and a lapsed one as free;
-- - a move finds only bookings (a hold's id is not_found: holds are moved by
--   releasing them and holding again) and sees live holds as taken.
-- Both find bookings and holds through the index of 0038's constraint.
CREATE OR REPLACE FUNCTION service_calendar_v1(
    p_shop_id text,
    p_service_id text,
    p_resource_id text, -- NULL: every resource that performs the service
    p_from timestamptz,
    p_to timestamptz,
    p_with_bookings boolean
) RETURNS TABLE (
    time_zone text,
    opening_hours text,
    closed_dates date[],
    minimum_notice_minutes integer,
    booking_horizon_days integer,
    catalogue_version bigint,
    duration_minutes integer, -- NULL: the shop has no such service
    buffer_before_minutes integer,
    buffer_after_minutes integer,
    step_minutes integer,
    resource_ids text[],
    resource_opening_hours text[], -- NULL each: the shop's
    resource_exists boolean, -- p_resource_id is the shop's (true when NULL)
    busy_resource_ids text[],
    busy_from float8[], -- -infinity: unbounded
    busy_until float8[] -- infinity: unbounded
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT shops.time_zone, shops.opening_hours, shops.closed_dates,
           shops.minimum_notice_minutes, shops.booking_horizon_days, shops.catalogue_version,
           services.duration_minutes, services.buffer_before_minutes,
           services.buffer_after_minutes,
           coalesce(services.step_minutes, services.duration_minutes),
           eligible.resource_ids, eligible.opening_hours,
           p_resource_id IS NULL OR EXISTS (
               SELECT 1 FROM resources
               WHERE resources.shop_id = shops.shop_id AND resources.resource_id = p_resource_id
           ),
           taken.resource_ids, taken.starts, taken.ends
    FROM shops
    LEFT JOIN services
      ON services.shop_id = shops.shop_id AND services.service_id = p_service_id
    LEFT JOIN LATERAL (
        SELECT array_agg(resources.resource_id ORDER BY resources.resource_id COLLATE "C"),
               array_agg(resources.opening_hours ORDER BY resources.resource_id COLLATE "C")
        FROM service_resources AS link
        JOIN resources
          ON resources.shop_id = link.shop_id AND resources.resource_id = link.resource_id
        WHERE link.shop_id = services.shop_id AND link.service_id = services.service_id
          AND (p_resource_id IS NULL OR link.resource_id = p_resource_id)
    ) AS eligible (resource_ids, opening_hours) ON true
    LEFT JOIN LATERAL (
        SELECT tstzrange(
            p_from - make_interval(mins => services.buffer_before_minutes),
            p_to + make_interval(mins => services.buffer_after_minutes)
        )
    ) AS widened (span) ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(busy.resource_id),
               array_agg(coalesce(date_part('epoch', lower(busy.busy_over)), '-infinity')),
               array_agg(coalesce(date_part('epoch', upper(busy.busy_over)), 'infinity'))
        FROM (
            SELECT bookings.resource_id, bookings.block
            FROM bookings
            WHERE p_with_bookings AND bookings.status IN ('confirmed', 'held')
              AND (bookings.status = 'confirmed' OR bookings.hold_expires_at > now())
              AND catalogue_id_range(bookings.shop_id, bookings.shop_id, '[]')
                  && catalogue_id_range(shops.shop_id, shops.shop_id, '[]')
              AND bookings.block && widened.span
              AND bookings.resource_id = ANY (eligible.resource_ids)
            UNION ALL
            SELECT time_off.resource_id, time_off.during
            FROM resource_time_off AS time_off
            WHERE time_off.shop_id = shops.shop_id
              AND time_off.resource_id = ANY (eligible.resource_ids)
              AND time_off.during && widened.span
        ) AS busy (resource_id, busy_over)
    ) AS taken (resource_ids, starts, ends) ON true
    WHERE shops.shop_id = p_shop_id;
END
$$;


CREATE OR REPLACE FUNCTION move_booking_v1(
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
