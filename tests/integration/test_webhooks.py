"""Webhooks: subscriptions through the real catalogue_admin handler (IAM), and their
deliveries, written by the relay and posted by the sender to a real HTTP receiver
on loopback, verified with the `standardwebhooks` library as a receiver would."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from standardwebhooks.webhooks import Webhook

from appointments.api import relay, webhook_sender
from appointments.data import webhook_deliveries
from appointments.data.outbox import OutboxEvent
from appointments.platform import webhook_http
from local.lambda_context import LocalLambdaContext
from tests.conftest import Invoke, load_function
from tests.integration.test_booking_lifecycle import cancel
from tests.integration.test_reschedule import DAY, book, reschedule
from tests.integration.test_users import SIGNED

BOOKING_TYPES = ["booking.confirmed", "booking.rescheduled", "booking.cancelled"]


class Receiver:
    """An HTTP server on loopback that keeps what it is sent, and answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret: str) -> list[dict[str, Any]]:
        """Every body received, each verified against its signature headers."""
        verifier = Webhook(secret)
        return [verifier.verify(body, headers) for headers, body in self.received]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOCAL", "true")
    running = Receiver()
    yield running
    running.server.shutdown()
    running.server.server_close()


def put_webhook(
    invoke: Invoke, body: dict[str, Any] | str, webhook_id: str = "hook", shop_id: str = "default"
) -> dict[str, Any]:
    return on_webhook(
        invoke, "PUT", webhook_id, shop_id, body=body if isinstance(body, str) else json.dumps(body)
    )


def on_webhook(
    invoke: Invoke, method: str, webhook_id: str = "hook", shop_id: str = "default", **fields: Any
) -> dict[str, Any]:
    return invoke(
        "catalogue_admin",
        method,
        f"/shops/{shop_id}/webhooks/{webhook_id}",
        route_key=f"{method} /shops/{{shop_id}}/webhooks/{{webhook_id}}",
        path_parameters={"shop_id": shop_id, "webhook_id": webhook_id},
        **SIGNED,
        **fields,
    )


def subscribe(invoke: Invoke, url: str, event_types: list[str] = BOOKING_TYPES) -> str:
    answer = put_webhook(invoke, {"url": url, "event_types": event_types})
    assert answer["statusCode"] == 201, answer["json"]
    return str(answer["json"]["secret"])


def relay_all() -> None:
    """The relay, publishing to no bus: what matters here is its mark, which writes
    the deliveries."""

    def taken(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        return list(events)

    while relay.relay_once(taken).claimed:
        pass


def deliver_all() -> None:
    while webhook_sender.deliver_once():
        pass


def pending(db: psycopg.Connection) -> list[tuple[str, int, str | None]]:
    return db.execute(
        "SELECT event_type, attempts, last_error FROM webhook_deliveries"
        " WHERE delivered_at IS NULL AND failed_at IS NULL ORDER BY position"
    ).fetchall()


def time_passes(db: psycopg.Connection) -> None:
    """Every retry's wait is over."""
    db.execute("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE delivered_at IS NULL")


# --- Subscriptions ----------------------------------------------------------------------


def test_a_subscription_shows_its_secret_once_and_keeps_it_through_a_change(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    body = {"url": "https://93.184.215.14/hooks", "event_types": ["booking.cancelled"]}

    created = put_webhook(invoke, body)
    changed = put_webhook(invoke, {**body, "event_types": ["hold.created", "booking.confirmed"]})
    shown = on_webhook(invoke, "GET")

    assert created["statusCode"] == 201
    secret = created["json"]["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert changed["statusCode"] == 200 and "secret" not in changed["json"]
    assert shown["json"] == {**changed["json"]}
    assert shown["json"]["event_types"] == ["booking.confirmed", "hold.created"]
    assert (shown["json"]["url"], shown["json"]["enabled"]) == (body["url"], True)
    assert db.execute("SELECT secret FROM webhooks").fetchall() == [(secret,)]
    deleted = on_webhook(invoke, "DELETE")
    assert (deleted["statusCode"], deleted["json"]) == (
        200,
        {"shop_id": "default", "webhook_id": "hook"},
    )
    gone = on_webhook(invoke, "GET")
    assert (gone["statusCode"], gone["json"]) == (404, {"error": "Webhook not found"})


@pytest.mark.parametrize(
    "url, error",
    [
        ("http://93.184.215.14/hook", "url: url must be an https:// URL"),
        ("ftp://93.184.215.14/hook", "url: url must be an https:// URL"),
        ("https://user:pw@93.184.215.14/", "url: url must not carry a user name or password"),
        ("https://127.0.0.1/hook", "which is not a public address"),
        ("https://localhost/hook", "which is not a public address"),
        ("https://10.0.0.5/hook", "which is not a public address"),
        ("https://192.168.1.1/hook", "which is not a public address"),
        ("https://169.254.169.254/latest/meta-data", "which is not a public address"),
        ("https://[fd00::1]/hook", "which is not a public address"),
        ("https://[::ffff:10.0.0.1]/hook", "which is not a public address"),
        ("https://0.0.0.0/hook", "which is not a public address"),
        ("https://nowhere.invalid/hook", "does not resolve"),
        ("https://[2002:a9fe:a9fe::1]/hook", "which is not a public address"),  # 6to4
        ("https://[fec0::1]/hook", "which is not a public address"),  # site-local
        ("https://93.184.215.14:0/hook", "url: url is not a valid URL"),
        ("https://93.184.215.14/a\u0000b", "printable ASCII"),
        ("https://93.184.215.14/caf\u00e9", "printable ASCII"),
        ("https://93.184.215.14/a b", "printable ASCII"),
    ],
)
def test_a_url_that_is_not_https_to_a_public_address_is_refused_and_nothing_saved(
    invoke: Invoke, db: psycopg.Connection, url: str, error: str
) -> None:
    body = json.dumps({"url": url, "event_types": ["booking.confirmed"]})
    answer = put_webhook(invoke, body.replace("\\\\u", "\\u"))

    assert answer["statusCode"] == 400
    assert answer["json"]["error"].startswith("url: ") and error in answer["json"]["error"]
    assert db.execute("SELECT count(*) FROM webhooks").fetchone() == (0,)


@pytest.mark.parametrize(
    "body, error",
    [
        ({"event_types": ["booking.confirmed"]}, "url: required, an https:// URL"),
        ({"url": "https://93.184.215.14/", "event_types": []}, "event_types: required"),
        ({"url": "https://93.184.215.14/", "event_types": ["booking.made"]}, "'booking.made'"),
        ({"url": "https://93.184.215.14/"}, "event_types: required"),
    ],
)
def test_a_bad_body_is_refused_naming_its_field(
    invoke: Invoke, db: psycopg.Connection, body: dict[str, Any], error: str
) -> None:
    answer = put_webhook(invoke, body)
    assert answer["statusCode"] == 400 and error in answer["json"]["error"]


def test_an_unknown_shop_or_an_impossible_id_is_not_found_and_an_unsigned_call_refused(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    body = {"url": "https://93.184.215.14/", "event_types": ["booking.confirmed"]}
    assert put_webhook(invoke, body, shop_id="nowhere")["json"] == {"error": "Shop not found"}
    assert put_webhook(invoke, body, webhook_id="Not An Id")["json"] == {
        "error": "Webhook not found"
    }
    unsigned = invoke(
        "catalogue_admin",
        "PUT",
        "/shops/default/webhooks/hook",
        route_key="PUT /shops/{shop_id}/webhooks/{webhook_id}",
        path_parameters={"shop_id": "default", "webhook_id": "hook"},
        body=json.dumps(body),
    )
    assert unsigned["statusCode"] in (401, 403)
    assert db.execute("SELECT count(*) FROM webhooks").fetchone() == (0,)


# --- Deliveries -------------------------------------------------------------------------


def test_every_event_is_delivered_signed_once_in_order(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    secret = subscribe(invoke, receiver.url)
    booking_id = book(invoke, "10:00")
    reschedule(invoke, booking_id, {"date": DAY, "time": "14:00"})
    cancel(invoke, booking_id)
    held = invoke(
        "bookings",
        "POST",
        "/holds",
        body=json.dumps({"user_id": "user_bob", "date": DAY, "time": "09:00"}),
    )
    assert held["statusCode"] == 201  # hold.created: not subscribed to

    relay_all()
    deliver_all()

    events = receiver.events(secret)  # each signature verified, or this raises
    assert [event["type"] for event in events] == BOOKING_TYPES
    assert {event["subject"] for event in events} == {booking_id}
    stored = db.execute(
        "SELECT id::text FROM events WHERE subject_id = %s ORDER BY position", (booking_id,)
    ).fetchall()
    assert [event["id"] for event in events] == [row[0] for row in stored]
    assert [headers["webhook-id"] for headers, _ in receiver.received] == [row[0] for row in stored]
    assert receiver.received[0][0]["Content-Type"] == "application/json"
    assert pending(db) == []
    deliver_all()
    assert len(receiver.received) == 3  # nothing twice


def test_a_receiver_down_for_a_while_then_back_gets_everything_in_order_per_subject(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    secret = subscribe(invoke, receiver.url)
    first = book(invoke, "10:00")
    second = book(invoke, "11:00", "user_bob")
    cancel(invoke, first)
    relay_all()
    receiver.status = 503

    for _ in range(3):  # three rounds of retries, all refused
        deliver_all()
        time_passes(db)

    tried = [json.loads(body)["type"] for _, body in receiver.received]
    # Each subject's first event only: its later ones wait behind it.
    assert sorted(tried) == ["booking.confirmed"] * 6
    assert [(kind, attempts) for kind, attempts, _ in pending(db)] == [
        ("booking.confirmed", 3),
        ("booking.confirmed", 3),
        ("booking.cancelled", 0),
    ]
    receiver.status = 204
    receiver.received.clear()
    time_passes(db)
    deliver_all()

    events = receiver.events(secret)
    of_first = [event["type"] for event in events if event["subject"] == first]
    assert of_first == ["booking.confirmed", "booking.cancelled"]
    assert [event["type"] for event in events if event["subject"] == second] == [
        "booking.confirmed"
    ]
    assert pending(db) == []
    row = db.execute("SELECT failing_since, enabled FROM webhooks").fetchone()
    assert row == (None, True)  # it succeeded again: failing no more


def test_a_subscription_failing_for_24_hours_is_disabled_and_an_event_says_so(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    subscribe(invoke, receiver.url)
    put_webhook(  # another subscription of the shop hears of it
        invoke,
        {"url": receiver.url.replace("/hook", "/ops"), "event_types": ["webhook.disabled"]},
        webhook_id="ops",
    )
    book(invoke, "10:00")
    relay_all()
    receiver.status = 500
    deliver_all()
    db.execute(
        "UPDATE webhooks SET failing_since = now() - interval '25 hours' WHERE webhook_id = 'hook'"
    )
    time_passes(db)
    receiver.status = 500

    deliver_all()

    enabled, disabled_at = db.execute(
        "SELECT enabled, disabled_at FROM webhooks WHERE webhook_id = 'hook'"
    ).fetchone()  # type: ignore[misc]
    assert enabled is False and disabled_at is not None
    (event,) = db.execute(
        "SELECT type, subject_id, subject FROM events WHERE type = 'webhook.disabled'"
    ).fetchall()
    assert event[1] == "hook" and event[2]["enabled"] is False
    assert "secret" not in event[2]
    receiver.status = 204
    receiver.received.clear()
    relay_all()
    time_passes(db)
    deliver_all()
    bodies = [json.loads(body) for _, body in receiver.received]
    assert [(body["type"], body["data"]["webhook_id"]) for body in bodies] == [
        ("webhook.disabled", "hook")
    ]
    # The disabled subscription's pending delivery is given up, not posted.
    assert db.execute(
        "SELECT last_error FROM webhook_deliveries WHERE webhook_id = 'hook'"
    ).fetchone() == ("subscription disabled",)


def test_a_host_that_resolves_elsewhere_at_delivery_is_not_posted_to(
    invoke: Invoke, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = {"hooks.example.test": ["93.184.215.14"]}
    monkeypatch.setattr(webhook_http, "resolve", lambda host, port: addresses[host])
    subscribe(invoke, "https://hooks.example.test/hook")
    book(invoke, "10:00")
    relay_all()
    addresses["hooks.example.test"] = ["169.254.169.254"]  # DNS changed since
    posted: list[Any] = []
    monkeypatch.setattr(webhook_http, "post", lambda *args: posted.append(args) or 204)

    deliver_all()

    assert posted == []
    ((_kind, attempts, error),) = pending(db)
    assert attempts == 1 and "169.254.169.254, which is not a public address" in str(error)


def test_a_delivery_claimed_by_a_sender_that_died_is_posted_when_its_lease_runs_out(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    secret = subscribe(invoke, receiver.url)
    book(invoke, "10:00")
    relay_all()
    with psycopg.connect(db.info.dsn, autocommit=True) as dying_sender:
        (claimed,) = webhook_deliveries.claim(dying_sender)  # then it dies: nothing recorded

    deliver_all()
    assert receiver.received == []  # leased: not due yet
    db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")  # the lease runs out
    deliver_all()

    (event,) = receiver.events(secret)
    assert event["id"] == str(claimed.event_id)
    assert db.execute("SELECT attempts FROM webhook_deliveries").fetchone() == (2,)


def test_an_event_republished_after_a_lost_mark_is_delivered_once(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    subscribe(invoke, receiver.url)
    book(invoke, "10:00")

    def published_then_lost(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        raise ConnectionResetError("the relay died before its mark")

    with pytest.raises(ConnectionResetError):
        relay.relay_once(published_then_lost)
    assert db.execute("SELECT count(*) FROM webhook_deliveries").fetchone() == (0,)
    relay_all()
    relay_all()

    assert db.execute("SELECT count(*) FROM webhook_deliveries").fetchone() == (1,)


def test_the_webhooks_function_delivers_until_its_time_is_nearly_up(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    secret = subscribe(invoke, receiver.url)
    book(invoke, "10:00")
    relay_all()

    answer = load_function("webhooks").handler(
        {}, LocalLambdaContext("webhooks", timeout_seconds=15)
    )

    assert answer == {"claimed": 1}
    assert [event["type"] for event in receiver.events(secret)] == ["booking.confirmed"]


def test_make_devs_console_relay_publishes_and_delivers_a_line_each(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver, database_url: str
) -> None:
    from local.dev_relay import ConsoleRelay

    secret = subscribe(invoke, receiver.url)
    booking_id = book(invoke, "10:00")
    lines: list[str] = []

    ConsoleRelay(database_url, lines.append).relay()

    assert lines[0].startswith(f"event published  booking.confirmed  {booking_id}  shop=default")
    assert lines[1] == (
        f"webhook hook  booking.confirmed  {booking_id}  -> {receiver.url}  204  (attempt 1)"
    )
    assert [event["subject"] for event in receiver.events(secret)] == [booking_id]


def test_an_event_republished_by_hand_keeps_its_deliveries_and_the_relay_goes_on(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    subscribe(invoke, receiver.url)
    first = book(invoke, "10:00")
    relay_all()
    deliver_all()
    db.execute("UPDATE events SET published_at = NULL WHERE subject_id = %s", (first,))
    second = book(invoke, "11:00", "user_bob")

    relay_all()

    assert db.execute("SELECT count(*) FROM events WHERE published_at IS NULL").fetchone() == (0,)
    rows = db.execute("SELECT subject_id FROM webhook_deliveries ORDER BY position").fetchall()
    assert rows == [(first,), (second,)]


def test_a_delivery_that_fails_oddly_is_recorded_and_the_rest_of_its_batch_too(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = subscribe(invoke, receiver.url)
    odd, fine = book(invoke, "10:00"), book(invoke, "11:00", "user_bob")
    relay_all()
    real_post = webhook_http.post

    def post(place: Any, body: str, headers: dict[str, str]) -> int:
        if json.loads(body)["subject"] == odd:
            raise UnicodeEncodeError("ascii", "\x00é", 1, 2, "a receiver's oddity")
        return real_post(place, body, headers)

    monkeypatch.setattr(webhook_http, "post", post)
    deliver_all()

    assert [event["subject"] for event in receiver.events(secret)] == [fine]
    ((kind, attempts, error),) = pending(db)
    assert (kind, attempts, error) == ("booking.confirmed", 1, "UnicodeEncodeError")


def test_an_outcome_recorded_after_its_lease_was_taken_over_changes_nothing(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    subscribe(invoke, receiver.url)
    book(invoke, "10:00")
    relay_all()
    (late,) = webhook_deliveries.claim(db)  # a sender too slow for its lease
    db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")  # its lease runs out
    (taken_over,) = webhook_deliveries.claim(db)

    webhook_deliveries.record(db, [webhook_deliveries.Outcome(late, delivered=True, status=200)])

    assert taken_over.attempt == late.attempt + 1
    row = db.execute("SELECT delivered_at, attempts FROM webhook_deliveries").fetchone()
    assert row == (None, 2)


def test_giving_up_on_a_delivery_tried_for_24_hours_disables_a_subscription_still_failing(
    invoke: Invoke, db: psycopg.Connection, receiver: Receiver
) -> None:
    subscribe(invoke, receiver.url)
    book(invoke, "10:00")
    relay_all()
    receiver.status = 500
    deliver_all()  # failing since now
    db.execute("UPDATE webhook_deliveries SET created_at = now() - interval '25 hours'")
    time_passes(db)

    deliver_all()

    row = db.execute("SELECT enabled FROM webhooks").fetchone()
    assert row == (False,)
    assert db.execute(
        "SELECT last_error FROM webhook_deliveries WHERE failed_at IS NOT NULL"
    ).fetchone() == ("given up after 24 hours",)
