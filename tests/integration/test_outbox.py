"""The outbox (db/migrations/0046): every change of a booking or a hold, made
through the real handler, writes exactly its events in its own statement, and
an event shows its subject as the API does after the change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
import pytest

from appointments.api.event_views import cloud_event
from appointments.data import store
from appointments.data.outbox import OutboxEvent
from tests import previous_release
from tests.conftest import Invoke
from tests.integration import test_shop_bookings as shop_bookings
from tests.integration.test_booking_lifecycle import cancel, get
from tests.integration.test_bookings import alice_at, post_booking
from tests.integration.test_holds import DAY, held, lapse, on_hold
from tests.integration.test_reschedule import book, reschedule
from tests.workshop import MONDAY

_EVENTS = """
    SELECT e.position, e.shop_id, e.id, e.type, e.subject_id, e.occurred_at, e.subject,
           s.time_zone
    FROM events AS e LEFT JOIN shops AS s USING (shop_id)
    WHERE e.subject_id = %s ORDER BY e.position
"""


def events_of(db: psycopg.Connection, subject_id: str) -> list[OutboxEvent]:
    return [OutboxEvent(*row) for row in db.execute(_EVENTS, (subject_id,))]


def types_of(db: psycopg.Connection, subject_id: str) -> list[str]:
    return [event.type for event in events_of(db, subject_id)]


def event_count(db: psycopg.Connection) -> int:
    row = db.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def keyed_booking(invoke: Invoke, body: dict[str, str]) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k-1"}
    return invoke("bookings", "POST", "/bookings", body=json.dumps(body), headers=headers)


def test_a_booking_its_move_and_its_cancel_write_one_event_each_in_order(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")
    assert reschedule(invoke, booking_id, {"date": DAY, "time": "14:00"})["statusCode"] == 200
    assert cancel(invoke, booking_id)["statusCode"] == 200
    assert cancel(invoke, booking_id)["statusCode"] == 200  # changes nothing: no event

    events = events_of(db, booking_id)
    assert [event.type for event in events] == [
        "booking.confirmed",
        "booking.rescheduled",
        "booking.cancelled",
    ]
    assert [event.subject["version"] for event in events] == [1, 2, 3]
    assert [event.subject["time"] for event in events] == ["10:00:00", "14:00:00", "14:00:00"]
    assert len({event.id for event in events}) == 3
    assert [event.position for event in events] == sorted(event.position for event in events)
    assert all(event.shop_id == "default" for event in events)


def test_an_event_shows_its_subject_as_get_shows_it_after_the_change(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    booking_id = book(invoke, "10:00")
    reschedule(invoke, booking_id, {"date": DAY, "time": "15:00"})
    moved = get(invoke, booking_id)["json"]
    cancel(invoke, booking_id)
    cancelled = get(invoke, booking_id)["json"]

    confirmed_event, moved_event, cancelled_event = map(cloud_event, events_of(db, booking_id))

    assert moved_event["data"] == {"version": 2, **moved}
    assert cancelled_event["data"] == {"version": 3, **cancelled}
    assert moved_event["data"]["moved_from"][0]["time"] == "10:00"
    assert confirmed_event["data"]["time"] == "10:00"
    assert "moved_from" not in confirmed_event["data"]
    envelope = {key: value for key, value in moved_event.items() if key != "data"}
    assert envelope == {
        "specversion": "1.0",
        "id": envelope["id"],
        "source": "appointments",
        "type": "booking.rescheduled",
        "subject": booking_id,
        "time": envelope["time"],
        "datacontenttype": "application/json",
        "sequence": envelope["sequence"],
        "shopid": "default",
    }
    # Sequences order a subject's events as strings; times are the API's UTC form.
    sequences = [confirmed_event["sequence"], moved_event["sequence"], cancelled_event["sequence"]]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    assert datetime.strptime(envelope["time"], "%Y-%m-%dT%H:%M:%SZ")
    json.dumps(moved_event)  # all of it is JSON


def test_a_holds_life_writes_its_events_and_a_confirmation_starts_the_bookings(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    confirmed_id = held(invoke, "09:00")
    released_id = held(invoke, "10:00")
    lapsed_id = held(invoke, "11:00")
    on_hold(invoke, "POST", confirmed_id, "/confirm")
    on_hold(invoke, "POST", confirmed_id, "/confirm")  # a second confirmation: no event
    on_hold(invoke, "DELETE", released_id)
    lapse(db, lapsed_id)
    # Bob books the lapsed hold's slot: it is marked expired in his statement, silently.
    assert post_booking(invoke, alice_at("11:00", DAY, "user_bob"))["statusCode"] == 200

    assert types_of(db, confirmed_id) == ["hold.created", "hold.confirmed", "booking.confirmed"]
    assert types_of(db, released_id) == ["hold.created", "hold.released"]
    assert types_of(db, lapsed_id) == ["hold.created"]
    created, confirmation, booking = map(cloud_event, events_of(db, confirmed_id))
    shown = on_hold(invoke, "GET", confirmed_id)["json"]
    assert confirmation["data"] == shown
    as_held = {key: value for key, value in shown.items() if key != "booking_id"}
    assert created["data"] == {**as_held, "status": "held"}
    assert booking["data"] == {"version": 1, **get(invoke, confirmed_id)["json"]}
    released = cloud_event(events_of(db, released_id)[-1])
    assert released["data"] == on_hold(invoke, "GET", released_id)["json"]


def test_a_shops_booking_event_names_its_shop_and_shows_its_zone(
    invoke: Invoke, workshop: psycopg.Connection
) -> None:
    response = shop_bookings.book(invoke, shop_bookings.oil_change("09:00"))
    assert response["statusCode"] == 200, response["json"]
    booking_id = response["json"]["booking_id"]

    (event,) = map(cloud_event, events_of(workshop, booking_id))

    assert event["shopid"] == "north"
    assert event["data"] == get(invoke, booking_id)["json"]
    assert event["data"]["shop_id"] == "north" and event["data"]["date"] == MONDAY


def test_a_refused_or_replayed_request_writes_no_event(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    book(invoke, "10:00")
    first = keyed_booking(invoke, alice_at("12:00", DAY))
    assert first["statusCode"] == 200
    before = event_count(db)

    full = post_booking(invoke, alice_at("10:00", DAY, "user_bob"))
    unknown = post_booking(invoke, alice_at("13:00", DAY, "user_nobody"))
    replayed = keyed_booking(invoke, alice_at("12:00", DAY))
    bad_move = reschedule(invoke, first["json"]["booking_id"], {"date": DAY, "time": "10:00"})

    assert [full["statusCode"], unknown["statusCode"], bad_move["statusCode"]] == [400] * 3
    assert replayed["headers"].get("Idempotent-Replayed") == "true"
    assert event_count(db) == before


def alice_at_ten(capacity: int) -> store.SlotRequest:
    """Alice's request for 10:00 on DAY, a default shop's hour, on `capacity` bays."""
    return store.SlotRequest(
        user_id="user_alice",
        day=datetime(2030, 1, 21).date(),
        start=datetime(2030, 1, 21, 10).time(),
        starts_at=datetime.fromisoformat(f"{DAY}T10:00:00+00:00"),
        ends_at=datetime.fromisoformat(f"{DAY}T11:00:00+00:00"),
        capacity=capacity,
    )


def test_a_change_rolled_back_after_its_insert_leaves_no_event(db: psycopg.Connection) -> None:
    """book_slot_v4 inserts the booking (and its event) before it records the key;
    the key, recorded already, fails the statement, and both are gone."""
    request = alice_at_ten(capacity=1)
    key = store.IdempotencyKey("k-1", "fingerprint")
    db.execute(
        "INSERT INTO idempotency_keys (shop_id, user_id, key, request_fingerprint, outcome,"
        " attempt_id) VALUES ('default', 'user_alice', 'k-1', 'fingerprint', 'slot_full', 'x')"
    )

    outcome = store.book_slot(db, "booking_rolled_back", request, key)

    assert type(outcome).__name__ == "_KeyAlreadyRecorded"
    assert db.execute("SELECT count(*) FROM bookings").fetchone() == (0,)
    assert event_count(db) == 0
    with pytest.raises(psycopg.errors.NotNullViolation), db.transaction():
        db.execute(
            "INSERT INTO bookings (id, user_id, slot_date, slot_time) VALUES"
            " ('booking_half', 'user_alice', %s, '10:00')",
            (DAY,),
        )
    assert event_count(db) == 0


def test_the_previous_releases_statements_write_their_events_too(
    db: psycopg.Connection,
) -> None:
    """A rolling deploy: statements that know nothing of the outbox (book_slot_v3, the
    cancel every release before the cut-off wrote) book and cancel; the triggers write
    their events."""
    request = alice_at_ten(capacity=2)
    assert previous_release.book_slot(db, "booking_old", request) == store.Booked("booking_old")
    previous_release.cancel(db, "booking_old")

    assert types_of(db, "booking_old") == ["booking.confirmed", "booking.cancelled"]
