"""Where to connect: DATABASE_URL, or a secret in AWS Secrets Manager.

The secret may hold a plain PostgreSQL URL, or the JSON RDS writes for a
database (host, port, username, password, dbname). It is read through
Powertools Parameters, whose cache lives at module level and so survives warm
invocations; boto3 is imported only when a secret is actually configured.
"""

from __future__ import annotations

import json
import os
import time
from functools import cache
from typing import Any

from psycopg.conninfo import make_conninfo

from appointments.errors import ConfigurationError, DatabaseUnavailable
from appointments.platform import redaction
from appointments.platform.connection_url import URL_SCHEMES, conninfo_from_url
from appointments.platform.observability import logger
from appointments.platform.settings import Settings

# With a secret configured, boto3 and Powertools Parameters load during INIT
# (inside a SnapStart snapshot, before the first request) rather than in it.
if os.environ.get("DATABASE_SECRET_ARN"):
    from aws_lambda_powertools.utilities import parameters  # noqa: F401

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
            logger.warning("reading the database secret again: the cached value may be stale")
        secret = _read_secret(settings.database_secret_arn, settings.secret_max_age, refresh)
        return url_from_secret(secret, settings)
    assert settings.database_url  # Settings guarantees one of the two
    return conninfo_from_url(settings.database_url)


def url_from_secret(secret: str, settings: Settings) -> str:
    """A connection string from either secret shape. Errors never quote the secret."""
    text = secret.strip()
    if text.startswith(URL_SCHEMES):
        return conninfo_from_url(text)
    try:
        fields: Any = json.loads(text)
    except ValueError:
        raise ConfigurationError("the database secret is neither a URL nor JSON") from None
    if not isinstance(fields, dict) or not {"username", "password"} <= fields.keys():
        raise ConfigurationError("the database secret's JSON needs username and password")
    host = fields.get("host") or settings.default_host
    if not host:
        raise ConfigurationError("the database secret names no host: set DatabaseHost (DB_HOST)")
    redaction.register(str(fields["password"]))
    return make_conninfo(
        "",
        host=str(host),
        port=str(fields.get("port") or settings.default_port),
        user=str(fields["username"]),
        password=str(fields["password"]),
        dbname=str(fields.get("dbname") or settings.default_dbname),
        sslmode=settings.sslmode,
    )


@cache
def secrets_provider() -> Any:
    """The container's Secrets Manager client, bounded to a few seconds in all.

    botocore's defaults (60 s to connect, 60 s to read, retries) would let a
    secret read outlive the invocation; Secrets Manager answers in tens of ms.
    Cached: the client and the Powertools cache live across warm invocations.
    """
    from aws_lambda_powertools.utilities import parameters
    from botocore.config import Config  # type: ignore[import-untyped]

    bounded = Config(
        connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"}
    )
    return parameters.SecretsProvider(boto_config=bounded)


def _read_secret(arn: str, max_age: int, refresh: bool) -> str:
    from aws_lambda_powertools.utilities import parameters

    try:
        value = secrets_provider().get(arn, max_age=max_age, force_fetch=refresh)
    except parameters.exceptions.GetParameterError as error:
        # Missing, forbidden, throttled or unreachable: the cause is logged by
        # the caller; the client only ever learns "Service unavailable".
        raise DatabaseUnavailable("cannot read the database secret") from error
    if not isinstance(value, str):
        raise ConfigurationError("the database secret must be text, not binary")
    return value
