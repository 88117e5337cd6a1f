"""`make dev`'s settings: flags, else PORT and DEV_LOGS, and one clear error for a bad one."""

from __future__ import annotations

import pytest

from local.dev_server import DEFAULT_PORT, StartupError, parse_args


@pytest.fixture(autouse=True)
def no_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("DEV_LOGS", raising=False)


def test_the_defaults_are_port_3000_and_the_quiet_console() -> None:
    args = parse_args([])
    assert (args.port, args.json_logs) == (DEFAULT_PORT, False)


def test_dev_logs_json_turns_on_the_handlers_json_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEV_LOGS", "json")
    assert parse_args([]).json_logs is True


def test_an_unknown_dev_logs_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEV_LOGS", "yes")
    with pytest.raises(StartupError, match=r"^DEV_LOGS='yes' is not understood"):
        parse_args([])


def test_port_comes_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    assert parse_args([]).port == 8080
    assert parse_args(["--port", "9090"]).port == 9090


@pytest.mark.parametrize("value", ["abc", "0", "65536", "-1", "80.5"])
def test_a_port_that_is_not_a_port_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PORT", value)
    with pytest.raises(
        StartupError, match=rf"^PORT='{value}' is not a port number \(1 to 65535\)$"
    ):
        parse_args([])


def test_the_example_catalogue_is_asked_for_by_a_flag() -> None:
    assert parse_args([]).example_catalogue is False
    assert parse_args(["--example-catalogue"]).example_catalogue is True
