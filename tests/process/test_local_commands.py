"""`make migrate`, `make seed` and `make stop` on the embedded PostgreSQL: each stops
what it started, and leaves running what it found running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from local import dev_server, embedded_db
from tests.process.local_server import processes_using, run_module, start_local_server


def test_seed_stops_the_database_it_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    result = run_module("local.migrate", "--seed", "--data-dir", str(data_dir))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["seeded"] is True  # after its log line
    assert result.stderr == f"started the embedded PostgreSQL in {data_dir}, and stopped it\n"
    assert processes_using(data_dir) == []
    assert not (data_dir / "postmaster.pid").exists()


def test_migrate_leaves_running_the_database_it_found_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    theirs = embedded_db.start(data_dir)
    try:
        result = run_module("local.migrate", "--data-dir", str(data_dir))

        assert result.returncode == 0, result.stderr
        assert "seeded" in json.loads(result.stdout.splitlines()[-1])
        with psycopg.connect(theirs.get_uri()) as conn:
            assert conn.execute("SELECT count(*) FROM bookings").fetchone() == (0,)
    finally:
        theirs.stop()


def test_a_bad_database_url_is_one_line_without_the_password() -> None:
    url = "postgresql://app:s3cr3t!Pw@127.0.0.1:1/appointments"
    result = run_module("local.migrate", env={"DATABASE_URL": url})

    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Connection refused" in result.stderr and "\t" not in result.stderr
    assert "s3cr" not in result.stderr


def test_stop_stops_a_database_left_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    left_over = embedded_db.start(data_dir)
    pid = left_over.get_pid()
    try:
        result = run_module("local.embedded_db", "stop", "--data-dir", str(data_dir))

        assert (result.returncode, result.stderr) == (
            0,
            f"stopped the embedded PostgreSQL in {data_dir} (pid {pid})\n",
        )
        assert processes_using(data_dir) == []
    finally:
        left_over.stop()  # nothing to do once the command has stopped it


def test_stop_with_nothing_running_says_so(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    result = run_module("local.embedded_db", "stop", "--data-dir", str(data_dir))
    assert (result.returncode, result.stderr) == (
        0,
        f"no embedded PostgreSQL is running in {data_dir}\n",
    )


def test_stop_leaves_alone_the_database_a_dev_server_uses(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    running = start_local_server(tmp_path / "server.log", "--data-dir", str(data_dir))
    try:
        result = run_module("local.embedded_db", "stop", "--data-dir", str(data_dir))

        assert result.returncode == 1
        assert result.stderr == (
            f"error: make dev (pid {running.process.pid}) is using the embedded PostgreSQL"
            f" in {data_dir}: Ctrl-C there stops both\n"
        )
        assert running.request("GET", "/health").status == 200
    finally:
        assert running.interrupt() == 0
    assert processes_using(data_dir) == []


def test_ctrl_c_while_make_dev_starts_the_database_leaves_none_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands while pg_ctl starts the server: what was started for us is stopped."""
    data_dir = tmp_path / "pgdata"

    def start_then_interrupted(folder: Path) -> Any:
        embedded_db.start(folder)
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded_db, "attach_or_start", start_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        dev_server.start_database(data_dir)

    assert embedded_db.running_pid(data_dir) is None
    assert processes_using(data_dir) == []
