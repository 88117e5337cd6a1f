"""GET /health, and what every function answers for a route it does not serve."""

import pytest

from tests.conftest import Invoke


def test_health_answers_ok_as_json(invoke: Invoke) -> None:
    response = invoke("health", "GET", "/health")
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["json"] == {"status": "ok"}


def test_health_does_not_touch_the_database(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@/nowhere?host=/nonexistent")
    from appointments.data import database
    from appointments.platform import settings

    settings.get_settings.cache_clear()
    database.close()
    try:
        assert invoke("health", "GET", "/health")["json"] == {"status": "ok"}
        assert database._connection is None
    finally:
        settings.get_settings.cache_clear()


@pytest.mark.parametrize(
    ("function", "method", "path"),
    [
        ("health", "GET", "/nope"),
        ("health", "POST", "/health"),
        ("slots", "GET", "/slots/extra"),
        ("bookings", "PUT", "/bookings"),
        ("bookings", "GET", "/bookings/some_id/extra"),
    ],
)
def test_unknown_routes_are_a_json_404(
    invoke: Invoke, function: str, method: str, path: str
) -> None:
    response = invoke(function, method, path)
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["json"] == {"error": "Not found"}
