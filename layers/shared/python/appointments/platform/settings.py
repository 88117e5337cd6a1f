"""Configuration, read from the environment once per container."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from appointments.errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    # Exactly one of the two says where the database is. The secret wins: in
    # AWS, DATABASE_URL is only for stacks deployed without Secrets Manager.
    database_url: str | None
    database_secret_arn: str | None
    # Seconds to wait for a TCP/TLS connection. Well under the function timeout,
    # so a database that is down answers 503 instead of a Lambda timeout.
    connect_timeout: int
    # For a secret in RDS's JSON shape, what it may not say: the TLS mode
    # (never there), and where the database is (absent from the secret RDS
    # manages for a master password). A URL carries all of these itself.
    sslmode: str
    default_host: str | None
    default_port: int
    default_dbname: str
    # The secret is only read to (re)connect; a rotation is noticed by the
    # authentication failure it causes, so a long cache costs nothing.
    secret_max_age: int
    # The statement_timeout the migrate function stores on the database.
    statement_timeout_ms: int


@cache
def get_settings() -> Settings:
    """The container's settings; cached because the environment cannot change."""
    url = os.environ.get("DATABASE_URL") or None
    secret_arn = os.environ.get("DATABASE_SECRET_ARN") or None
    if not (url or secret_arn):
        raise ConfigurationError("set DATABASE_URL or DATABASE_SECRET_ARN")
    return Settings(
        database_url=url,
        database_secret_arn=secret_arn,
        connect_timeout=_integer("DB_CONNECT_TIMEOUT", 5),
        sslmode=os.environ.get("DB_SSLMODE", "require"),
        default_host=os.environ.get("DB_HOST") or None,
        default_port=_integer("DB_PORT", 5432),
        default_dbname=os.environ.get("DB_NAME") or "postgres",
        secret_max_age=_integer("DB_SECRET_MAX_AGE", 3600),
        statement_timeout_ms=_integer("DB_STATEMENT_TIMEOUT_MS", 5000),
    )


def _integer(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from None
