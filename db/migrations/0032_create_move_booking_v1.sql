-- Moving a booking to another start, in one statement (one round trip) for
-- every outcome: the new block is taken and the old one released together,
-- as one update of the booking's row, which keeps its id. 0019's constraint
-- decides every race, as it does for bookings; the row's own old block does
-- not count against its new one (its old version is the update's own), so a
-- move half an hour later on the same resource works.
--
-- A booking keeps where it moved from: moved_from, oldest first (the last
-- 20), each move's previous date, time, interval and resource, its version
-- then, when and by whom (NULL: a caller the API does not know, with sign-in
-- off). A column of the booking's own, not a table: read with the booking at
-- no cost, and on its shard. Nullable and without a default: added without a rewrite, under
-- a lock held for an instant (given up after 2 s; the run fails, to be run
-- again).
--
-- The row is locked first, so that every check sees it as it is after any
-- change under way commits:
--   not_found          no such booking, or not p_owner's (when given)
--   cancelled          a cancelled booking does not move
--   moved              moved now; or already where it is asked to go, by
--                      this request's first attempt or another's, from a
--                      version p_versions names (nothing more is written)
--   changed            at none of p_versions (an If-Match): nothing is done
--   catalogue_changed  as for book_slot_v3: nothing written, read it again
--   slot_full          no resource of p_resource_ids is free for the block
-- The booking's row comes back with the outcome, as it is then.
--
-- The shop comes first, as the argument a distributed database routes the
-- call by; every row it reads or writes is that shop's.
--
-- It leaves the bay (0007) as it was: the previous release, which reads it
-- for the default shop's slots while both run, knows no moves, and the next
-- release drops it.
SET LOCAL lock_timeout = '2s';

ALTER TABLE bookings ADD COLUMN moved_from jsonb;

-- The last 20 moves of a history: a booking moved again and again keeps a
-- bounded row and answer.
CREATE FUNCTION last_moves(moves jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_array_length(moves) <= 20 THEN moves
                ELSE (SELECT jsonb_agg(m ORDER BY i)
                      FROM jsonb_array_elements(moves) WITH ORDINALITY AS e (m, i)
                      WHERE i > jsonb_array_length(moves) - 20)
           END
$$;

CREATE FUNCTION move_booking_v1(
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
    -- 0019's constraint (after waiting for the racer to commit), is undone
    -- alone, and the next resource is tried.
    FOR attempt IN 1..3 LOOP
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
