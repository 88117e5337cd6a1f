-- Live holds keep resources busy for a shop's calendar: service_calendar_v1
-- (0024) is replaced in place, its signature unchanged, so the previous
-- release, which calls it too, gets the better answer. It counts a live hold
-- as busy, and a lapsed one as free, found through the index of 0038's
-- constraint.
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
