-- Users who may book, and their bookings.
CREATE TABLE users (
    id text PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bookings (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id),
    slot_date date NOT NULL,
    slot_time time NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The service bay has capacity 1: this index is what makes two clients
    -- racing for one slot end with exactly one booking. It also serves the
    -- "booked starts of a day" query by its leading column.
    CONSTRAINT bookings_one_per_slot UNIQUE (slot_date, slot_time)
);

