"""PostgreSQL URLs read the way a person writes them, with their passwords registered.

Apart from credentials so that the local tools can use the same rule without
loading the functions' logger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from appointments.errors import ConfigurationError
from appointments.platform import redaction

URL_SCHEMES = ("postgresql://", "postgres://")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


@dataclass(frozen=True)
class UrlParts:
    scheme: str  # "postgresql://"
    user: str  # as written
    password: str | None  # as written; None when the URL has none
    location: str  # what follows the user info: host, port, database, options


def split_url(url: str) -> UrlParts | None:
    """A PostgreSQL URL's parts, the user info ending at its last `@`; None if it has none.

    libpq ends the user info at the first `@`, so a password holding a raw `@`
    or `/` is cut there and its rest taken for the host name, which then turns
    up in error messages. People who paste a password into a URL mean the last.
    (An `@` in the query string is therefore read as part of the password:
    percent-encode it there, `%40`.)
    """
    scheme = next((prefix for prefix in URL_SCHEMES if url.startswith(prefix)), None)
    if scheme is None or "@" not in url:
        return None
    user_info, _, location = url[len(scheme) :].rpartition("@")
    user, has_password, password = user_info.partition(":")
    return UrlParts(scheme, user, password if has_password else None, location)


def conninfo_from_url(url: str) -> str:
    """libpq's connection string for a PostgreSQL URL, read the way a person means it.

    See split_url. The password is taken as written unless it is valid
    percent-encoding (then it is decoded, as libpq would), and registered for
    redaction. Anything that is not a URL (libpq's `key=value` form) is passed
    through.
    """
    url = url.strip()  # a pasted value often brings a newline along
    parts = split_url(url)
    if parts is None:
        _register_password_of(url)
        return url
    if parts.password is not None:
        redaction.register(parts.password)
        redaction.register(_decoded(parts.password))
    try:
        params = conninfo_to_dict(parts.scheme + parts.location)  # no password left to quote
    except psycopg.ProgrammingError as error:
        raise ConfigurationError(f"the database URL is not valid: {error}") from None
    if parts.user:
        params["user"] = _decoded(parts.user)
    if parts.password is not None:
        params["password"] = _decoded(parts.password)
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
