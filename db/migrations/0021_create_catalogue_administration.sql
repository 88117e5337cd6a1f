-- The catalogue's administration: replacing a resource or a service, and
-- deleting a shop, a resource or a service, in one statement each (one round
-- trip). Functions, because what they read must be read after the shop's row
-- is theirs: each first takes it FOR UPDATE, which waits for the bookings in
-- flight (book_slot_v3 holds it FOR SHARE until it commits) and for any other
-- change to the shop, and only then reads, in statements of their own, hence
-- snapshots taken after the wait. Two replaces of one resource follow each
-- other instead of mixing what each saw; a replace naming a resource that a
-- delete just took finds it gone. A booking that comes after a change finds
-- the shop's catalogue_version new and reads the catalogue again.
--
-- A delete is refused while confirmed bookings of what would go are still to
-- come (an appointment not yet ended): they are counted and nothing is
-- written. Past bookings keep their history; they hold no key to the
-- catalogue.
--
-- Each delete returns whether there was such a shop and such a thing in it,
-- and how many of its bookings are still to come (when more than 0, nothing
-- was deleted).

CREATE FUNCTION catalogue_future_bookings(
    p_shop_id text, p_resource_id text, p_service_id text
) RETURNS bigint
LANGUAGE sql STABLE AS $$
    -- Through the GiST index of the exclusion constraint by resource (0019).
    SELECT count(*) FROM bookings
    WHERE status = 'confirmed'
      AND catalogue_id_range(shop_id, shop_id, '[]') && catalogue_id_range(p_shop_id, p_shop_id, '[]')
      AND block && tstzrange(now(), NULL)
      AND upper(during) > now()
      AND (p_resource_id IS NULL OR resource_id = p_resource_id)
      AND (p_service_id IS NULL OR service_id = p_service_id)
$$;

CREATE FUNCTION delete_resource_v1(
    p_shop_id text,
    p_resource_id text,
    OUT shop_found boolean,
    OUT item_found boolean,
    OUT future_bookings bigint
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM shops WHERE shop_id = p_shop_id FOR UPDATE;
    shop_found := FOUND;
    item_found := shop_found AND EXISTS (
        SELECT 1 FROM resources WHERE shop_id = p_shop_id AND resource_id = p_resource_id
    );
    future_bookings := CASE
        WHEN item_found THEN catalogue_future_bookings(p_shop_id, p_resource_id, NULL) ELSE 0
    END;
    IF item_found AND future_bookings = 0 THEN
        -- Its time off and its links to services go with it (ON DELETE CASCADE).
        DELETE FROM resources WHERE shop_id = p_shop_id AND resource_id = p_resource_id;
        UPDATE shops SET catalogue_version = nextval('catalogue_versions'), updated_at = now()
        WHERE shop_id = p_shop_id;
    END IF;
END
$$;

CREATE FUNCTION delete_service_v1(
    p_shop_id text,
    p_service_id text,
    OUT shop_found boolean,
    OUT item_found boolean,
    OUT future_bookings bigint
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM shops WHERE shop_id = p_shop_id FOR UPDATE;
    shop_found := FOUND;
    item_found := shop_found AND EXISTS (
        SELECT 1 FROM services WHERE shop_id = p_shop_id AND service_id = p_service_id
    );
    future_bookings := CASE
        WHEN item_found THEN catalogue_future_bookings(p_shop_id, NULL, p_service_id) ELSE 0
    END;
    IF item_found AND future_bookings = 0 THEN
        -- Its links to resources go with it (ON DELETE CASCADE).
        DELETE FROM services WHERE shop_id = p_shop_id AND service_id = p_service_id;
        UPDATE shops SET catalogue_version = nextval('catalogue_versions'), updated_at = now()
        WHERE shop_id = p_shop_id;
    END IF;
END
$$;

CREATE FUNCTION delete_shop_v1(p_shop_id text, OUT shop_found boolean, OUT future_bookings bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM shops WHERE shop_id = p_shop_id FOR UPDATE;
    shop_found := FOUND;
    future_bookings := CASE
        WHEN shop_found THEN catalogue_future_bookings(p_shop_id, NULL, NULL) ELSE 0
    END;
    IF shop_found AND future_bookings = 0 THEN
        DELETE FROM services WHERE shop_id = p_shop_id;
        DELETE FROM resources WHERE shop_id = p_shop_id;
        DELETE FROM shops WHERE shop_id = p_shop_id;
    END IF;
END
$$;

-- The resource, whole: its name, its own hours (NULL: the shop's) and its time
-- off, which replaces what it had. Returns whether the shop was found (if
-- not, nothing was written) and whether the resource was created.
CREATE FUNCTION save_resource_v1(
    p_shop_id text,
    p_resource_id text,
    p_name text,
    p_opening_hours text,
    p_time_off_ids text[],
    p_time_off_starts timestamptz[],
    p_time_off_ends timestamptz[],
    OUT shop_found boolean,
    OUT created boolean
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM shops WHERE shop_id = p_shop_id FOR UPDATE;
    shop_found := FOUND;
    IF NOT shop_found THEN
        RETURN;
    END IF;
    created := NOT EXISTS (
        SELECT 1 FROM resources WHERE shop_id = p_shop_id AND resource_id = p_resource_id
    );
    INSERT INTO resources (shop_id, resource_id, name, opening_hours)
    VALUES (p_shop_id, p_resource_id, p_name, p_opening_hours)
    ON CONFLICT (shop_id, resource_id) DO UPDATE SET
        name = EXCLUDED.name, opening_hours = EXCLUDED.opening_hours;
    DELETE FROM resource_time_off WHERE shop_id = p_shop_id AND resource_id = p_resource_id;
    INSERT INTO resource_time_off (shop_id, resource_id, time_off_id, during)
    SELECT p_shop_id, p_resource_id, period.time_off_id, tstzrange(period.starts_at, period.ends_at)
    FROM unnest(p_time_off_ids, p_time_off_starts, p_time_off_ends)
        AS period (time_off_id, starts_at, ends_at);
    UPDATE shops SET catalogue_version = nextval('catalogue_versions'), updated_at = now()
    WHERE shop_id = p_shop_id;
END
$$;

-- The service, whole: its times and the resources that perform it, which
-- replace its links. Returns whether the shop was found, the resources named
-- that the shop lacks, and whether the service was created; nothing is
-- written unless the shop was found and lacks none.
CREATE FUNCTION save_service_v1(
    p_shop_id text,
    p_service_id text,
    p_name text,
    p_duration_minutes integer,
    p_buffer_before_minutes integer,
    p_buffer_after_minutes integer,
    p_step_minutes integer,
    p_resource_ids text[],
    OUT shop_found boolean,
    OUT missing_resource_ids text[],
    OUT created boolean
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM shops WHERE shop_id = p_shop_id FOR UPDATE;
    shop_found := FOUND;
    IF NOT shop_found THEN
        RETURN;
    END IF;
    missing_resource_ids := ARRAY(
        SELECT wanted.resource_id FROM unnest(p_resource_ids) AS wanted (resource_id)
        WHERE NOT EXISTS (
            SELECT 1 FROM resources
            WHERE resources.shop_id = p_shop_id AND resources.resource_id = wanted.resource_id
        )
        ORDER BY wanted.resource_id COLLATE "C"
    );
    IF cardinality(missing_resource_ids) > 0 THEN
        RETURN;
    END IF;
    created := NOT EXISTS (
        SELECT 1 FROM services WHERE shop_id = p_shop_id AND service_id = p_service_id
    );
    INSERT INTO services (shop_id, service_id, name, duration_minutes,
                          buffer_before_minutes, buffer_after_minutes, step_minutes)
    VALUES (p_shop_id, p_service_id, p_name, p_duration_minutes,
            p_buffer_before_minutes, p_buffer_after_minutes, p_step_minutes)
    ON CONFLICT (shop_id, service_id) DO UPDATE SET
        name = EXCLUDED.name,
        duration_minutes = EXCLUDED.duration_minutes,
        buffer_before_minutes = EXCLUDED.buffer_before_minutes,
        buffer_after_minutes = EXCLUDED.buffer_after_minutes,
        step_minutes = EXCLUDED.step_minutes;
    DELETE FROM service_resources
    WHERE shop_id = p_shop_id AND service_id = p_service_id
      AND NOT resource_id = ANY (p_resource_ids);
    INSERT INTO service_resources (shop_id, service_id, resource_id)
    SELECT p_shop_id, p_service_id, unnest(p_resource_ids)
    ON CONFLICT DO NOTHING;
    UPDATE shops SET catalogue_version = nextval('catalogue_versions'), updated_at = now()
    WHERE shop_id = p_shop_id;
END
$$;
