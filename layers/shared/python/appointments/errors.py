"""Failures that cross layers. Free of heavy imports so any handler may use it."""


class ConfigurationError(RuntimeError):
    """The function was deployed without a setting it needs."""


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or did not answer in time."""
