"""A booking's version: 1 when made, one more on every change; shown as its ETag
(and in the body of another shop's booking); If-Match on a cancel."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.conftest import Invoke
from tests.integration import test_shop_bookings as shop_bookings
from tests.integration.test_booking_lifecycle import book, get

INVALID_IF_MATCH = 'Invalid If-Match: send "*" or the ETag of the booking, e.g. "1"'

# The previous release's cancel (b550899), verbatim but for its columns: it
# knows no versions, and 0031's trigger counts its cancels all the same.
PREVIOUS_CANCEL = """
    UPDATE bookings
    SET status = 'cancelled', cancelled_at = COALESCE(cancelled_at, now())
    WHERE shop_id = %(shop_id)s AND id = %(booking_id)s
      AND (%(owner)s::text IS NULL OR user_id = %(owner)s)
    RETURNING id
"""

# What a move does to a booking, as far as its version goes: a later block.
MOVE_AN_HOUR_LATER = """
    UPDATE bookings
    SET slot_time = slot_time + interval '1 hour',
        during = tstzrange(lower(during) + interval '1 hour', upper(during) + interval '1 hour'),
        block = tstzrange(lower(block) + interval '1 hour', upper(block) + interval '1 hour')
    WHERE id = %s
"""


def cancel(invoke: Invoke, booking_id: str, if_match: str | None = None) -> dict[str, Any]:
    return invoke(
        "bookings",
        "DELETE",
        f"/bookings/{booking_id}",
        route_key="DELETE /bookings/{booking_id}",
        path_parameters={"booking_id": booking_id},
        headers={} if if_match is None else {"If-Match": if_match},
    )


def row(db: psycopg.Connection, booking_id: str) -> tuple[str, int]:
    found = db.execute("SELECT status, version FROM bookings WHERE id = %s", (booking_id,))
    result = found.fetchone()
    assert result is not None
    return result  # type: ignore[return-value]


def test_a_default_shop_booking_shows_its_version_as_its_etag_and_its_body_as_before(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")

    shown = get(invoke, booking_id)
    cancelled = cancel(invoke, booking_id)
    again = get(invoke, booking_id)

    assert shown["headers"]["ETag"] == '"1"'
    # The body as the first version showed it, field for field.
    assert list(shown["json"]) == [
        "booking_id",
        "user_id",
        "date",
        "time",
        "starts_at",
        "ends_at",
        "status",
        "created_at",
        "cancelled_at",
    ]
    assert cancelled["headers"]["ETag"] == again["headers"]["ETag"] == '"2"'
    # A cancel of a cancelled booking changes nothing: no new version.
    assert cancel(invoke, booking_id)["headers"]["ETag"] == '"2"'
    assert row(db, booking_id) == ("cancelled", 2)


def test_another_shops_booking_shows_its_version_in_its_body(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    answer = shop_bookings.book(invoke, shop_bookings.oil_change("09:00"))
    booking_id = answer["json"]["booking_id"]

    assert get(invoke, booking_id)["json"]["version"] == 1
    cancelled = cancel(invoke, booking_id, if_match='"1"')
    assert (cancelled["statusCode"], cancelled["json"]["version"]) == (200, 2)
    assert cancelled["headers"]["ETag"] == '"2"'


def test_if_match_cancels_at_the_version_it_names_and_refuses_any_other(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")

    # Another version, a weak tag, a tag of no version, an empty list (HTTP
    # allows it): none names version 1.
    for if_match in ['"2"', 'W/"1"', '"abc"', "", " , "]:
        refused = cancel(invoke, booking_id, if_match=if_match)
        assert (refused["statusCode"], refused["json"]) == (412, {"error": "Booking changed"})
    assert row(db, booking_id) == ("confirmed", 1)

    # A list, with an empty element, which HTTP lets a client send.
    listed = cancel(invoke, booking_id, if_match='"7", , "1"')
    assert (listed["statusCode"], listed["json"]["status"]) == (200, "cancelled")
    # Sent again (its answer was lost): the cancel it asked for is made already.
    retried = cancel(invoke, booking_id, if_match='"1"')
    assert (retried["statusCode"], retried["json"]) == (200, listed["json"])
    assert row(db, booking_id) == ("cancelled", 2)


def test_a_booking_changed_since_its_etag_was_read_is_not_cancelled(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")
    etag = get(invoke, booking_id)["headers"]["ETag"]
    db.execute(MOVE_AN_HOUR_LATER, (booking_id,))

    refused = cancel(invoke, booking_id, if_match=etag)

    assert (refused["statusCode"], refused["json"]) == (412, {"error": "Booking changed"})
    assert row(db, booking_id) == ("confirmed", 2)
    assert cancel(invoke, booking_id, if_match="*")["statusCode"] == 200
    assert row(db, booking_id) == ("cancelled", 3)


@pytest.mark.parametrize("if_match", ["1", '"1', '"1" "2"', "W/1", '"1", x', "**", "*, *"])
def test_a_malformed_if_match_is_refused_and_cancels_nothing(
    invoke: Invoke, db: psycopg.Connection, if_match: str
) -> None:
    booking_id = book(invoke, "10:00")

    refused = cancel(invoke, booking_id, if_match=if_match)

    assert (refused["statusCode"], refused["json"]) == (400, {"error": INVALID_IF_MATCH})
    assert row(db, booking_id) == ("confirmed", 1)


def test_if_match_on_a_booking_no_one_has_is_not_found(invoke: Invoke) -> None:
    answer = cancel(invoke, "booking_nobody", if_match='"1"')

    assert (answer["statusCode"], answer["json"]) == (404, {"error": "Booking not found"})


def test_the_previous_releases_cancel_counts_a_version_too(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")

    db.execute(PREVIOUS_CANCEL, {"shop_id": "default", "booking_id": booking_id, "owner": None})

    assert row(db, booking_id) == ("cancelled", 2)
    assert get(invoke, booking_id)["headers"]["ETag"] == '"2"'
