"""Warm latency: the real handler, in-process, called with real events on a warm container.

Each route is timed over many calls; the baseline is the same SQL sent raw with
psycopg on the same connection, so the difference is what the handler adds
(event parsing, validation, routing, logging, metrics, response building).
Where bench/floor has the route, its bare handler is timed too, in the same
runs: what a handler that adds next to nothing measures here.

Every run starts from the seed users alone, plus what its route needs: a
booking to look up; a booking per call to cancel, so that each cancel timed
is a first cancel; for the list, 20,000 bookings of 500 users and a busy one
with 400 (list_plan.fill), whose first page of 50 is listed; for the replay,
the keyed booking it replays; for GET /availability, a month of 31 days with
every other slot of each day booked (half the month's slots full, on the
default schedule); for a shop's availability, the same month for a service on
ten bays, five of them booked at every start. Each handler's answers in the
warm-up must be the route's outcome (its status, and for some what the body
holds), or the run stops.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import TYPE_CHECKING, Any

import psycopg

from bench import list_plan
from bench.environment import (
    LONGEST_RUN_S,
    BenchDatabase,
    apply_lambda_environment,
    percentile,
    quiet_handlers,
    spread,
)

if TYPE_CHECKING:  # imported in measure(), once Lambda's environment is set
    from appointments.data.store import IdempotencyKey, SlotRequest
    from appointments.domain.shop import Slot


def _timings(call: Callable[[int], Any], calls: int, first: int = 0) -> list[float]:
    samples = []
    for i in range(first, first + calls):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@dataclass(frozen=True)
class Route:
    """A route timed through the handler, and its baseline: the same SQL sent raw."""

    handler: Callable[[int], Any]
    baseline: Callable[[int], Any] | None = None
    status: int = 200  # what the handler must answer: a timing of another outcome is no timing
    # What the route needs in the table, written after each run's reset.
    prepare: Callable[[psycopg.Connection], Any] | None = None
    # Whether an answer's body is the one timed, beyond its status (for the warm-up's first).
    body_is: Callable[[Any], bool] | None = None
    # The floor's bare handler for the same request (bench/floor), answering the same status.
    floor: Callable[[int], Any] | None = None


# Bookings to cancel, one slot each: the handler cancels handler_<i>, the
# baseline raw_<i>, so that every cancel timed is a first cancel.
# The first day of _TO_CANCEL's bookings, which the moves move within.
_MOVES_FROM = date(2041, 1, 1)
_TO_CANCEL = """
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block)
    SELECT 'booking_warm_' || side || '_' || n, 'user_charlie', date '2041-01-01' + n, start,
           hour, 'bay-1', hour
    FROM generate_series(0, %(count)s - 1) AS n,
         (VALUES ('handler', time '10:00'), ('raw', time '11:00')) AS sides (side, start),
         LATERAL tstzrange((date '2041-01-01' + n + start) AT TIME ZONE 'UTC',
                           (date '2041-01-01' + n + start) AT TIME ZONE 'UTC' + interval '1 hour')
             AS hour
"""


# Holds to confirm, one slot each, as _TO_CANCEL's bookings; and users to hold
# with, one per call (a user may hold three slots at once).
_TO_CONFIRM = """
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block, status,
                          hold_expires_at)
    SELECT 'booking_warm_hold_' || side || '_' || n, 'user_charlie', date '2042-01-01' + n, start,
           hour, 'bay-1', hour, 'held', now() + interval '1 hour'
    FROM generate_series(0, %(count)s - 1) AS n,
         (VALUES ('handler', time '10:00'), ('raw', time '11:00')) AS sides (side, start),
         LATERAL tstzrange((date '2042-01-01' + n + start) AT TIME ZONE 'UTC',
                           (date '2042-01-01' + n + start) AT TIME ZONE 'UTC' + interval '1 hour')
             AS hour
"""
# The outbox's triggers off: bookings as they were written before 0046
# (BenchDatabase.reset switches them on again).
_WITHOUT_THE_OUTBOX = """
    ALTER TABLE bookings
        DISABLE TRIGGER bookings_record_new_events,
        DISABLE TRIGGER bookings_record_change_events
"""
_HOLDERS = """
    INSERT INTO users (id, name)
    SELECT 'user_warm_' || side || '_' || n, 'Holder'
    FROM generate_series(0, %(count)s - 1) AS n, (VALUES ('handler'), ('raw')) AS sides (side)
"""


def move_event(booking_id: str, n: int) -> dict[str, Any]:
    """A move of _TO_CANCEL's booking `n` (10:00 on its day) to 14:00, at version 1."""
    from local.http_api_event import http_api_event

    return http_api_event(
        "POST",
        f"/bookings/{booking_id}/reschedule",
        route_key="POST /bookings/{booking_id}/reschedule",
        path_parameters={"booking_id": booking_id},
        body=json.dumps({"date": (_MOVES_FROM + timedelta(days=n)).isoformat(), "time": "14:00"}),
        headers={"If-Match": '"1"'},
    )


def move_params(booking_id: str, n: int) -> dict[str, Any]:
    """_MOVE's parameters for the raw baseline: _TO_CANCEL's raw booking `n` (11:00) to 15:00."""
    from appointments.data import booking_records

    day = _MOVES_FROM + timedelta(days=n)
    starts_at = datetime.combine(day, clock(15), tzinfo=UTC)
    ends_at = starts_at + timedelta(hours=1)
    to = booking_records.Move(day, clock(15), starts_at, ends_at, ("bay-1",), (starts_at, ends_at))
    return booking_records.move_params(booking_id, None, [1], to, None)


def measure(database: BenchDatabase, calls: int, runs: int) -> dict[str, Any]:
    apply_lambda_environment(database.url)
    from appointments.api import booking_views
    from appointments.api.models import parse_booking_request
    from appointments.data import booking_records, busy_bays, hold_records, service_calendars, store
    from appointments.data import database as warm_connection
    from appointments.data.booking_records import ListQuery
    from appointments.domain import shop

    # Each floor module connects to DATABASE_URL as it is imported, as on a cold start.
    from bench.floor import bookings as floor_bookings
    from bench.floor import health as floor_health
    from bench.floor import slots as floor_slots
    from functions.bookings.app import handler as bookings
    from functions.health.app import handler as health
    from functions.slots.app import handler as slots
    from local.http_api_event import http_api_event
    from local.lambda_context import LocalLambdaContext

    context = LocalLambdaContext("bench", timeout_seconds=LONGEST_RUN_S)
    default_schedule = shop.load_schedule({})  # UTC, hourly 09:00-17:00, capacity 1

    def slots_of(day: str) -> tuple[Slot, ...]:
        return shop.slots_on(default_schedule, date.fromisoformat(day))

    def at_ten(day: str) -> Slot:  # the slot every booking here asks for
        return next(slot for slot in slots_of(day) if slot.label == "10:00")

    def day(i: int, offset: int) -> str:  # a distinct date per call, so every booking succeeds
        return f"{2040 + offset + i // 336}-{1 + (i // 28) % 12:02d}-{1 + i % 28:02d}"

    # Worked out before timing: the baselines time the SQL, not the schedule.
    slots_day = slots_of("2039-01-01")
    slots_span = {"from": slots_day[0].starts_at, "to": slots_day[-1].ends_at}
    taken_slot, nobody_slot, replayed_slot = map(at_ten, ("2039-01-01", "2039-01-02", "2039-01-03"))
    raw_booked_slots = [at_ten(day(i, 100)) for i in range(calls)]
    raw_keyed_slots = [at_ten(day(i, 300)) for i in range(calls)]
    raw_held_slots = [at_ten(day(i, 700)) for i in range(calls)]
    raw_unrecorded_slots = [at_ten(day(i, 900)) for i in range(calls)]
    # A month view: 31 days of 8 slots, every other slot of each day booked.
    month = shop.slots_between(default_schedule, date(2039, 3, 1), date(2039, 3, 31))
    month_slots = [slot for day_slots in month.values() for slot in day_slots]
    month_span = {"from": month_slots[0].starts_at, "to": month_slots[-1].ends_at}
    month_booked = [slot for day_slots in month.values() for slot in day_slots[::2]]

    def booking(user: str, date: str, time_: str = "10:00", key: str | None = None) -> Any:
        body = json.dumps({"user_id": user, "date": date, "time": time_})
        headers = {"Idempotency-Key": key} if key else None
        return http_api_event("POST", "/bookings", body=body, headers=headers)

    def hold_event(user: str, date: str) -> Any:
        body = json.dumps({"user_id": user, "date": date, "time": "10:00"})
        return http_api_event("POST", "/holds", body=body)

    def confirm_event(hold_id: str) -> Any:
        return http_api_event(
            "POST",
            f"/holds/{hold_id}/confirm",
            route_key="POST /holds/{hold_id}/confirm",
            path_parameters={"hold_id": hold_id},
        )

    slots_event = http_api_event("GET", "/slots", raw_query="date=2039-01-01")
    month_event = http_api_event("GET", "/availability", raw_query="from=2039-03-01&to=2039-03-31")
    health_event = http_api_event("GET", "/health")
    taken = booking("user_bob", "2039-01-01")
    lookup_event = http_api_event("GET", "/bookings/booking_warm_lookup")
    busy_page = ListQuery(list_plan.BUSY_USER, limit=50)
    list_event = http_api_event(
        "GET", "/bookings", raw_query=f"user_id={list_plan.BUSY_USER}&limit=50"
    )
    replayed = booking("user_alice", "2039-01-03", key="warm-replay")
    replayed_key = store.IdempotencyKey(
        "warm-replay",
        booking_views.request_fingerprint(parse_booking_request(replayed["body"].encode())),
    )

    def raw(sql: str, params: dict[str, Any]) -> Any:
        return warm_connection.get_connection().execute(sql, params).fetchall()

    def raw_replay(i: int) -> Any:
        """A replay's two statements: the booking, refused by the recorded key; the key's row."""
        params = _params(store.new_booking_id(), "user_alice", replayed_slot, replayed_key)
        try:
            raw(store._BOOK_SLOT, params)
        except psycopg.errors.UniqueViolation:
            pass
        else:
            raise AssertionError("the replay's booking statement was not refused")
        return raw(
            store._RECORDED_ANSWER,
            {
                "shop_id": "default",
                "user_id": "user_alice",
                "key": "warm-replay",
                "ttl": store.IDEMPOTENCY_KEY_TTL,
            },
        )

    def insert_lookup(conn: psycopg.Connection) -> None:
        conn.execute(
            "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block)"
            " VALUES ('booking_warm_lookup', 'user_charlie', '2039-01-05', '10:00',"
            " '[2039-01-05 10:00Z, 2039-01-05 11:00Z)', 'bay-1',"
            " '[2039-01-05 10:00Z, 2039-01-05 11:00Z)')"
        )

    def book_half_the_month(conn: psycopg.Connection) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id,"
                " block) VALUES (%s, 'user_charlie', %s, %s, tstzrange(%s, %s), 'bay-1',"
                " tstzrange(%s, %s))",
                [
                    (
                        f"booking_warm_month_{n}",
                        slot.starts_at.date(),
                        slot.start,
                        *(slot.starts_at, slot.ends_at) * 2,
                    )
                    for n, slot in enumerate(month_booked)
                ],
            )

    # The same month for a service of a shop with ten bays: at each start, five
    # of them booked (the shop's bookings on bay numbers of their own, apart
    # from the default shop's: the bay's constraint of 0010 still holds).
    shop_month_event = http_api_event(
        "GET",
        "/shops/bench-ten/availability",
        route_key="GET /shops/{shop_id}/availability",
        path_parameters={"shop_id": "bench-ten"},
        raw_query="service_id=service&from=2039-03-01&to=2039-03-31",
    )
    ten_bays = [f"bay-{n:02d}" for n in range(10)]
    ten_bays_version = [0]  # its catalogue version, as open_ten_bays left it

    # Bookings of "buffered" at bench-ten, a day of its own per 80 calls: each
    # hour of the day taken on each bay in turn (the first free bay by id), so
    # that a container books from the day it keeps, as it does all day long.
    def buffered_place(i: int, offset: int) -> tuple[str, str]:
        day_number, place = divmod(i, 80)
        return day(day_number, offset), f"{9 + place // 10:02d}:00"

    def buffered_event(i: int) -> Any:
        booked_day, start = buffered_place(i, 500)
        body = {"user_id": "user_alice", "service_id": "buffered", "date": booked_day}
        return http_api_event(
            "POST",
            "/shops/bench-ten/bookings",
            route_key="POST /shops/{shop_id}/bookings",
            path_parameters={"shop_id": "bench-ten"},
            body=json.dumps({**body, "time": start}),
        )

    def raw_buffered(i: int) -> Any:
        booked_day, start = buffered_place(i, 600)
        starts_at = datetime.fromisoformat(f"{booked_day}T{start}:00+00:00")
        request = store.SlotRequest(
            "user_alice",
            starts_at.date(),
            starts_at.time(),
            starts_at,
            starts_at + timedelta(minutes=30),
            capacity=0,
            shop_id="bench-ten",
            service_id="buffered",
            resource_ids=tuple(ten_bays),
            block=(starts_at - timedelta(minutes=10), starts_at + timedelta(minutes=45)),
            catalogue_version=ten_bays_version[0],
        )
        return raw(
            store._BOOK_SLOT, store.book_slot_params(store.new_booking_id("bench-ten"), request)
        )

    def open_ten_bays(conn: psycopg.Connection) -> None:
        """Shop bench-ten: ten bays, each performing "service" (an hour) and "buffered"
        (30 minutes, 10 of set-up and 15 of clean-up, hourly)."""
        conn.execute("DELETE FROM services WHERE shop_id = 'bench-ten'")
        conn.execute("DELETE FROM resources WHERE shop_id = 'bench-ten'")
        conn.execute("DELETE FROM shops WHERE shop_id = 'bench-ten'")
        conn.execute(
            "INSERT INTO shops (shop_id, name, time_zone, opening_hours)"
            " VALUES ('bench-ten', 'Ten bays', 'UTC', 'Daily 09:00-17:00')"
        )
        conn.execute(
            "INSERT INTO services (shop_id, service_id, name, duration_minutes,"
            " buffer_before_minutes, buffer_after_minutes, step_minutes)"
            " VALUES ('bench-ten', 'service', 'Service', 60, 0, 0, NULL),"
            " ('bench-ten', 'buffered', 'Buffered', 30, 10, 15, 60)"
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO resources (shop_id, resource_id, name) VALUES ('bench-ten', %s, %s)",
                [(bay, bay) for bay in ten_bays],
            )
            cursor.executemany(
                "INSERT INTO service_resources (shop_id, service_id, resource_id)"
                " VALUES ('bench-ten', %s, %s)",
                [(service, bay) for bay in ten_bays for service in ("service", "buffered")],
            )
        (ten_bays_version[0],) = conn.execute(  # type: ignore[misc]
            "SELECT catalogue_version FROM shops WHERE shop_id = 'bench-ten'"
        ).fetchone()

    def open_ten_bays_half_booked(conn: psycopg.Connection) -> None:
        open_ten_bays(conn)
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, block,"
                " shop_id, service_id, resource_id)"
                " VALUES (%s, 'user_charlie', %s, %s, tstzrange(%s, %s), tstzrange(%s, %s),"
                " 'bench-ten', 'service', %s)",
                [
                    (
                        f"booking_warm_ten_{n}_{bay}",
                        slot.starts_at.date(),
                        slot.start,
                        *(slot.starts_at, slot.ends_at) * 2,
                        ten_bays[bay],
                    )
                    for n, slot in enumerate(month_slots)
                    for bay in range(n % 2, 10, 2)
                ],
            )

    def half_of_ten_free(body: Any) -> bool:
        offered = [slot for day in body["days"] for slot in day["slots"]]
        return len(offered) == len(month_slots) and {s["remaining"] for s in offered} == {5}

    ten_bays_span = {
        "shop_id": "bench-ten",
        "service_id": "service",
        "resource_id": None,
        "from": month_span["from"] - timedelta(hours=14),
        "to": month_span["to"] + timedelta(hours=12),
        "with_bookings": True,
    }

    def half_the_month_full(body: Any) -> bool:
        offered = [slot for day in body["days"] for slot in day["slots"]]
        full = sum(slot["remaining"] == 0 for slot in offered)
        return (len(body["days"]), len(offered), full) == (31, len(month_slots), len(month_booked))

    routes: dict[str, Route] = {
        "GET /health": Route(
            lambda i: health(health_event, context),
            floor=lambda i: floor_health.handler(health_event, context),
        ),
        "GET /slots": Route(
            lambda i: slots(slots_event, context),
            lambda i: raw(busy_bays.BUSY_BAYS, slots_span),
            floor=lambda i: floor_slots.handler(slots_event, context),
        ),
        "GET /availability (31 days, half the slots booked)": Route(
            lambda i: slots(month_event, context),
            lambda i: raw(busy_bays.BUSY_BAYS, month_span),
            prepare=book_half_the_month,
            body_is=half_the_month_full,
        ),
        "GET /shops/{id}/availability (10 bays, 31 days, half of them booked)": Route(
            lambda i: slots(shop_month_event, context),
            lambda i: raw(service_calendars._SERVICE_CALENDAR, ten_bays_span),
            prepare=open_ten_bays_half_booked,
            body_is=half_of_ten_free,
        ),
        "POST /bookings (booked)": Route(
            lambda i: bookings(booking("user_alice", day(i, 0)), context),
            lambda i: raw(
                store._BOOK_SLOT, _params(store.new_booking_id(), "user_alice", raw_booked_slots[i])
            ),
            floor=lambda i: floor_bookings.handler(booking("user_alice", day(i, 400)), context),
        ),
        # The same, as it was before the outbox (0046): its triggers switched off.
        "POST /bookings (booked, without the outbox)": Route(
            lambda i: bookings(booking("user_alice", day(i, 800)), context),
            lambda i: raw(
                store._BOOK_SLOT,
                _params(store.new_booking_id(), "user_alice", raw_unrecorded_slots[i]),
            ),
            prepare=lambda conn: conn.execute(_WITHOUT_THE_OUTBOX),
        ),
        "POST /shops/{id}/bookings (booked, with buffers, the first free of 10 bays)": Route(
            lambda i: bookings(buffered_event(i), context),
            raw_buffered,
            prepare=open_ten_bays,
        ),
        "POST /holds (held)": Route(
            lambda i: bookings(hold_event(f"user_warm_handler_{i}", day(i, 500)), context),
            lambda i: raw(
                store._BOOK_SLOT,
                store.book_slot_params(
                    store.new_booking_id(),
                    _request(f"user_warm_raw_{i}", raw_held_slots[i]),
                    hold=store.HoldTerms(300, 3),
                ),
            ),
            status=201,
            prepare=lambda conn: conn.execute(_HOLDERS, {"count": calls + _WARM_UP}),
        ),
        "POST /holds/{id}/confirm (booked)": Route(
            lambda i: bookings(confirm_event(f"booking_warm_hold_handler_{i}"), context),
            lambda i: raw(
                hold_records._CONFIRM,
                {"shop_id": "default", "hold_id": f"booking_warm_hold_raw_{i}", "owner": None},
            ),
            prepare=lambda conn: conn.execute(_TO_CONFIRM, {"count": calls + _WARM_UP}),
        ),
        "POST /bookings (Slot full)": Route(
            lambda i: bookings(taken, context),
            lambda i: raw(
                store._BOOK_SLOT, _params(store.new_booking_id(), "user_alice", taken_slot)
            ),
            status=400,
            floor=lambda i: floor_bookings.handler(taken, context),
        ),
        "POST /bookings (User not found)": Route(
            lambda i: bookings(booking("user_nobody", "2039-01-02"), context),
            lambda i: raw(
                store._BOOK_SLOT, _params(store.new_booking_id(), "user_nobody", nobody_slot)
            ),
            status=400,
        ),
        "POST /bookings, new Idempotency-Key (booked)": Route(
            lambda i: bookings(booking("user_alice", day(i, 200), key=f"warm-{i}"), context),
            lambda i: raw(
                store._BOOK_SLOT,
                _params(
                    store.new_booking_id(),
                    "user_alice",
                    raw_keyed_slots[i],
                    store.IdempotencyKey(f"warm-raw-{i}", replayed_key.request_fingerprint),
                ),
            ),
        ),
        "POST /bookings, same key replayed": Route(
            lambda i: bookings(replayed, context),
            raw_replay,
            prepare=lambda conn: bookings(replayed, context),  # the first, recorded
        ),
        "GET /bookings/{id}": Route(
            lambda i: bookings(lookup_event, context),
            lambda i: raw(
                booking_records._FIND,
                {"shop_id": "default", "booking_id": "booking_warm_lookup", "owner": None},
            ),
            prepare=insert_lookup,
        ),
        "DELETE /bookings/{id} (first cancel)": Route(
            lambda i: bookings(
                http_api_event("DELETE", f"/bookings/booking_warm_handler_{i}"), context
            ),
            lambda i: raw(
                booking_records._CANCEL,
                {
                    "shop_id": "default",
                    "booking_id": f"booking_warm_raw_{i}",
                    "owner": None,
                    "versions": None,
                    "change_notice": None,
                    "exempt": False,
                },
            ),
            prepare=lambda conn: conn.execute(_TO_CANCEL, {"count": calls + _WARM_UP}),
        ),
        "POST /bookings/{id}/reschedule (moved, If-Match)": Route(
            lambda i: bookings(move_event(f"booking_warm_handler_{i}", i), context),
            lambda i: raw(booking_records._MOVE, move_params(f"booking_warm_raw_{i}", i)),
            prepare=lambda conn: conn.execute(_TO_CANCEL, {"count": calls + _WARM_UP}),
        ),
        "GET /bookings?user_id= (page of 50 of ~400, next page follows)": Route(
            lambda i: bookings(list_event, context),
            lambda i: raw(*list_plan.list_statement(busy_page)),
            prepare=lambda conn: list_plan.fill(conn, 500, 20_000, busy_every=50),
        ),
    }
    results: dict[str, Any] = {"calls_per_run": calls, "runs": runs}
    with quiet_handlers():
        for name, route in routes.items():
            p50s, p99s, base50s, base99s, floor50s = [], [], [], [], []
            for _ in range(runs):
                database.reset()
                bookings(taken, context)  # takes the slot the Slot-full cases hit
                if route.prepare:
                    with database.admin() as conn:
                        route.prepare(conn)
                # warm-up on other slots and bookings, not timed: each must be this outcome
                answers = [route.handler(i) for i in range(calls, calls + _WARM_UP)]
                if route.floor:
                    answers += [route.floor(i) for i in range(calls, calls + _WARM_UP)]
                if wrong := [a for a in answers if a["statusCode"] != route.status]:
                    raise RuntimeError(f"{name}: expected {route.status}, got {wrong[0]}")
                if route.body_is and not route.body_is(json.loads(answers[0]["body"])):
                    raise RuntimeError(f"{name}: not the answer to time: {answers[0]}")
                handled = _timings(route.handler, calls)
                p50s.append(percentile(handled, 0.50))
                p99s.append(percentile(handled, 0.99))
                if route.baseline:
                    raw_times = _timings(route.baseline, calls)
                    base50s.append(percentile(raw_times, 0.50))
                    base99s.append(percentile(raw_times, 0.99))
                if route.floor:
                    floor50s.append(percentile(_timings(route.floor, calls), 0.50))
            entry: dict[str, Any] = {"p50_ms": spread(p50s), "p99_ms": spread(p99s)}
            if base50s:
                entry["raw_sql_p50_ms"] = spread(base50s)
                entry["raw_sql_p99_ms"] = spread(base99s)
                overhead = entry["p50_ms"]["median"] - entry["raw_sql_p50_ms"]["median"]
                entry["overhead_p50_ms"] = round(overhead, 3)
                entry["ratio_p50"] = round(
                    entry["p50_ms"]["median"] / entry["raw_sql_p50_ms"]["median"], 2
                )
            else:
                entry["overhead_p50_ms"] = entry["p50_ms"]["median"]  # no SQL: all of it is handler
            if floor50s:
                entry["floor_p50_ms"] = spread(floor50s)
                baseline = entry["raw_sql_p50_ms"]["median"] if base50s else 0.0
                entry["floor_overhead_p50_ms"] = round(spread(floor50s)["median"] - baseline, 3)
            results[name] = entry
    return results


_WARM_UP = 100  # calls before each run's timed ones, not counted


def _params(
    booking_id: str, user: str, slot: Slot, key: IdempotencyKey | None = None
) -> dict[str, Any]:
    """_BOOK_SLOT's parameters, as store.book_slot binds them, for a slot of capacity 1."""
    from appointments.data import store

    return store.book_slot_params(booking_id, _request(user, slot), key)


def _request(user: str, slot: Slot) -> SlotRequest:
    """What store.book_slot is asked for a slot of the default shop of capacity 1."""
    from appointments.data import store

    return store.SlotRequest(
        user, slot.starts_at.date(), slot.start, slot.starts_at, slot.ends_at, capacity=1
    )
