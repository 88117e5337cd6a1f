"""The change cut-off: a booking that starts sooner than ChangeNoticeMinutes (the
default shop's, from the template) or its shop's change_notice_minutes is
neither cancelled nor moved, unless an admin asks.

The database's clock decides: the bookings here are written with SQL to start
two hours from its now().
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from appointments.api import auth
from appointments.data import database
from tests.conftest import Invoke, load_function
from tests.faults.test_concurrent_changes import in_background
from tests.faults.test_connection_faults import wait_until_blocked_on_a_lock
from tests.integration.test_booking_lifecycle import cancel
from tests.integration.test_reschedule import reschedule
from tests.integration.test_sign_in import ADMIN_BY_SCOPE, ALICE, ISSUER, as_caller

TOO_LATE = {"error": "Too late to change this booking"}
LATER = {"date": "2030-01-21", "time": "10:00"}  # a free slot to move to
SIGNED_IN = auth.load_sign_in({"JWT_ISSUER": ISSUER, "JWT_ADMIN_SCOPE": "appointments/admin"})


def starting_in_two_hours(db: psycopg.Connection, shop_id: str = "default") -> str:
    """A confirmed booking of alice's, starting two hours from the database's now."""
    booking_id = "booking_soon0000000000000" if shop_id == "default" else f"{shop_id}.soon"
    db.execute(
        "INSERT INTO bookings (id, user_id, slot_date, slot_time, during, resource_id, block,"
        " shop_id, service_id)"
        " SELECT %(id)s, 'user_alice', starts::date, starts::time, hour, 'bay-1', hour,"
        " %(shop)s, %(service)s"
        " FROM (SELECT date_trunc('minute', now()) + interval '2 hours') AS at (starts),"
        " LATERAL tstzrange(starts, starts + interval '1 hour') AS hour",
        {
            "id": booking_id,
            "shop": shop_id,
            "service": "appointment" if shop_id == "default" else "oil-change",
        },
    )
    return booking_id


@pytest.fixture
def change_notice(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set the default shop's ChangeNoticeMinutes, as a deploy with it would."""
    bookings = load_function("bookings")

    def set_to(minutes: int | None) -> None:
        monkeypatch.setattr(bookings, "CHANGE_NOTICE_MINUTES", minutes)

    yield set_to


def state(db: psycopg.Connection, booking_id: str) -> tuple[str, int, datetime]:
    row = db.execute(
        "SELECT status, version, lower(during) FROM bookings WHERE id = %s", (booking_id,)
    ).fetchone()
    assert row is not None
    return row  # type: ignore[return-value]


def test_within_the_cut_off_a_booking_is_neither_cancelled_nor_moved(
    invoke: Invoke, db: psycopg.Connection, change_notice: Any
) -> None:
    change_notice(180)
    booking_id = starting_in_two_hours(db)
    before = state(db, booking_id)

    cancelled = cancel(invoke, booking_id)
    moved = reschedule(invoke, booking_id, LATER)

    assert (cancelled["statusCode"], cancelled["json"]) == (400, TOO_LATE)
    assert (moved["statusCode"], moved["json"]) == (400, TOO_LATE)
    assert state(db, booking_id) == before


def test_before_the_cut_off_it_is_cancelled_and_moved_as_ever(
    invoke: Invoke, db: psycopg.Connection, change_notice: Any
) -> None:
    change_notice(60)
    booking_id = starting_in_two_hours(db)

    moved = reschedule(invoke, booking_id, LATER)
    cancelled = cancel(invoke, booking_id)

    assert (moved["statusCode"], moved["json"]["time"]) == (200, "10:00")
    assert (cancelled["statusCode"], cancelled["json"]["status"]) == (200, "cancelled")


def test_without_a_cut_off_a_booking_changes_up_to_its_start(
    invoke: Invoke, db: psycopg.Connection, change_notice: Any
) -> None:
    change_notice(None)
    booking_id = starting_in_two_hours(db)

    assert cancel(invoke, booking_id)["statusCode"] == 200


def test_a_cancel_or_move_made_already_answers_the_same_inside_the_cut_off(
    invoke: Invoke, db: psycopg.Connection, change_notice: Any
) -> None:
    """A retry whose first answer was lost is owed that answer, not "Too late"."""
    change_notice(None)
    booking_id = starting_in_two_hours(db)
    first = cancel(invoke, booking_id)
    change_notice(180)

    again = cancel(invoke, booking_id)

    assert (again["statusCode"], again["json"]) == (200, first["json"])


def test_a_shops_own_cut_off_binds_its_bookings(
    invoke: Invoke, workshop: psycopg.Connection, change_notice: Any
) -> None:
    change_notice(None)
    workshop.execute("UPDATE shops SET change_notice_minutes = 180 WHERE shop_id = 'north'")
    booking_id = starting_in_two_hours(workshop, "north")

    cancelled = cancel(invoke, booking_id)

    assert (cancelled["statusCode"], cancelled["json"]) == (400, TOO_LATE)
    assert state(workshop, booking_id)[:2] == ("confirmed", 1)


def test_an_admin_changes_a_booking_inside_the_cut_off(
    invoke: Invoke, db: psycopg.Connection, change_notice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_function("bookings"), "SIGN_IN", SIGNED_IN)
    change_notice(180)
    booking_id = starting_in_two_hours(db)
    path = {"route_key": "DELETE /bookings/{booking_id}"}

    as_alice = invoke(
        "bookings",
        "DELETE",
        f"/bookings/{booking_id}",
        path_parameters={"booking_id": booking_id},
        **path,
        **as_caller(ALICE),
    )
    moved = reschedule(invoke, booking_id, LATER, **as_caller(ADMIN_BY_SCOPE))

    assert (as_alice["statusCode"], as_alice["json"]) == (400, TOO_LATE)
    assert (moved["statusCode"], moved["json"]["time"]) == (200, "10:00")
    assert state(db, booking_id)[0] == "confirmed"
    assert state(db, booking_id)[2] > datetime.now().astimezone() + timedelta(days=1)


def test_a_cancel_that_waited_for_a_move_into_the_cut_off_says_too_late(
    invoke: Invoke, db: psycopg.Connection, database_url: str, change_notice: Any
) -> None:
    """Decided on the booking as the move left it, not as the cancel's snapshot saw it:
    without If-Match, never "Booking changed"."""
    change_notice(60)
    booking_id = starting_in_two_hours(db)
    assert cancel(invoke, "booking_unknownunknownunkno")["statusCode"] == 404  # warm
    pid = database.get_connection().info.backend_pid
    with psycopg.connect(database_url, autocommit=True) as mover:
        mover.execute("BEGIN")
        mover.execute(
            "UPDATE bookings SET during = tstzrange(now() + interval '30 minutes',"
            " now() + interval '90 minutes'), block = tstzrange(now() + interval '30 minutes',"
            " now() + interval '90 minutes') WHERE id = %s",
            (booking_id,),
        )
        cancelling, answers = in_background(lambda: cancel(invoke, booking_id))
        wait_until_blocked_on_a_lock(db, pid)
        mover.execute("COMMIT")
        cancelling.join(10)

    (answer,) = answers
    assert (answer["statusCode"], answer["json"]) == (400, TOO_LATE)
    assert state(db, booking_id)[:2] == ("confirmed", 2)
