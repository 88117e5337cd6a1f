"""The relay: the outbox's events published to an EventBridge bus (moto), read back
from the SQS queue a rule on the bus sends them to, as a consumer would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import boto3  # type: ignore[import-untyped]
import psycopg
import pytest
from moto import mock_aws

from appointments.api import relay
from appointments.api.event_views import cloud_event, event_json
from appointments.data import database, outbox
from appointments.data.outbox import OutboxEvent
from appointments.platform import event_bus
from local.lambda_context import LocalLambdaContext
from tests.conftest import Invoke, load_function
from tests.integration.test_booking_lifecycle import cancel
from tests.integration.test_outbox import events_of
from tests.integration.test_reschedule import DAY, book, reschedule

BUS = "appointments-test"


class Bus:
    """The bus, and the queue a rule sends every event of the service to."""

    def __init__(self) -> None:
        self.events = boto3.client("events")
        self.sqs = boto3.client("sqs")
        self.events.create_event_bus(Name=BUS)
        self.queue_url = self.sqs.create_queue(QueueName="everything")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        pattern = json.dumps({"source": ["appointments"]})
        self.events.put_rule(Name="everything", EventBusName=BUS, EventPattern=pattern)
        self.events.put_targets(
            Rule="everything", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )

    def received(self) -> list[dict[str, Any]]:
        """What reached the queue since the last look: EventBridge's envelopes, in order."""
        found: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10
        ).get("Messages"):
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return found


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bus]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    client = event_bus.client  # a test may put another in its place
    client.cache_clear()
    with mock_aws():
        yield Bus()
    client.cache_clear()


def drain() -> int:
    """Relay until nothing is left: how many events were published."""
    total = 0
    while (batch := relay.relay_once(relay.to_event_bridge)).claimed:
        total += batch.published
    return total


def unpublished(db: psycopg.Connection) -> int:
    row = db.execute("SELECT count(*) FROM events WHERE published_at IS NULL").fetchone()
    assert row is not None
    return int(row[0])


def test_every_event_reaches_the_bus_once_as_its_cloud_event_in_order(
    invoke: Invoke, db: psycopg.Connection, bus: Bus
) -> None:
    first = book(invoke, "10:00")
    second = book(invoke, "11:00", "user_bob")
    reschedule(invoke, first, {"date": DAY, "time": "14:00"})
    cancel(invoke, first)
    written = events_of(db, first) + events_of(db, second)

    assert drain() == 4

    received = bus.received()
    assert sorted(message["detail"]["id"] for message in received) == sorted(
        str(event.id) for event in written
    )
    by_id = {message["detail"]["id"]: message for message in received}
    for event in written:
        message = by_id[str(event.id)]
        assert message["detail"] == cloud_event(event)
        assert (message["source"], message["detail-type"]) == ("appointments", event.type)
    of_first = [
        message["detail"]["type"] for message in received if message["detail"]["subject"] == first
    ]
    assert of_first == ["booking.confirmed", "booking.rescheduled", "booking.cancelled"]
    assert unpublished(db) == 0
    assert drain() == 0 and bus.received() == []


def test_a_batch_takes_one_event_per_subject_so_a_subjects_events_go_one_call_after_another(
    invoke: Invoke, db: psycopg.Connection, bus: Bus
) -> None:
    first = book(invoke, "10:00")
    reschedule(invoke, first, {"date": DAY, "time": "14:00"})
    cancel(invoke, first)
    second = book(invoke, "11:00", "user_bob")
    calls: list[list[str]] = []

    def recording(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        calls.append([event.type for event in events])
        return relay.to_event_bridge(events)

    while relay.relay_once(recording).claimed:
        pass

    assert calls == [
        ["booking.confirmed", "booking.confirmed"],
        ["booking.rescheduled"],
        ["booking.cancelled"],
    ]
    assert second in {message["detail"]["subject"] for message in bus.received()}


class PartlyFailing:
    """The bus's client, refusing the entries at the positions given, once each call
    until told otherwise, as PutEvents does under throttling (FailedEntryCount)."""

    def __init__(self, real: Any, refuse: set[int], times: int) -> None:
        self.real, self.refuse, self.times = real, refuse, times
        self.sent: list[list[str]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.sent.append([json.loads(entry["Detail"])["subject"] for entry in Entries])
        refused = self.refuse if self.times > 0 else set()
        self.times -= 1
        taken = [entry for index, entry in enumerate(Entries) if index not in refused]
        answers = iter(self.real.put_events(Entries=taken)["Entries"] if taken else [])
        failure = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
        results = [failure if index in refused else next(answers) for index in range(len(Entries))]
        return {"FailedEntryCount": len(refused & set(range(len(Entries)))), "Entries": results}


def test_a_partial_failure_is_retried_for_the_failed_entries_only(
    invoke: Invoke, db: psycopg.Connection, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [book(invoke, time) for time in ("09:00", "10:00", "11:00")]
    client = PartlyFailing(event_bus.client(), refuse={1}, times=1)
    monkeypatch.setattr(event_bus, "client", lambda: client)
    monkeypatch.setattr(event_bus, "BACKOFF_S", 0.001)

    assert drain() == 3

    assert len(client.sent) == 2
    assert len(client.sent[0]) == 3
    assert client.sent[1] == [client.sent[0][1]]  # only the refused one again
    assert sorted(message["detail"]["subject"] for message in bus.received()) == sorted(ids)
    assert unpublished(db) == 0


def test_an_entry_the_bus_keeps_refusing_stays_unpublished_and_holds_back_its_subject(
    invoke: Invoke, db: psycopg.Connection, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused_id = book(invoke, "09:00")
    other_id = book(invoke, "10:00", "user_bob")
    cancel(invoke, refused_id)
    client = PartlyFailing(event_bus.client(), refuse={0}, times=event_bus.ATTEMPTS)
    monkeypatch.setattr(event_bus, "client", lambda: client)
    monkeypatch.setattr(event_bus, "BACKOFF_S", 0.001)

    batch = relay.relay_once(relay.to_event_bridge)

    assert batch == relay.Batch(claimed=2, published=1)
    assert [message["detail"]["subject"] for message in bus.received()] == [other_id]
    assert unpublished(db) == 2  # the refused booking's, and its cancel behind it
    assert drain() == 2  # the bus takes them now, in order
    assert [message["detail"]["type"] for message in bus.received()] == [
        "booking.confirmed",
        "booking.cancelled",
    ]


def test_a_relay_that_dies_before_its_mark_leaves_its_batch_to_be_published_again(
    invoke: Invoke, db: psycopg.Connection, bus: Bus
) -> None:
    booking_id = book(invoke, "10:00")

    def published_then_lost(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        relay.to_event_bridge(events)
        raise ConnectionResetError("the relay died here")

    with pytest.raises(ConnectionResetError):
        relay.relay_once(published_then_lost)
    assert unpublished(db) == 1
    assert drain() == 1

    first, again = bus.received()
    assert first["detail"] == again["detail"]  # the same event, under the same id
    assert first["detail"]["subject"] == booking_id
    assert unpublished(db) == 0


def test_a_second_relay_neither_waits_for_the_first_nor_overtakes_its_subjects(
    invoke: Invoke, db: psycopg.Connection, database_url: str
) -> None:
    first = book(invoke, "10:00")
    cancel(invoke, first)
    second = book(invoke, "11:00", "user_bob")
    seen_by_second: list[list[tuple[str, str]]] = []

    def slow_publisher(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        # While this batch is claimed and unmarked, another relay takes its turn.
        with psycopg.connect(database_url, autocommit=True) as other:
            done = threading.Event()

            def second_relay() -> None:
                outbox.relay_batch(other, lambda batch: keep(batch, seen_by_second), event_json)
                done.set()

            thread = threading.Thread(target=second_relay)
            thread.start()
            thread.join(timeout=10)
            assert done.is_set(), "the second relay waited for the first"
        return list(events)

    with psycopg.connect(database_url, autocommit=True) as conn:
        outbox.relay_batch(conn, slow_publisher, event_json, batch=1)  # the first event only

    # The first relay held the first booking's confirmation; the second took the
    # second booking's, and not the first booking's cancel, which waits its turn.
    assert seen_by_second == [[("booking.confirmed", second)]]
    assert published_flags(db, first) == [True, False]


def keep(events: Sequence[OutboxEvent], into: list[list[tuple[str, str]]]) -> list[OutboxEvent]:
    into.append([(event.type, event.subject_id) for event in events])
    return list(events)


def published_flags(db: psycopg.Connection, subject_id: str) -> list[bool]:
    rows = db.execute(
        "SELECT published_at IS NOT NULL FROM events WHERE subject_id = %s ORDER BY position",
        (subject_id,),
    ).fetchall()
    return [row[0] for row in rows]


def test_published_events_are_purged_after_their_retention_and_unpublished_ones_never(
    invoke: Invoke, db: psycopg.Connection, bus: Bus
) -> None:
    old, recent, waiting = (book(invoke, time) for time in ("09:00", "10:00", "11:00"))
    db.execute(
        "UPDATE events SET published_at = now() - %s - interval '1 minute' WHERE subject_id = %s",
        (outbox.RETENTION, old),
    )
    db.execute("UPDATE events SET published_at = now() WHERE subject_id = %s", (recent,))
    db.execute(
        "UPDATE events SET occurred_at = now() - interval '30 days' WHERE subject_id = %s",
        (waiting,),
    )

    purged = load_function("purge").handler({}, LocalLambdaContext("purge"))

    assert purged["events_purged"] == 1

    remaining = db.execute("SELECT subject_id FROM events ORDER BY position").fetchall()
    assert remaining == [(recent,), (waiting,)]


def test_the_relay_function_publishes_until_its_time_is_nearly_up(
    invoke: Invoke, db: psycopg.Connection, bus: Bus
) -> None:
    ids = [book(invoke, time) for time in ("09:00", "10:00")]

    answer = load_function("relay").handler({}, LocalLambdaContext("relay", timeout_seconds=4))

    assert answer == {"published": 2}
    assert sorted(message["detail"]["subject"] for message in bus.received()) == sorted(ids)


def test_the_relays_reads_stay_within_the_backlog_however_many_events_were_published(
    invoke: Invoke, db: psycopg.Connection
) -> None:
    db.execute(
        "INSERT INTO events (shop_id, type, subject_id, subject, published_at)"
        " SELECT 'default', 'booking.confirmed', 'booking_' || n, '{}', now()"
        " FROM generate_series(1, 20000) AS n"
    )
    book(invoke, "10:00")
    db.execute("ANALYZE events")

    claim = scans_of_events(db, outbox._CLAIM, {"batch": 10})
    purge_params = {"retention": outbox.RETENTION, "batch": 5}
    purge = scans_of_events(db, outbox._PURGE_PUBLISHED, purge_params)

    assert claim and claim <= {"events_to_publish", "events_to_publish_by_subject"}
    assert purge == {"events_published"}


def scans_of_events(db: psycopg.Connection, statement: str, params: dict[str, Any]) -> set[str]:
    """The indexes `statement`'s plan reads events through; a sequential scan fails."""
    row = db.execute(f"EXPLAIN (FORMAT JSON) {statement}", params).fetchone()
    assert row is not None
    nodes, indexes = [row[0][0]["Plan"]], set()
    while nodes:
        node = nodes.pop()
        assert not (node["Node Type"] == "Seq Scan" and node["Relation Name"] == "events"), node
        if node.get("Index Name", "").startswith("events"):
            indexes.add(node["Index Name"])
        nodes.extend(node.get("Plans", []))
    return indexes


def test_the_database_lost_mid_batch_is_reconnected_and_the_batch_published_again(
    invoke: Invoke, db: psycopg.Connection, bus: Bus
) -> None:
    booking_id = book(invoke, "10:00")
    killed: list[int] = []

    def kill_the_relays_connection_once(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        published = relay.to_event_bridge(events)
        if not killed:
            relay_pid = database.get_connection().info.backend_pid
            db.execute("SELECT pg_terminate_backend(%s)", (relay_pid,))
            killed.append(relay_pid)
        return published

    batch = relay.relay_once(kill_the_relays_connection_once)

    assert batch.published == 1 and killed
    received = bus.received()
    assert [message["detail"]["subject"] for message in received] == [booking_id] * 2
    assert received[0]["detail"]["id"] == received[1]["detail"]["id"]
    assert unpublished(db) == 0
