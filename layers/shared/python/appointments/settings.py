"""Configuration, read from the environment once per container."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from appointments.errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    database_url: str
    # Seconds to wait for a TCP/TLS connection. Well under the function timeout,
    # so a database that is down answers 503 instead of a Lambda timeout.
    connect_timeout: int


@cache
def get_settings() -> Settings:
    """The container's settings; cached because the environment cannot change."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise ConfigurationError("DATABASE_URL is not set")
    return Settings(
        database_url=url,
        connect_timeout=int(os.environ.get("DB_CONNECT_TIMEOUT", "5")),
    )
