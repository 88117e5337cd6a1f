"""A shop's catalogue, public: GET /shops/{shop_id}, its /services and its /resources.

Each answer is one statement. An id no shop could have is not looked up: it is
"Shop not found" all the same. The views' `shop_id` argument is the router's,
still percent-encoded: _looked_up reads the decoded one API Gateway hands on.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from appointments.api.catalogue_views import SHOP_NOT_FOUND, shop_body
from appointments.api.web import create_resolver, entrypoint
from appointments.data import catalogue_records
from appointments.domain.catalogue import is_catalogue_id

app = create_resolver()


Found = TypeVar("Found")


@app.get("/shops/<shop_id>")
def get_shop(shop_id: str) -> Any:
    found = _looked_up(catalogue_records.find_shop)
    return shop_body(found.shop_id, found)


@app.get("/shops/<shop_id>/services")
def list_services(shop_id: str) -> Any:
    services = _looked_up(catalogue_records.list_services)
    return {
        "services": [
            {
                "service_id": service.service_id,
                "name": service.name,
                "duration_minutes": service.duration_minutes,
                "buffer_before_minutes": service.buffer_before_minutes,
                "buffer_after_minutes": service.buffer_after_minutes,
                "step_minutes": service.step_minutes,
                "resource_ids": service.resource_ids,
            }
            for service in services
        ]
    }


@app.get("/shops/<shop_id>/resources")
def list_resources(shop_id: str) -> Any:
    resources = _looked_up(catalogue_records.list_resources)
    return {
        "resources": [
            {
                "resource_id": resource.resource_id,
                "name": resource.name,
                "opening_hours": resource.opening_hours,
            }
            for resource in resources
        ]
    }


def _looked_up(lookup: Callable[[str], Found | None]) -> Found:
    """What `lookup` finds for the path's shop, or "Shop not found".

    The shop id is taken as API Gateway decoded it: the router matches the raw
    path, so its argument is still percent-encoded.
    """
    shop_id = str(app.request.path_parameters.get("shop_id", ""))
    found = lookup(shop_id) if is_catalogue_id(shop_id) else None
    if found is None:
        raise SHOP_NOT_FOUND
    return found


handler = entrypoint(app)
