"""A DATABASE_URL whose password holds URL syntax: it connects, and failures never show it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from appointments.data import database
from appointments.platform import redaction, settings
from tests.conftest import Invoke, Printed
from tests.unit.test_credentials import AWKWARD_PASSWORDS


@pytest.fixture
def fresh_connection(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The handlers will read DATABASE_URL again and open a new connection."""
    database.close()
    settings.get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    database.close()
    settings.get_settings.cache_clear()
    redaction.forget_all()


def test_a_role_whose_password_holds_url_syntax_connects_from_a_raw_url(
    database_url: str, db: psycopg.Connection, invoke: Invoke, fresh_connection: pytest.MonkeyPatch
) -> None:
    password = "all@of/them:?#%' here"
    db.execute("DROP ROLE IF EXISTS awkward_app")
    db.execute(
        sql.SQL("CREATE ROLE awkward_app LOGIN PASSWORD {} IN ROLE pg_read_all_data").format(
            sql.Literal(password)
        )
    )
    socket_dir = conninfo_to_dict(database_url)["host"]
    url = f"postgresql://awkward_app:{password}@/postgres?host={socket_dir}"
    fresh_connection.setenv("DATABASE_URL", url)

    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")

    assert response["statusCode"] == 200
    assert database.get_connection().info.user == "awkward_app"


@pytest.mark.parametrize("password", AWKWARD_PASSWORDS)
def test_a_refused_connection_logs_no_piece_of_the_password(
    password: str, invoke: Invoke, stdout_json: Printed, fresh_connection: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        fresh_connection.setenv("DATABASE_URL", f"postgresql://app:{password}@127.0.0.1:{port}/db")
        response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")

    assert (response["statusCode"], response["json"]) == (503, {"error": "Service unavailable"})
    logged = "\n".join(str(record) for record in stdout_json() if "level" in record)
    assert "Connection refused" in logged  # libpq's reason is kept
    assert f"port {port}" in logged
    for piece in pieces_of(password):
        assert piece not in logged


def pieces_of(password: str) -> set[str]:
    """Every run of four or more characters of the password."""
    size = redaction.MIN_FRAGMENT
    return {
        password[start:end]
        for start in range(len(password))
        for end in range(start + size, len(password) + 1)
        if password[start:end].strip()
    }


def test_only_free_text_fields_are_masked(
    invoke: Invoke, stdout_json: Printed, fresh_connection: pytest.MonkeyPatch
) -> None:
    """The fixed fields of a log line stay whole even when the password shares a piece of them."""
    password = "appointments-2026"  # shares pieces with the service name and the timestamp
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        fresh_connection.setenv("DATABASE_URL", f"postgresql://app:{password}@127.0.0.1:{port}/db")
        invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")

    [warning] = [r for r in stdout_json() if r.get("level") == "WARNING"]
    assert warning["service"] == "appointments"
    assert warning["timestamp"].startswith("2")
    assert "***" not in warning["timestamp"]
    assert "Connection refused" in warning["cause"]
