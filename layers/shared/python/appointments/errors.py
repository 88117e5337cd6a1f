"""Failures that cross layers. Free of heavy imports so any handler may use it."""

from __future__ import annotations


class ClientError(ValueError):
    """A request the client must fix: answered `status` with `{"error": message}`.

    `outcome` names it in the request's log line and as a business metric. A
    ValueError, so that pydantic validators may raise it and it survives
    validation with its message and outcome intact.
    """

    def __init__(self, message: str, *, outcome: str = "InvalidRequest", status: int = 400):
        super().__init__(message)
        self.message = message
        self.outcome = outcome
        self.status = status


class ConfigurationError(RuntimeError):
    """The function was deployed without a setting it needs."""


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or did not answer in time."""
