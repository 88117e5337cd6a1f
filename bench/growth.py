"""Cost that does not grow with the table: the hot statements at 10^3, 10^5 and 10^6 bookings.

The table grows in steps, each one INSERT … SELECT over generate_series (its
events, long published and purged in a real deployment, removed), then
VACUUM ANALYZE and CHECKPOINT, so that the load's own writes (hint bits, dirty
pages) are not what is timed. At each size, each statement is timed as the
functions send it, on a connection set up as theirs (autocommit, never
prepared): the booking statement, /slots' query over a day, /availability's
over 31 days, a shop's availability over 31 days (the default shop's service,
through the constraint by resource), and a page of the busiest user's
bookings, first and from a date.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from bench import list_plan
from bench.environment import BenchDatabase, percentile

FIRST_DAY = date(2031, 1, 1)
USERS = 500

# Bookings n of [first, last): seven a day, 09:00 to 15:00 UTC (the default
# shop's 16:00 is left free for the bookings timed), so that no two confirmed
# ones share a bay at a moment (the exclusion constraint); one in 13
# cancelled; every 50th the busy user's, the others in turn. All on bay-1.
_GROW = """
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block, status,
                          cancelled_at)
    SELECT
        'growth_booking_' || n,
        CASE WHEN n %% 50 = 0 THEN %(busy_user)s ELSE 'growth_user_' || (n %% %(users)s + 1) END,
        day,
        start,
        tstzrange(at_utc, at_utc + interval '1 hour'),
        'bay-1',
        tstzrange(at_utc, at_utc + interval '1 hour'),
        CASE WHEN n %% 13 = 5 THEN 'cancelled' ELSE 'confirmed' END,
        CASE WHEN n %% 13 = 5 THEN now() END
    FROM generate_series(%(first)s, %(last)s - 1) AS n,
         LATERAL (SELECT %(first_day)s::date + n / 7 AS day,
                         time '09:00' + (n %% 7) * interval '1 hour' AS start) AS slot,
         LATERAL (SELECT (day + start) AT TIME ZONE 'UTC' AS at_utc) AS moment
"""

_USERS = """
    INSERT INTO users (id, name)
    SELECT 'growth_user_' || n, 'Growth user ' || n FROM generate_series(1, %(users)s) AS n
    UNION ALL SELECT %(busy_user)s, 'Busy growth user'
"""

_TIMED_PREFIX = "growth_timed_"


def measure(database: BenchDatabase, sizes: tuple[int, ...], calls: int) -> dict[str, Any]:
    """p50 of each statement at each size; the table is left holding the largest."""
    database.reset()
    results: dict[str, Any] = {"calls": calls, "sizes": list(sizes), "load_s": {}, "p50_ms": {}}
    with (
        database.admin() as admin,
        psycopg.connect(database.url, autocommit=True, prepare_threshold=None) as conn,
    ):
        admin.execute("SET statement_timeout = 0")  # the database's 5 s is for the functions
        admin.execute(_USERS, {"users": USERS, "busy_user": list_plan.BUSY_USER})
        loaded = 0
        for size in sizes:
            started = time.perf_counter()
            _grow(admin, loaded, size)
            results["load_s"][str(size)] = round(time.perf_counter() - started, 1)
            loaded = size
            for name, statement in _statements(size, calls).items():
                samples = _timings(conn, statement, calls)
                results["p50_ms"].setdefault(name, {})[str(size)] = round(
                    percentile(samples, 0.5), 3
                )
            admin.execute("DELETE FROM bookings WHERE id LIKE %s", [_TIMED_PREFIX + "%"])
    smallest, largest = str(sizes[0]), str(sizes[-1])
    results["ratio"] = {
        name: round(p50[largest] / p50[smallest], 2) for name, p50 in results["p50_ms"].items()
    }
    return results


def _grow(admin: psycopg.Connection, loaded: int, size: int) -> None:
    params = {
        "first": loaded,
        "last": size,
        "users": USERS,
        "busy_user": list_plan.BUSY_USER,
        "first_day": FIRST_DAY,
    }
    admin.execute(_GROW, params)
    # The relay keeps up and the purge keeps a week: the events of a table's history
    # are long published and gone. Left behind, a million unpublished events would
    # be a backlog no deployment has, in the partial indexes every booking writes to.
    admin.execute("TRUNCATE events")
    admin.execute("VACUUM ANALYZE bookings, users, events")
    admin.execute("CHECKPOINT")


Statement = Callable[[int], tuple[str, dict[str, Any]]]


def _statements(size: int, calls: int) -> dict[str, Statement]:
    """Each statement timed, as (SQL, parameters) for its i-th call: a different day each."""
    from appointments.data import booking_records, busy_bays, hold_records, service_calendars, store
    from appointments.data.booking_records import ListQuery

    days = size // 7

    def spread_day(i: int) -> date:  # days all over the table, not the same pages each time
        return FIRST_DAY + timedelta(days=(i * 7919) % days)

    def timed_day(i: int) -> date:
        # a day of its own for each call (past the table if need be)
        return FIRST_DAY + timedelta(days=i * max(days, 2 * calls) // (2 * calls))

    def booking(i: int) -> tuple[str, dict[str, Any]]:
        # 16:00, free on every day
        day = timed_day(i)
        starts_at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=16)
        request = store.SlotRequest(
            "user_alice",
            day,
            starts_at.time(),
            starts_at,
            starts_at + timedelta(hours=1),
            capacity=1,
        )
        return store._BOOK_SLOT, store.book_slot_params(f"{_TIMED_PREFIX}{i}", request)

    def move(i: int) -> tuple[str, dict[str, Any]]:
        """The booking `booking` made for call i, moved an hour later (at version 1)."""
        day = timed_day(i)
        starts_at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=17)
        ends_at = starts_at + timedelta(hours=1)
        to = booking_records.Move(
            day, starts_at.time(), starts_at, ends_at, ("bay-1",), (starts_at, ends_at)
        )
        return booking_records._MOVE, booking_records.move_params(
            f"{_TIMED_PREFIX}{i}", None, [1], to, None
        )

    def hold(i: int) -> tuple[str, dict[str, Any]]:
        """A hold of 18:00 on call i's day, each by a user of their own (three holds each)."""
        day = timed_day(i)
        starts_at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=18)
        request = store.SlotRequest(
            f"growth_user_{i % USERS + 1}",
            day,
            starts_at.time(),
            starts_at,
            starts_at + timedelta(hours=1),
            capacity=1,
        )
        return store._BOOK_SLOT, store.book_slot_params(
            f"{_TIMED_PREFIX}hold_{i}", request, hold=store.HoldTerms(300, 3)
        )

    def confirm(i: int) -> tuple[str, dict[str, Any]]:
        """The hold `hold` made for call i, confirmed."""
        params = {"shop_id": "default", "hold_id": f"{_TIMED_PREFIX}hold_{i}", "owner": None}
        return hold_records._CONFIRM, params

    def busy(i: int, length: int) -> tuple[str, dict[str, Any]]:
        opens = datetime.combine(spread_day(i), datetime.min.time(), UTC) + timedelta(hours=9)
        span = {"from": opens, "to": opens + timedelta(days=length - 1, hours=8)}
        return busy_bays.BUSY_BAYS, span

    def calendar(i: int) -> tuple[str, dict[str, Any]]:
        """GET /shops/{id}/availability's statement: the default shop's service, 31 days."""
        opens = datetime.combine(spread_day(i), datetime.min.time(), UTC)
        span = {"from": opens - timedelta(hours=14), "to": opens + timedelta(days=31, hours=12)}
        ids = {"shop_id": "default", "service_id": "appointment", "resource_id": None}
        return service_calendars._SERVICE_CALENDAR, {**ids, **span, "with_bookings": True}

    def booking_day(i: int) -> tuple[str, dict[str, Any]]:
        """POST /shops/{id}/bookings' first read of a day: its calendar, bookings left out."""
        opens = datetime.combine(spread_day(i), datetime.min.time(), UTC)
        span = {"from": opens - timedelta(hours=14), "to": opens + timedelta(days=1, hours=12)}
        ids = {"shop_id": "default", "service_id": "appointment", "resource_id": None}
        return service_calendars._SERVICE_CALENDAR, {**ids, **span, "with_bookings": False}

    middle = FIRST_DAY + timedelta(days=days // 2)
    return {
        "GET /shops/{id}/availability: 31 days' calendar": calendar,
        "POST /shops/{id}/bookings: a day's calendar, without bookings": booking_day,
        "POST /bookings: the booking statement (booked)": booking,
        "POST /bookings/{id}/reschedule: the move statement (moved)": move,
        "POST /holds: the hold statement (held)": hold,
        "POST /holds/{id}/confirm: the confirmation (booked)": confirm,
        "GET /slots: a day's busy bays": lambda i: busy(i, 1),
        "GET /availability: 31 days' busy bays": lambda i: busy(i, 31),
        "GET /bookings: the busiest user's first page": lambda i: list_plan.list_statement(
            ListQuery(list_plan.BUSY_USER, limit=50)
        ),
        "GET /bookings: a page from a date mid-table": lambda i: list_plan.list_statement(
            ListQuery(list_plan.BUSY_USER, first_day=middle, limit=50)
        ),
    }


_WARM_UP = 20  # calls before the timed ones, not counted


def _timings(conn: psycopg.Connection, statement: Statement, calls: int) -> list[float]:
    """Milliseconds per call; the statement for call i is built before its clock starts."""
    for i in range(calls, calls + _WARM_UP):
        conn.execute(*statement(i)).fetchall()
    samples = []
    for i in range(calls):
        sql, params = statement(i)
        started = time.perf_counter()
        conn.execute(sql, params).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return samples
