-- The catalogue: shops, the resources a booking occupies (a bay, a mechanic),
-- and the services clients book (an oil change of 30 minutes). Expand only:
-- new tables, nothing the running release reads or writes is touched.
--
-- shop_id leads every primary, unique and foreign key, so that these tables
-- can be distributed by shop (Citus) or partitioned by it, each shop's rows
-- and their constraints on one shard. The migrate function writes the default
-- shop (id "default") from the template's schedule parameters on every run.
--
-- Ids are what a URL path carries: 1-64 characters of a-z, 0-9, - and _.
-- Opening hours are text in the form of the OpeningHours parameter
-- ("Mon-Fri 09:00-17:00; Sat 10:00-14:00"), which the functions parse.

CREATE TABLE shops (
    shop_id text PRIMARY KEY CHECK (shop_id ~ '^[a-z0-9_-]{1,64}$'),
    name text NOT NULL CHECK (name <> ''),
    time_zone text NOT NULL,
    opening_hours text NOT NULL CHECK (opening_hours <> ''),
    -- Real days only: no NULL element, no 'infinity'.
    closed_dates date[] NOT NULL DEFAULT '{}'
        CHECK (array_position(closed_dates, NULL) IS NULL
               AND '-infinity' < ALL (closed_dates) AND 'infinity' > ALL (closed_dates)),
    minimum_notice_minutes integer CHECK (minimum_notice_minutes >= 0),
    booking_horizon_days integer CHECK (booking_horizon_days >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE resources (
    shop_id text NOT NULL REFERENCES shops (shop_id),
    resource_id text NOT NULL CHECK (resource_id ~ '^[a-z0-9_-]{1,64}$'),
    name text NOT NULL CHECK (name <> ''),
    opening_hours text CHECK (opening_hours <> ''), -- NULL: the shop's
    PRIMARY KEY (shop_id, resource_id)
);

-- A holiday, a sick day: instants, so that a day off means the same whatever
-- the zone's clocks do that day.
CREATE TABLE resource_time_off (
    shop_id text NOT NULL,
    resource_id text NOT NULL,
    time_off_id text NOT NULL CHECK (time_off_id ~ '^[a-z0-9_-]{1,64}$'),
    during tstzrange NOT NULL CHECK (NOT isempty(during)),
    PRIMARY KEY (shop_id, resource_id, time_off_id),
    FOREIGN KEY (shop_id, resource_id) REFERENCES resources (shop_id, resource_id) ON DELETE CASCADE
);

CREATE TABLE services (
    shop_id text NOT NULL REFERENCES shops (shop_id),
    service_id text NOT NULL CHECK (service_id ~ '^[a-z0-9_-]{1,64}$'),
    name text NOT NULL CHECK (name <> ''),
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 1440),
    -- Set-up and clean-up: the resource is busy, the client is not there.
    buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 1440),
    buffer_after_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 1440),
    -- How often starts step from each opening; NULL: every duration.
    step_minutes integer CHECK (step_minutes BETWEEN 5 AND 1440),
    PRIMARY KEY (shop_id, service_id)
);

-- Which resources can perform a service.
CREATE TABLE service_resources (
    shop_id text NOT NULL,
    service_id text NOT NULL,
    resource_id text NOT NULL,
    PRIMARY KEY (shop_id, service_id, resource_id),
    FOREIGN KEY (shop_id, service_id) REFERENCES services (shop_id, service_id) ON DELETE CASCADE,
    FOREIGN KEY (shop_id, resource_id) REFERENCES resources (shop_id, resource_id) ON DELETE CASCADE
);

-- A resource's links, found without reading the shop's every link (its delete cascades).
CREATE INDEX service_resources_by_resource ON service_resources (shop_id, resource_id);
