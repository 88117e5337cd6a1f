"""The database URL from AWS Secrets Manager (moto), through the real handlers.

Secrets Manager is simulated by moto; the database is the real one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from moto.core import enable_iam_authentication
from psycopg.conninfo import conninfo_to_dict

from appointments.data import database
from appointments.platform import credentials, settings
from tests.conftest import Invoke, Printed

SLOTS_OK = {
    "available_times": ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto Secrets Manager, and no secret or connection cached from before."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    credentials.secrets_provider.cache_clear()  # its boto3 client belongs to one mock
    monkeypatch.setattr(credentials, "_last_refresh", float("-inf"))
    database.close()
    with mock_aws():
        yield boto3.client("secretsmanager")
    credentials.secrets_provider.cache_clear()
    database.close()
    settings.get_settings.cache_clear()


@pytest.fixture
def secret_fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The secret ids actually fetched from Secrets Manager (cache misses)."""
    fetched: list[str] = []
    original = parameters.SecretsProvider._get

    def counting_get(self: parameters.SecretsProvider, name: str, **options: Any) -> Any:
        fetched.append(name)
        return original(self, name, **options)

    monkeypatch.setattr(parameters.SecretsProvider, "_get", counting_get)
    return fetched


def use_secret(monkeypatch: pytest.MonkeyPatch, arn: str) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
    settings.get_settings.cache_clear()
    database.close()


def rds_shaped(database_url: str, **overrides: str) -> str:
    """The JSON RDS stores for a database, pointing at the test server."""
    params = conninfo_to_dict(database_url)
    fields = {
        "engine": "postgres",
        "host": params.get("host", "localhost"),
        "port": int(params.get("port") or 5432),
        "username": params.get("user", "postgres"),
        "password": params.get("password") or "unused-by-trust-auth",
        "dbname": params.get("dbname", "postgres"),
    }
    return json.dumps({**fields, **overrides})


def test_a_secret_holding_a_url_is_used(
    aws: Any, database_url: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = aws.create_secret(Name="db-url", SecretString=database_url)["ARN"]
    use_secret(monkeypatch, arn)
    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    assert (response["statusCode"], response["json"]) == (200, SLOTS_OK)


def test_a_secret_in_rds_json_shape_is_used(
    aws: Any, database_url: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = aws.create_secret(Name="db-rds", SecretString=rds_shaped(database_url))["ARN"]
    use_secret(monkeypatch, arn)
    response = invoke(
        "bookings",
        "POST",
        "/bookings",
        body=json.dumps({"user_id": "user_alice", "date": "2024-01-20", "time": "10:00"}),
    )
    assert response["statusCode"] == 200


def test_a_secret_rds_manages_for_a_master_password_uses_the_host_from_the_stack(
    aws: Any, database_url: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RDS's managed master-password secret holds only username and password."""
    params = conninfo_to_dict(database_url)
    secret = {"username": params.get("user", "postgres"), "password": "unused-by-trust-auth"}
    arn = aws.create_secret(Name="db-managed", SecretString=json.dumps(secret))["ARN"]
    monkeypatch.setenv("DB_HOST", str(params.get("host")))
    monkeypatch.setenv("DB_PORT", str(params.get("port") or 5432))
    monkeypatch.setenv("DB_NAME", str(params.get("dbname")))
    use_secret(monkeypatch, arn)
    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    assert (response["statusCode"], response["json"]) == (200, SLOTS_OK)


def test_a_secret_without_a_host_and_no_host_configured_is_a_clear_error(
    aws: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, stdout_json: Printed
) -> None:
    secret = {"username": "app", "password": "hunter2-in-a-secret"}
    arn = aws.create_secret(Name="db-no-host", SecretString=json.dumps(secret))["ARN"]
    monkeypatch.delenv("DB_HOST", raising=False)
    use_secret(monkeypatch, arn)
    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")

    printed = stdout_json()
    assert (response["statusCode"], response["json"]) == (500, {"error": "Internal server error"})
    [error] = [r for r in printed if r.get("level") == "ERROR"]
    assert "names no host: set DatabaseHost" in error["message"]
    assert "hunter2" not in json.dumps(printed)


def test_the_secret_is_fetched_once_across_warm_invocations_and_reconnects(
    aws: Any,
    database_url: str,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    secret_fetches: list[str],
) -> None:
    arn = aws.create_secret(Name="db-cached", SecretString=database_url)["ARN"]
    use_secret(monkeypatch, arn)
    for _ in range(5):
        assert invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")["statusCode"] == 200
    database.close()  # a new connection (a dead one, a thawed container) reuses the cache
    assert invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")["statusCode"] == 200
    assert secret_fetches == [arn]


@pytest.fixture
def rotating_roles(db: psycopg.Connection) -> Iterator[tuple[str, str]]:
    """Two login roles able to read bookings, as RDS's alternating-users rotation keeps."""
    roles = ("rotation_user_a", "rotation_user_b")
    for role in roles:
        db.execute(f"DROP ROLE IF EXISTS {role}")
        db.execute(f"CREATE ROLE {role} LOGIN")
        db.execute(f"GRANT SELECT ON bookings TO {role}")
    yield roles
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY(%s)",
        [list(roles)],
    )
    for role in roles:
        db.execute(f"REVOKE ALL ON bookings FROM {role}")
        db.execute(f"DROP ROLE {role}")


def test_a_rotated_secret_is_read_again_after_an_authentication_failure(
    aws: Any,
    database_url: str,
    db: psycopg.Connection,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    secret_fetches: list[str],
    rotating_roles: tuple[str, str],
) -> None:
    old_user, new_user = rotating_roles
    arn = aws.create_secret(
        Name="db-rotating", SecretString=rds_shaped(database_url, username=old_user)
    )["ARN"]
    use_secret(monkeypatch, arn)
    assert invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")["statusCode"] == 200

    # Rotation: the secret now names the other user, the old one may no longer log in,
    # and the warm connection is gone (as after a freeze, or a forced disconnect).
    aws.put_secret_value(SecretId=arn, SecretString=rds_shaped(database_url, username=new_user))
    db.execute(f"ALTER ROLE {old_user} NOLOGIN")
    database.close()

    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")
    assert (response["statusCode"], response["json"]) == (200, SLOTS_OK)
    assert secret_fetches == [arn, arn]
    in_use = db.execute(
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE usename = ANY(%s)",
        [list(rotating_roles)],
    ).fetchall()
    assert in_use == [(new_user,)]


def test_a_missing_secret_is_a_503_and_a_clear_log_line(
    aws: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, stdout_json: Printed
) -> None:
    use_secret(monkeypatch, "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf")
    response = invoke("slots", "GET", "/slots", raw_query="date=2024-01-20")

    assert (response["statusCode"], response["json"]) == (503, {"error": "Service unavailable"})
    warning = warnings_in(stdout_json())[-1]
    assert warning["message"] == "cannot read the database secret"
    assert "ResourceNotFoundException" in warning["cause"]
    assert "Traceback" not in response["body"]


def test_a_forbidden_secret_is_a_503_and_a_clear_log_line(
    aws: Any,
    database_url: str,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    stdout_json: Printed,
) -> None:
    arn = aws.create_secret(Name="db-forbidden", SecretString=database_url)["ARN"]
    iam = boto3.client("iam")
    iam.create_user(UserName="no-permissions")
    key = iam.create_access_key(UserName="no-permissions")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    use_secret(monkeypatch, arn)

    with enable_iam_authentication():
        response = invoke(
            "bookings",
            "POST",
            "/bookings",
            body=json.dumps({"user_id": "user_alice", "date": "2024-01-20", "time": "10:00"}),
        )

    assert (response["statusCode"], response["json"]) == (503, {"error": "Service unavailable"})
    warning = warnings_in(stdout_json())[-1]
    assert warning["message"] == "cannot read the database secret"
    assert "AccessDenied" in warning["cause"]


def warnings_in(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record.get("level") == "WARNING"]


def test_reading_the_secret_is_bounded_well_inside_the_function_timeout(aws: Any) -> None:
    """botocore's defaults (60 s + 60 s, retried) would let one read outlive the invocation."""
    config = credentials.secrets_provider().client.meta.config
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) <= 6  # of a 9 s deadline
