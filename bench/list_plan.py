"""GET /bookings?user_id=...: the plans PostgreSQL chooses for pages of a user's bookings.

A table holding many users' bookings is filled in one statement and analysed;
then the list's statement, exactly as booking_records sends it, is explained
and run (EXPLAIN ANALYZE) for pages of an ordinary user's and of a busy user's
bookings. Each page must be read through the index bookings_by_user, never by
a scan of the whole table. For a busy user it is an ordered Index Scan that
stops after the page; for a user with fewer bookings than a page, PostgreSQL
may as well read them all through the index's bitmap and sort them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:  # imported when used: the layer reads Lambda's environment on import
    from appointments.data.booking_records import ListQuery

INDEX = "bookings_by_user"

BUSY_USER = "plan_busy_user"
BUSY_FIRST_PAGE = f"{BUSY_USER}: first page"

# Users plan_user_1..N and a busy one, and bookings interleaved among them in
# time, one slot each (8 a day, so that the one-confirmed-booking-per-slot
# index holds): the busy user holds every `busy_every`-th slot, the others
# share the rest in turn. About one booking in seven is cancelled. One
# statement: the users are inserted by a data-modifying CTE, and the
# bookings' foreign key is checked at the end of the statement, when they are.
_FILL = """
    WITH new_users AS (
        INSERT INTO users (id, name)
        SELECT 'plan_user_' || n, 'Plan user ' || n FROM generate_series(1, %(users)s) AS n
        UNION ALL SELECT %(busy_user)s, 'Busy plan user'
        RETURNING id
    )
    INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block,
                          status, cancelled_at)
    SELECT
        'plan_booking_' || n,
        CASE
            WHEN n %% %(busy_every)s = 0 THEN %(busy_user)s
            ELSE 'plan_user_' || (n %% %(users)s + 1)
        END,
        slot.at::date,
        slot.at::time,
        slot.during,
        'bay-1',
        slot.during,
        CASE WHEN n %% 7 = 3 THEN 'cancelled' ELSE 'confirmed' END,
        CASE WHEN n %% 7 = 3 THEN now() END
    FROM generate_series(0, %(bookings)s - 1) AS n,
         LATERAL (SELECT date '2031-01-01' + n / 8 + time '09:00' + (n %% 8) * interval '1 hour')
             AS hour (at),
         LATERAL (SELECT hour.at,
                         tstzrange(hour.at AT TIME ZONE 'UTC',
                                   hour.at AT TIME ZONE 'UTC' + interval '1 hour'))
             AS slot (at, during)
"""


def fill(conn: psycopg.Connection, users: int, bookings: int, busy_every: int) -> None:
    """Add the users and bookings (see _FILL), then ANALYZE both tables."""
    params = {"users": users, "bookings": bookings, "busy_every": busy_every}
    conn.execute(_FILL, {**params, "busy_user": BUSY_USER})
    conn.execute("ANALYZE users, bookings")


def list_statement(query: ListQuery) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters booking_records.select_page sends for `query`, unsent."""
    from appointments.data import booking_records

    sent: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def execute(self, sql: str, params: dict[str, Any]) -> Recorder:
            sent.append((sql, params))
            return self

        def fetchall(self) -> list[Any]:
            return []

    booking_records.select_page(Recorder(), query)  # type: ignore[arg-type]
    (statement,) = sent
    return statement


def explain(conn: psycopg.Connection, query: ListQuery) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the list's statement for `query`: the tree (JSON) and the text."""
    sql, params = list_statement(query)
    # Buffers, not rows removed by a filter, show an index range that starts
    # too early: rows an index condition skips are read but never counted.
    options = "ANALYZE, TIMING OFF, SUMMARY OFF, BUFFERS ON"
    row = conn.execute(f"EXPLAIN ({options}, FORMAT JSON) {sql}", params).fetchone()
    assert row is not None
    text = conn.execute(f"EXPLAIN ({options}, COSTS OFF) {sql}", params).fetchall()
    return {"tree": row[0][0]["Plan"], "text": [line for (line,) in text]}


def buffers(plan: dict[str, Any]) -> int:
    """Shared buffers the whole statement touched (hit or read): what its plan cost in pages."""
    return int(plan["Shared Hit Blocks"] + plan["Shared Read Blocks"])


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a plan tree, depth first."""
    return [plan, *(node for child in plan.get("Plans", []) for node in nodes(child))]


def reads_of(plan: dict[str, Any], relation: str) -> list[dict[str, Any]]:
    """Each node that reads `relation`'s rows: its kind, the index it uses, rows it read.

    A Bitmap Heap Scan's index is the one its Bitmap Index Scan reads. Rows
    read are those the node returned plus those its filter threw away, in all its loops.
    """
    reads = []
    for node in nodes(plan):
        if node.get("Relation Name") != relation:
            continue
        index: str | None = node.get("Index Name")
        if node["Node Type"] == "Bitmap Heap Scan":
            bitmaps = [n for n in nodes(node) if n["Node Type"] == "Bitmap Index Scan"]
            index = "+".join(bitmap["Index Name"] for bitmap in bitmaps)
        per_loop = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        rows = (per_loop + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
        reads.append({"node": node["Node Type"], "index": index, "rows_read": round(rows)})
    return reads


def only_through(reads: list[dict[str, Any]], index: str = INDEX) -> bool:
    """Whether every read of the table goes through `index` (a scan of it, or its bitmap)."""
    return bool(reads) and all(read["index"] == index for read in reads)


def plans(conn: psycopg.Connection, users: int, bookings: int) -> dict[str, dict[str, Any]]:
    """The plans of three pages, on a table fill() filled: name -> explain()."""
    from appointments.data.booking_records import ListQuery, select_page

    per_user = round(bookings / users)
    busy_first = ListQuery(BUSY_USER, limit=50)
    page = select_page(conn, busy_first)
    assert page is not None and page.next_page_after is not None, "one page holds them all"
    return {
        f"plan_user_7 (~{per_user} bookings): first page": explain(
            conn, ListQuery("plan_user_7", limit=50)
        ),
        BUSY_FIRST_PAGE: explain(conn, busy_first),
        f"{BUSY_USER}: second page (cursor)": explain(
            conn, ListQuery(BUSY_USER, after=page.next_page_after, limit=50)
        ),
    }


def measure(database_url: str, users: int, bookings: int, busy_every: int) -> dict[str, Any]:
    """Fill and analyse, then explain pages of an ordinary user's and the busy user's bookings."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        fill(conn, users, bookings, busy_every)
        (busy_bookings,) = conn.execute(
            "SELECT count(*) FROM bookings WHERE user_id = %s", [BUSY_USER]
        ).fetchone() or (0,)
        explained = plans(conn, users, bookings)
    pages = {}
    for name, plan in explained.items():
        reads = reads_of(plan["tree"], "bookings")
        pages[name] = {
            "reads_of_bookings": reads,
            "only_through_index": only_through(reads),
            "seq_scan_on_bookings": any(read["node"] == "Seq Scan" for read in reads),
            "sorts": sum(1 for node in nodes(plan["tree"]) if "Sort" in node["Node Type"]),
            "plan": plan["text"],
        }
    return {
        "users": users + 1,
        "bookings": bookings,
        "busy_user_bookings": busy_bookings,
        "index": INDEX,
        "pages": pages,
        "plan_shown": BUSY_FIRST_PAGE,  # the one page whose plan the report prints
    }
