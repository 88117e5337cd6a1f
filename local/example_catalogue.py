"""`make dev DEV_ARGS=--example-catalogue`: a workshop to try the catalogue on.

Shop `north` (Lisbon, weekdays and Saturday mornings) with three bays and two
mechanics, Ana (weekdays until 16:00, a summer holiday) and Rui (from 10:00,
Saturday mornings too); an oil change on the bays, a diagnosis by a mechanic.
Written through the same checks and statements as the administration routes
(api/catalogue_bodies.py, data/catalogue_changes.py), so it is what a PUT of
each would make; run again, it replaces the same things.
"""

from __future__ import annotations

import sys
from typing import Any

SHOP_ID = "north"
SHOP: dict[str, Any] = {
    "name": "North workshop",
    "time_zone": "Europe/Lisbon",
    "opening_hours": "Mon-Fri 08:00-18:00; Sat 09:00-13:00",
    "closed_dates": ["2030-12-25"],
    "minimum_notice_minutes": 60,
}
RESOURCES: dict[str, dict[str, Any]] = {
    "bay-1": {"name": "Bay 1"},
    "bay-2": {"name": "Bay 2"},
    "bay-3": {"name": "Bay 3"},
    "ana": {
        "name": "Ana",
        "opening_hours": "Mon-Fri 08:00-16:00",
        "time_off": [
            {
                "time_off_id": "summer",
                "starts_at": "2030-08-01T00:00:00+01:00",
                "ends_at": "2030-08-15T00:00:00+01:00",
            }
        ],
    },
    "rui": {"name": "Rui", "opening_hours": "Mon-Fri 10:00-18:00; Sat 09:00-13:00"},
}
SERVICES: dict[str, dict[str, Any]] = {
    "oil-change": {
        "name": "Oil change",
        "duration_minutes": 30,
        "buffer_after_minutes": 10,
        "resource_ids": ["bay-1", "bay-2", "bay-3"],
    },
    "diagnosis": {
        "name": "Diagnosis",
        "duration_minutes": 60,
        "buffer_before_minutes": 15,
        "step_minutes": 30,
        "resource_ids": ["ana", "rui"],
    },
}


def write() -> str:
    """Put the workshop in the database of DATABASE_URL; a line saying what it is."""
    from appointments.api.catalogue_bodies import ResourceBody, ServiceBody, ShopBody
    from appointments.data import catalogue_changes as changes

    changes.save_shop(SHOP_ID, ShopBody.from_fields(SHOP))
    for resource_id, fields in RESOURCES.items():
        changes.save_resource(SHOP_ID, resource_id, ResourceBody.from_fields(fields))
    for service_id, fields in SERVICES.items():
        changes.save_service(SHOP_ID, service_id, ServiceBody.from_fields(fields))
    return (
        f"example catalogue: shop {SHOP_ID} ({', '.join(RESOURCES)};"
        f" services {', '.join(SERVICES)}): try /shops/{SHOP_ID}/services"
    )


if __name__ == "__main__":
    print(write())
    sys.exit(0)
