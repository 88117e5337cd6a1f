"""`make dev` with the shop's schedule set in the shell: `CAPACITY=2 OPENING_HOURS=... make dev`.

The dev server gives the functions the template's defaults for the schedule's
variables, except those the shell sets: the shell's win. Driven over real
HTTP, as in test_dev_server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process.local_server import LocalServer, free_port, run_module, start_local_server

SATURDAY, SUNDAY, MONDAY = "2031-03-08", "2031-03-09", "2031-03-10"
SHELL = {
    "CAPACITY": "2",
    "OPENING_HOURS": "Sat 10:00-12:00",
    "SHOP_TIME_ZONE": "Europe/Berlin",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server for the module, on its own embedded PostgreSQL, with SHELL in its environment."""
    folder = tmp_path_factory.mktemp("dev-schedule")
    running = start_local_server(
        folder / "server.log", "--data-dir", str(folder / "pgdata"), env=SHELL
    )
    yield running
    running.interrupt()


def booking(user: str, date: str, time: str) -> dict[str, str]:
    return {"user_id": user, "date": date, "time": time}


def slots(server: LocalServer, date: str) -> list[str]:
    response = server.request("GET", f"/slots?date={date}")
    assert response.status == 200, response.body
    times: list[str] = response.json["available_times"]
    return times


def test_the_slots_are_the_shells_opening_hours(server: LocalServer) -> None:
    assert slots(server, SATURDAY) == ["10:00", "11:00"]
    assert slots(server, SUNDAY) == []
    assert slots(server, MONDAY) == []


def test_availability_is_in_the_shells_zone_with_the_shells_bays(server: LocalServer) -> None:
    response = server.request("GET", f"/availability?from={SATURDAY}&to={MONDAY}")
    assert response.status == 200, response.body
    assert response.json == {
        "time_zone": "Europe/Berlin",
        "days": [
            {
                "date": SATURDAY,
                "slots": [
                    {
                        "time": "10:00",
                        "starts_at": f"{SATURDAY}T10:00:00+01:00",
                        "ends_at": f"{SATURDAY}T11:00:00+01:00",
                        "remaining": 2,
                    },
                    {
                        "time": "11:00",
                        "starts_at": f"{SATURDAY}T11:00:00+01:00",
                        "ends_at": f"{SATURDAY}T12:00:00+01:00",
                        "remaining": 2,
                    },
                ],
            },
            {"date": SUNDAY, "slots": []},
            {"date": MONDAY, "slots": []},
        ],
    }


def test_a_slot_takes_two_bookings_and_the_third_is_slot_full(server: LocalServer) -> None:
    date = "2031-03-15"  # a Saturday of its own: the other tests read SATURDAY's slots
    answers = [
        server.post_json("/bookings", booking(user, date, "11:00"))
        for user in ("user_alice", "user_bob", "user_charlie")
    ]

    assert [a.status for a in answers] == [200, 200, 400]
    assert all(a.json["booking_id"].startswith("booking_") for a in answers[:2])
    assert answers[2].json == {"error": "Slot full"}
    assert slots(server, date) == ["10:00"]
    days = server.request("GET", f"/availability?from={date}&to={date}").json["days"]
    assert [(s["time"], s["remaining"]) for s in days[0]["slots"]] == [("10:00", 2), ("11:00", 0)]


def test_a_day_the_shell_did_not_open_is_shop_closed(server: LocalServer) -> None:
    response = server.post_json("/bookings", booking("user_alice", MONDAY, "10:00"))
    assert (response.status, response.json) == (400, {"error": "Shop closed"})


def test_a_malformed_setting_stops_make_dev_before_it_serves(tmp_path: Path) -> None:
    """`SLOT_MINUTES=abc make dev` says what is wrong in one line and starts nothing."""
    refused = run_module(
        "local.dev_server",
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path / "pgdata"),
        env={"SLOT_MINUTES": "abc"},
    )
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()  # one line, after its time of day
    assert line.endswith(' error: SLOT_MINUTES: "abc": expected a whole number from 5 to 1440')
    assert not (tmp_path / "pgdata").exists()  # no database was started for it
