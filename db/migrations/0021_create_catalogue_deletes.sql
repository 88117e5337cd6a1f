-- Deleting from a shop's catalogue, in one statement each (one round trip),
-- refused while confirmed bookings of what would go are still to come (an
-- appointment not yet ended): they are counted and nothing is written. Past
-- bookings keep their history; they hold no key to the catalogue.
--
-- Functions, because the count must see every booking committed before the
-- delete: each first takes the shop's row FOR UPDATE, which waits for the
-- bookings in flight (book_slot_v3 holds it FOR SHARE until it commits), and
-- only then counts, in a statement of its own, hence a snapshot taken after
-- the wait. A booking that comes after finds the catalogue version raised and
-- reads the catalogue again, without what was deleted.
--
-- Each returns whether there was such a shop and such a thing in it, and how
-- many of its bookings are still to come (when more than 0, nothing was
-- deleted).

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
        UPDATE shops SET catalogue_version = catalogue_version + 1, updated_at = now()
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
        UPDATE shops SET catalogue_version = catalogue_version + 1, updated_at = now()
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
