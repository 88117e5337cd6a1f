"""POST /bookings with an Idempotency-Key: the first outcome, once, replayed for 24 hours."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psycopg
import pytest

from appointments.data import store
from local.lambda_context import LocalLambdaContext
from tests.conftest import Invoke, bookings_in, load_function
from tests.integration.test_booking_lifecycle import cancel
from tests.integration.test_bookings import alice_at

KEY = "3f1c9a52-7d8e-4b6a-9c21-0e5f4d7a8b90"


def post_keyed(invoke: Invoke, body: dict[str, Any] | str, key: str | None = KEY) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    text = body if isinstance(body, str) else json.dumps(body)
    return invoke("bookings", "POST", "/bookings", body=text, headers=headers)


def answer(response: dict[str, Any]) -> tuple[int, Any]:
    return response["statusCode"], response["json"]


def keys_in(db: psycopg.Connection) -> list[tuple[str, str, str, str | None]]:
    rows = db.execute(
        "SELECT user_id, key, outcome, attempt_id FROM idempotency_keys ORDER BY created_at"
    ).fetchall()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_keyed_booking_books_and_records_its_outcome_with_the_key(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    response = post_keyed(invoke, alice_at("10:00"))

    assert response["statusCode"] == 200
    assert "Idempotent-Replayed" not in response["headers"]
    booking_id = response["json"]["booking_id"]
    assert bookings_in(db) == [(booking_id, "user_alice", "2024-01-20", "10:00")]
    assert keys_in(db) == [("user_alice", KEY, "booked", booking_id)]


def test_the_same_key_and_body_again_replays_the_first_answer_and_books_nothing(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    first = post_keyed(invoke, alice_at("10:00"))

    again = post_keyed(invoke, alice_at("10:00"))

    assert answer(again) == answer(first)
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert len(bookings_in(db)) == 1


def test_a_replay_is_recognised_by_what_is_asked_not_how_the_json_is_written(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    first = post_keyed(invoke, '{"user_id":"user_alice","date":"2024-01-20","time":"10:00"}')
    again = post_keyed(
        invoke, '{ "time": "10:00", "date": "2024-01-20", "user_id": "user_alice", "note": 1 }'
    )
    assert answer(again) == answer(first)
    assert len(bookings_in(db)) == 1


@pytest.mark.parametrize(
    "other", [alice_at("11:00"), alice_at("10:00", date="2024-01-21")], ids=["time", "date"]
)
def test_the_same_key_with_another_request_is_a_422_and_changes_nothing(
    invoke: Invoke, db: psycopg.Connection, other: dict[str, str]
) -> None:
    post_keyed(invoke, alice_at("10:00"))
    before = (bookings_in(db), keys_in(db))

    response = post_keyed(invoke, other)

    assert answer(response) == (
        422,
        {"error": "Idempotency-Key reused with a different request"},
    )
    assert (bookings_in(db), keys_in(db)) == before


def test_keys_are_scoped_to_the_user(invoke: Invoke, db: psycopg.Connection) -> None:
    alice = post_keyed(invoke, alice_at("10:00"))
    bob = post_keyed(invoke, alice_at("11:00", user_id="user_bob"))

    assert alice["statusCode"] == bob["statusCode"] == 200
    assert alice["json"] != bob["json"]
    assert len(bookings_in(db)) == 2


def test_a_refused_outcome_is_replayed_too_even_after_the_slot_frees(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    holder = post_keyed(invoke, alice_at("10:00", user_id="user_bob"), key="bob-1")
    refused = post_keyed(invoke, alice_at("10:00"))
    assert answer(refused) == (400, {"error": "Slot full"})
    cancel(invoke, holder["json"]["booking_id"])

    again = post_keyed(invoke, alice_at("10:00"))

    assert answer(again) == (400, {"error": "Slot full"})
    assert again["headers"]["Idempotent-Replayed"] == "true"
    # A new attempt is a new request, with a new key.
    assert post_keyed(invoke, alice_at("10:00"), key="alice-2")["statusCode"] == 200


def test_an_unknown_users_outcome_is_recorded_and_replayed(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    first = post_keyed(invoke, alice_at("10:00", user_id="user_erin"))
    db.execute("INSERT INTO users (id, name) VALUES ('user_erin', 'Erin')")

    again = post_keyed(invoke, alice_at("10:00", user_id="user_erin"))

    assert answer(first) == answer(again) == (400, {"error": "User not found"})
    assert bookings_in(db) == []


def test_a_replayed_booking_keeps_its_answer_after_it_is_cancelled(invoke: Invoke) -> None:
    first = post_keyed(invoke, alice_at("10:00"))
    cancel(invoke, first["json"]["booking_id"])
    assert answer(post_keyed(invoke, alice_at("10:00"))) == answer(first)


@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "clé", "tab\there", "line\nbreak", "\x7f", '"unterminated', '"bad \\escape"'],
    ids=["empty", "too-long", "non-ascii", "tab", "newline", "del", "open-quote", "bad-escape"],
)
def test_an_invalid_key_is_a_400_and_books_nothing(
    invoke: Invoke, db: psycopg.Connection, key: str
) -> None:
    response = post_keyed(invoke, alice_at("10:00"), key=key)
    assert answer(response) == (400, {"error": "Invalid Idempotency-Key"})
    assert (bookings_in(db), keys_in(db)) == ([], [])


def test_a_key_of_255_printable_characters_is_valid(invoke: Invoke, db: psycopg.Connection) -> None:
    key = ("~ !#" * 64)[:255]
    assert post_keyed(invoke, alice_at("10:00"), key=key)["statusCode"] == 200
    assert keys_in(db)[0][1] == key


def test_a_structured_field_string_is_the_same_key_as_its_bare_value(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    # The IETF draft sends the key as a Structured Field string.
    first = post_keyed(invoke, alice_at("10:00"), key=f'"{KEY}"')
    again = post_keyed(invoke, alice_at("10:00"), key=KEY)
    assert answer(again) == answer(first)
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert keys_in(db)[0][1] == KEY


def test_whitespace_around_the_key_is_not_part_of_it(invoke: Invoke) -> None:
    first = post_keyed(invoke, alice_at("10:00"), key=f" {KEY}\t")
    again = post_keyed(invoke, alice_at("10:00"), key=KEY)
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert answer(again) == answer(first)


def test_an_invalid_body_with_a_key_records_nothing(invoke: Invoke, db: psycopg.Connection) -> None:
    response = post_keyed(invoke, {"user_id": "user_alice", "date": "2024-13-01", "time": "10:00"})
    assert answer(response) == (400, {"error": "Invalid date format"})
    assert keys_in(db) == []
    # The key is still unused: the corrected request books.
    assert post_keyed(invoke, alice_at("10:00"))["statusCode"] == 200


def expire_keys(db: psycopg.Connection, older_by: str = "24 hours") -> None:
    db.execute(f"UPDATE idempotency_keys SET created_at = created_at - interval '{older_by}'")


def test_after_24_hours_the_key_is_unused_again(invoke: Invoke, db: psycopg.Connection) -> None:
    first = post_keyed(invoke, alice_at("10:00"))
    expire_keys(db)

    later = post_keyed(invoke, alice_at("11:00"))  # another request: no 422 once expired

    assert later["statusCode"] == 200
    assert "Idempotent-Replayed" not in later["headers"]
    assert later["json"] != first["json"]
    assert keys_in(db) == [("user_alice", KEY, "booked", later["json"]["booking_id"])]


def test_just_under_24_hours_the_key_still_replays(invoke: Invoke, db: psycopg.Connection) -> None:
    first = post_keyed(invoke, alice_at("10:00"))
    expire_keys(db, older_by="23 hours 59 minutes")
    again = post_keyed(invoke, alice_at("10:00"))
    assert answer(again) == answer(first)
    assert again["headers"]["Idempotent-Replayed"] == "true"


def test_a_request_refused_by_the_hours_leaves_an_expired_key_in_place(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    # The lookup for a recorded answer on the refused path only reads: a
    # refused request writes nothing, not even an expired key's deletion.
    post_keyed(invoke, alice_at("10:00"), key="old-key")
    expire_keys(db, older_by="25 hours")
    before = db.execute("SELECT * FROM idempotency_keys").fetchall()

    refused = post_keyed(invoke, alice_at("08:00", date="2031-05-05"), key="old-key")

    assert answer(refused) == (400, {"error": "Shop closed"})
    assert db.execute("SELECT * FROM idempotency_keys").fetchall() == before


def purge() -> dict[str, int]:
    handler = load_function("purge").handler
    result: dict[str, int] = handler({}, LocalLambdaContext(function_name="purge"))
    return result


def test_the_purge_deletes_expired_keys_only(invoke: Invoke, db: psycopg.Connection) -> None:
    post_keyed(invoke, alice_at("10:00"), key="old-1")
    post_keyed(invoke, alice_at("11:00"), key="old-2")
    expire_keys(db)
    post_keyed(invoke, alice_at("12:00"), key="fresh")

    assert purge()["purged"] == 2
    assert [key for _, key, _, _ in keys_in(db)] == ["fresh"]
    assert purge()["purged"] == 0


def test_the_purge_works_through_many_batches(
    invoke: Invoke, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "PURGE_BATCH", 7)
    db.execute(
        "INSERT INTO idempotency_keys"
        " (user_id, key, request_fingerprint, outcome, attempt_id, created_at)"
        " SELECT 'user_alice', 'k' || n, 'f', 'slot_full', 'b' || n, now() - interval '25 hours'"
        " FROM generate_series(1, 30) AS n"
    )
    assert purge()["purged"] == 30
    assert keys_in(db) == []


def test_the_purge_skips_an_expired_key_a_request_is_replacing(
    invoke: Invoke, db: psycopg.Connection, database_url: str
) -> None:
    post_keyed(invoke, alice_at("10:00"), key="reused")
    post_keyed(invoke, alice_at("11:00"), key="idle")
    expire_keys(db)
    params = {
        "shop_id": "default",
        "user_id": "user_alice",
        "key": "reused",
        "ttl": store.IDEMPOTENCY_KEY_TTL,
    }
    with psycopg.connect(database_url) as request:
        # A request bringing the expired key back deletes it, in its transaction.
        request.execute(store._RECORDED_ANSWER, params)
        assert purge()["purged"] == 1  # the other one; it did not wait for this lock
    assert [key for _, key, _, _ in keys_in(db)] == []


def test_an_expired_key_being_deleted_meanwhile_is_still_expired(
    invoke: Invoke, db: psycopg.Connection, database_url: str
) -> None:
    # The purge (or another request) deletes the row while this request reads it:
    # its DELETE waits, then finds nothing; the row it reads is still expired.
    post_keyed(invoke, alice_at("10:00"))
    expire_keys(db)
    key = store.IdempotencyKey(KEY, "another request's fingerprint")
    with psycopg.connect(database_url) as purger:
        purger.execute("DELETE FROM idempotency_keys")
        with psycopg.connect(database_url, autocommit=True) as conn:
            reading = threading.Thread(
                target=lambda: answers.append(
                    store.recorded_answer(conn, "default", "user_alice", key, "booking_mine")
                )
            )
            answers: list[object] = []
            reading.start()
            wait_for_lock_waiter(db)
            purger.commit()
            reading.join(10)
    assert answers == [None]  # unused again: not "reused with a different request"


def wait_for_lock_waiter(db: psycopg.Connection) -> None:
    for _ in range(200):
        waiting = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ).fetchone()
        if waiting != (0,):
            return
        time.sleep(0.01)
    raise AssertionError("the request never waited for the purge's lock")


def test_a_keyed_request_whose_own_refusal_was_recorded_is_not_told_it_is_a_replay(
    db: psycopg.Connection, database_url: str
) -> None:
    # Its first attempt recorded "Slot full", then its connection died: the
    # retry reads its own answer back.
    key = store.IdempotencyKey("own", "fingerprint")
    db.execute(
        "INSERT INTO idempotency_keys (user_id, key, request_fingerprint, outcome, attempt_id)"
        " VALUES ('user_alice', 'own', 'fingerprint', 'slot_full', 'booking_mine')"
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        mine = store.recorded_answer(conn, "default", "user_alice", key, "booking_mine")
        theirs = store.recorded_answer(conn, "default", "user_alice", key, "booking_other")
    assert mine == store.SlotFull()
    assert theirs == store.Replayed(store.SlotFull())
