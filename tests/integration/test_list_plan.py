"""GET /bookings?user_id=...: a page of a user's bookings is read through bookings_by_user.

On a realistic table (20,000 bookings, 500 users and a busy one, interleaved
in time, analysed), the plan of the list's statement as the handler sends it,
run with EXPLAIN ANALYZE: no scan of the whole table, and for the busy user an
ordered index scan that stops after the page. For a user with a long history,
a page costs the same buffers wherever it starts (`from`, a cursor) and
whichever status it lists.
"""

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from appointments.data import migrations
from appointments.data.booking_records import ListQuery, select_page
from bench import list_plan
from tests.conftest import DB_FOLDER

USERS, BOOKINGS, BUSY_EVERY = 500, 20_000, 50  # the busy user holds 400 bookings
PAGE = 50

# A user with a long history: HISTORY confirmed bookings, 8 a day from
# HISTORY_START, then CANCELLED cancelled ones after them.
LONG_HISTORY_USER, HISTORY, CANCELLED = "plan_long_history", 20_000, 30
HISTORY_START = date(2045, 1, 1)
_FILL_HISTORY = """
    WITH new_user AS (INSERT INTO users (id, name) VALUES (%(user)s, 'Long history') RETURNING id)
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block,
                          status, cancelled_at)
    SELECT 'history_' || n, %(user)s, slot.at::date, slot.at::time, slot.during, 'bay-1',
           slot.during,
           CASE WHEN n >= %(confirmed)s THEN 'cancelled' ELSE 'confirmed' END,
           CASE WHEN n >= %(confirmed)s THEN now() END
    FROM generate_series(0, %(confirmed)s + %(cancelled)s - 1) AS n,
         LATERAL (SELECT %(first)s::date + n / 8 + time '09:00' + (n %% 8) * interval '1 hour')
             AS hour (at),
         LATERAL (SELECT hour.at,
                         tstzrange(hour.at AT TIME ZONE 'UTC',
                                   hour.at AT TIME ZONE 'UTC' + interval '1 hour'))
             AS slot (at, during)
"""


@pytest.fixture(scope="module")
def filled(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A bulk fill, not a request: not held to the API's 5 s per statement
        # (each booking feeds two exclusion constraints while a deploy's
        # expand lasts, ~3 s here for the history alone, more on a busy machine).
        conn.execute("SET statement_timeout = '60s'")
        conn.execute("TRUNCATE bookings, users, idempotency_keys")
        list_plan.fill(conn, USERS, BOOKINGS, BUSY_EVERY)
        params = {"user": LONG_HISTORY_USER, "first": HISTORY_START}
        conn.execute(_FILL_HISTORY, {**params, "confirmed": HISTORY, "cancelled": CANCELLED})
        conn.execute("ANALYZE users, bookings")
        yield conn
        conn.execute("TRUNCATE bookings, users, idempotency_keys")
        migrations.apply_seed(conn, DB_FOLDER / "seed.sql")


def reads(conn: psycopg.Connection, query: ListQuery) -> list[dict[str, Any]]:
    plan = list_plan.explain(conn, query)
    return list_plan.reads_of(plan["tree"], "bookings")


def test_an_ordinary_users_page_reads_only_their_bookings_through_the_index(
    filled: psycopg.Connection,
) -> None:
    (theirs,) = filled.execute(
        "SELECT count(*) FROM bookings WHERE user_id = 'plan_user_7'"
    ).fetchone() or (0,)

    read = reads(filled, ListQuery("plan_user_7", limit=PAGE))

    # An Index Scan, or (PostgreSQL's choice for fewer rows than a page) the
    # index's bitmap then a sort of those rows: either way, only theirs.
    assert [(r["node"], r["index"]) for r in read] in (
        [("Index Scan", "bookings_by_user")],
        [("Bitmap Heap Scan", "bookings_by_user")],
    )
    assert read[0]["rows_read"] <= theirs < BOOKINGS / 100


def test_a_busy_users_pages_are_an_index_scan_that_stops_after_the_page(
    filled: psycopg.Connection,
) -> None:
    first = ListQuery(list_plan.BUSY_USER, limit=PAGE)
    page = select_page(filled, first)
    assert page is not None and page.next_page_after is not None
    second = ListQuery(list_plan.BUSY_USER, after=page.next_page_after, limit=PAGE)

    for query in (first, second):
        (read,) = reads(filled, query)
        assert (read["node"], read["index"]) == ("Index Scan", "bookings_by_user")
        # The page, the row that says another follows, and the cancelled
        # bookings among them (about one in seven): not the user's 400.
        assert PAGE + 1 <= read["rows_read"] <= 2 * (PAGE + 1)


def test_no_page_is_a_sequential_scan_of_the_bookings(filled: psycopg.Connection) -> None:
    for user in ("plan_user_7", list_plan.BUSY_USER, "plan_user_nobody"):
        plan = list_plan.explain(filled, ListQuery(user, limit=PAGE))
        kinds = [node["Node Type"] for node in list_plan.nodes(plan["tree"])]
        scans = list_plan.reads_of(plan["tree"], "bookings")
        assert all(scan["node"] != "Seq Scan" for scan in scans), "\n".join(plan["text"])
        assert list_plan.only_through(scans) or not scans, kinds


def buffers(conn: psycopg.Connection, query: ListQuery) -> int:
    return list_plan.buffers(list_plan.explain(conn, query)["tree"])


def test_a_page_from_a_late_date_costs_what_the_first_page_costs(
    filled: psycopg.Connection,
) -> None:
    # The index range starts at `from`, not at the user's first booking: the
    # 19,000 earlier ones are never read.
    first_page = buffers(filled, ListQuery(LONG_HISTORY_USER, limit=PAGE))
    late = HISTORY_START + timedelta(days=19_000 // 8)

    from_late = ListQuery(LONG_HISTORY_USER, first_day=late, limit=PAGE)
    page = select_page(filled, from_late)

    assert page is not None and page.bookings[0].day == late
    assert buffers(filled, from_late) <= first_page + 3, list_plan.explain(filled, from_late)


def test_a_cursor_before_from_starts_the_page_at_from(filled: psycopg.Connection) -> None:
    first = select_page(filled, ListQuery(LONG_HISTORY_USER, limit=PAGE))
    assert first is not None and first.next_page_after is not None
    late = HISTORY_START + timedelta(days=19_000 // 8)
    query = ListQuery(LONG_HISTORY_USER, first_day=late, after=first.next_page_after, limit=PAGE)

    page = select_page(filled, query)

    assert page is not None and page.bookings[0].day == late
    assert buffers(filled, query) <= buffers(filled, ListQuery(LONG_HISTORY_USER, limit=PAGE)) + 3


def test_listing_a_few_cancelled_among_many_confirmed_costs_a_page(
    filled: psycopg.Connection,
) -> None:
    first_page = buffers(filled, ListQuery(LONG_HISTORY_USER, limit=PAGE))
    cancelled = ListQuery(LONG_HISTORY_USER, statuses=("cancelled",), limit=PAGE)

    page = select_page(filled, cancelled)

    assert page is not None and len(page.bookings) == CANCELLED
    assert {booking.status for booking in page.bookings} == {"cancelled"}
    assert buffers(filled, cancelled) <= first_page + 3, list_plan.explain(filled, cancelled)
