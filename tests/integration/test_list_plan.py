"""GET /bookings?user_id=...: a page of a user's bookings is read through bookings_by_user.

On a realistic table (20,000 bookings, 500 users and a busy one, interleaved
in time, analysed), the plan of the list's statement as the handler sends it,
run with EXPLAIN ANALYZE: no scan of the whole table, and for the busy user an
ordered index scan that stops after the page.
"""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from appointments import migrations
from appointments.booking_records import ListQuery, select_page
from bench import list_plan
from tests.conftest import DB_FOLDER

USERS, BOOKINGS, BUSY_EVERY = 500, 20_000, 50  # the busy user holds 400 bookings
PAGE = 50


@pytest.fixture(scope="module")
def filled(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE bookings, users, idempotency_keys")
        list_plan.fill(conn, USERS, BOOKINGS, BUSY_EVERY)
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
