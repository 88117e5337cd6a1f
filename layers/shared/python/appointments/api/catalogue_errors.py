"""The catalogue's "not found" answers, the same from every function that gives them."""

from typing import Final

from appointments import messages
from appointments.errors import ClientError

SHOP_NOT_FOUND: Final = ClientError(messages.SHOP_NOT_FOUND, outcome="ShopNotFound", status=404)
SERVICE_NOT_FOUND: Final = ClientError(
    messages.SERVICE_NOT_FOUND, outcome="ServiceNotFound", status=404
)
RESOURCE_NOT_FOUND: Final = ClientError(
    messages.RESOURCE_NOT_FOUND, outcome="ResourceNotFound", status=404
)
