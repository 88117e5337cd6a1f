"""The default shop's ids and names, which the template's parameters configure.

A module of their own: the booking path names the default shop and its bays
on every request, and should not import the catalogue's records to do so.
"""

from typing import Final

DEFAULT_SHOP_ID: Final = "default"
DEFAULT_SHOP_NAME: Final = "Default shop"
DEFAULT_SERVICE_ID: Final = "appointment"
DEFAULT_SERVICE_NAME: Final = "Appointment"


def default_bay_ids(bay_count: int) -> list[str]:
    """The default shop's resources: bay-1 ... bay-N, the bays of Capacity=N."""
    return [f"bay-{number}" for number in range(1, bay_count + 1)]
