"""How the catalogue crosses HTTP, the same from every function that shows it:
its "not found" answers, a shop as JSON, and which part of a request naming a
service was wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from appointments import messages
from appointments.errors import ClientError

if TYPE_CHECKING:  # only the fields are read: no function imports both records for this
    from appointments.data import catalogue_changes, catalogue_records, service_calendars

SHOP_NOT_FOUND: Final = ClientError(messages.SHOP_NOT_FOUND, outcome="ShopNotFound", status=404)
SERVICE_NOT_FOUND: Final = ClientError(
    messages.SERVICE_NOT_FOUND, outcome="ServiceNotFound", status=404
)
RESOURCE_NOT_FOUND: Final = ClientError(
    messages.RESOURCE_NOT_FOUND, outcome="ResourceNotFound", status=404
)


def shop_body(
    shop_id: str, shop: catalogue_records.Shop | catalogue_changes.Shop
) -> dict[str, Any]:
    """A shop as GET /shops/{shop_id} shows it, and an administrator's PUT answers it."""
    return {
        "shop_id": shop_id,
        "name": shop.name,
        "time_zone": shop.time_zone,
        "opening_hours": shop.opening_hours,
        "closed_dates": [day.isoformat() for day in shop.closed_dates],
        "minimum_notice_minutes": shop.minimum_notice_minutes,
        "booking_horizon_days": shop.booking_horizon_days,
        "hold_seconds": shop.hold_seconds,
        "change_notice_minutes": shop.change_notice_minutes,
    }


def service_of(
    calendar: service_calendars.ServiceCalendar | None, resource_id: str | None
) -> service_calendars.ServiceTimes:
    """The service a calendar was read for, or the error naming what the request got wrong:
    the shop, the service, the resource (`resource_id`, if the request named one)."""
    if calendar is None:
        raise SHOP_NOT_FOUND
    if calendar.service is None:
        raise SERVICE_NOT_FOUND
    if not calendar.resource_exists:
        raise RESOURCE_NOT_FOUND
    if resource_id is not None and not calendar.resources:
        raise ClientError(messages.RESOURCE_CANNOT_PERFORM_SERVICE)
    return calendar.service
