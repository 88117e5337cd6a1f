"""Where to connect: DATABASE_URL, or a secret in AWS Secrets Manager.

The secret may hold a plain PostgreSQL URL, or the JSON RDS writes for a
database (host, port, username, password, dbname). It is read through
Powertools Parameters, whose cache lives at module level and so survives warm
invocations; boto3 is imported only when a secret is actually configured.
"""

from __future__ import annotations

import json
import time
from typing import Any

from psycopg.conninfo import make_conninfo

from appointments.errors import ConfigurationError, DatabaseUnavailable
from appointments.settings import Settings

_RDS_FIELDS = {"host": "host", "port": "port", "username": "user", "password": "password"}

# A refresh is asked for after any failed connection; while the database is
# down, that would be one GetSecretValue per request. At most one per interval.
MIN_REFRESH_INTERVAL_S = 30.0
_last_refresh = float("-inf")  # module level: per container, across invocations


def database_url(settings: Settings, *, refresh: bool = False) -> str:
    """The connection string; `refresh` bypasses the cache after a rotation."""
    global _last_refresh
    if refresh and time.monotonic() - _last_refresh < MIN_REFRESH_INTERVAL_S:
        refresh = False
    if settings.database_secret_arn:
        if refresh:
            _last_refresh = time.monotonic()
        secret = _read_secret(settings.database_secret_arn, settings.secret_max_age, refresh)
        return url_from_secret(secret, settings.sslmode)
    assert settings.database_url  # Settings guarantees one of the two
    return settings.database_url


def url_from_secret(secret: str, sslmode: str) -> str:
    """A connection string from either secret shape. Errors never quote the secret."""
    text = secret.strip()
    if text.startswith(("postgres://", "postgresql://")):
        return text
    try:
        fields: Any = json.loads(text)
    except ValueError:
        raise ConfigurationError("the database secret is neither a URL nor JSON") from None
    if not isinstance(fields, dict) or not set(_RDS_FIELDS) <= fields.keys():
        raise ConfigurationError(
            "the database secret's JSON needs host, port, username and password"
        )
    params = {libpq: str(fields[key]) for key, libpq in _RDS_FIELDS.items()}
    params["dbname"] = str(fields.get("dbname") or "postgres")
    return make_conninfo("", sslmode=sslmode, **params)


def _read_secret(arn: str, max_age: int, refresh: bool) -> str:
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_secret(arn, max_age=max_age, force_fetch=refresh)
    except parameters.exceptions.GetParameterError as error:
        # Missing, forbidden, throttled or unreachable: the cause is logged by
        # the caller; the client only ever learns "Service unavailable".
        raise DatabaseUnavailable("cannot read the database secret") from error
    if not isinstance(value, str):
        raise ConfigurationError("the database secret must be text, not binary")
    return value
