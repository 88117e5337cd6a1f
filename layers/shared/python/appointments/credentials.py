"""Where to connect: DATABASE_URL, or a secret in AWS Secrets Manager.

The secret may hold a plain PostgreSQL URL, or the JSON RDS writes for a
database (host, port, username, password, dbname). It is read through
Powertools Parameters, whose cache lives at module level and so survives warm
invocations; boto3 is imported only when a secret is actually configured.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from appointments import redaction
from appointments.errors import ConfigurationError, DatabaseUnavailable
from appointments.observability import logger
from appointments.settings import Settings

# With a secret configured, boto3 and Powertools Parameters load during INIT
# (inside a SnapStart snapshot, before the first request) rather than in it.
if os.environ.get("DATABASE_SECRET_ARN"):
    from aws_lambda_powertools.utilities import parameters  # noqa: F401

# A refresh is asked for after any failed connection; while the database is
# down, that would be one GetSecretValue per request. At most one per interval.
MIN_REFRESH_INTERVAL_S = 30.0
_last_refresh = float("-inf")  # module level: per container, across invocations

_URL_SCHEMES = ("postgresql://", "postgres://")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


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


def conninfo_from_url(url: str) -> str:
    """libpq's connection string for a PostgreSQL URL, read the way a person means it.

    libpq ends the user info at the first `@`, so a password holding a raw `@`
    or `/` is cut there and its rest taken for the host name, which then turns
    up in error messages. Here the last `@` ends the user info, and the
    password is taken as written unless it is valid percent-encoding (then it
    is decoded, as libpq would). The password is registered for redaction.
    Anything that is not a URL (libpq's `key=value` form) is passed through.
    """
    scheme = next((prefix for prefix in _URL_SCHEMES if url.startswith(prefix)), None)
    if scheme is None or "@" not in url:
        _register_password_of(url)
        return url
    user_info, _, location = url[len(scheme) :].rpartition("@")
    user, has_password, password = user_info.partition(":")
    if has_password:
        redaction.register(password)
        redaction.register(_decoded(password))
    try:
        params = conninfo_to_dict(scheme + location)  # holds no password left to quote
    except psycopg.ProgrammingError as error:
        raise ConfigurationError(f"the database URL is not valid: {error}") from None
    if user:
        params["user"] = _decoded(user)
    if has_password:
        params["password"] = _decoded(password)
    return make_conninfo("", **params)


def _decoded(text: str) -> str:
    """Percent-decoded if every `%` in it starts an escape; else exactly as written."""
    if "%" in _PERCENT_ESCAPE.sub("", text):
        return text
    return unquote(text)


def _register_password_of(conninfo: str) -> None:
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except psycopg.ProgrammingError:
        return  # connect() refuses it without quoting it
    if password:
        redaction.register(str(password))


def url_from_secret(secret: str, settings: Settings) -> str:
    """A connection string from either secret shape. Errors never quote the secret."""
    text = secret.strip()
    if text.startswith(_URL_SCHEMES):
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
