-- A live hold is a booking to come for the catalogue's deletes (0021): a
-- resource, service or shop with one is not deleted, since confirming it
-- would book what no longer exists. Replaced in place, signature unchanged:
-- the previous release's deletes, which call it too, get the better answer.
-- Through the GiST index of the exclusion constraint (0038).
CREATE OR REPLACE FUNCTION catalogue_future_bookings(
    p_shop_id text, p_resource_id text, p_service_id text
) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM bookings
    WHERE status IN ('confirmed', 'held')
      AND (status = 'confirmed' OR hold_expires_at > now())
      AND catalogue_id_range(shop_id, shop_id, '[]') && catalogue_id_range(p_shop_id, p_shop_id, '[]')
      AND block && tstzrange(now(), NULL)
      AND upper(during) > now()
      AND (p_resource_id IS NULL OR resource_id = p_resource_id)
      AND (p_service_id IS NULL OR service_id = p_service_id)
$$;
