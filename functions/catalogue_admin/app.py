"""Administration of the catalogue: PUT, GET and DELETE a shop's resources and
services, PUT and DELETE a shop (GET /shops/{shop_id} is public: the catalogue
function's).

Behind API Gateway's IAM authorizer, like /users: the function checks that the
authorizer's verdict is in the event, then the request. A PUT carries the whole
thing and creates it (201) or replaces it (200); a DELETE answers the ids of
what went, or 409 while confirmed bookings of it are still to come. The
default shop is the template's: its changes are refused, naming the
parameters that make it.
"""

from http import HTTPStatus
from typing import Any

from appointments import messages
from appointments.api import auth
from appointments.api.catalogue_views import (
    RESOURCE_NOT_FOUND,
    SERVICE_NOT_FOUND,
    SHOP_NOT_FOUND,
    shop_body,
)
from appointments.api.models import parse_body
from appointments.api.web import create_resolver, entrypoint, json_response
from appointments.data import catalogue_changes as changes
from appointments.data.default_catalogue import DEFAULT_SHOP_ID
from appointments.domain.catalogue import is_catalogue_id
from appointments.domain.schedule import rfc3339_utc
from appointments.errors import ClientError
from appointments.platform.observability import record_outcome

app = create_resolver()

# BODIES: each PUT imports its body's checks itself; they (and the shop's
# hours parser under them) are ~6 ms of a cold start that GETs and DELETEs
# never use.

DEFAULT_SHOP_IS_CONFIGURED = ClientError(
    messages.DEFAULT_SHOP_IS_CONFIGURED, outcome="DefaultShopRefused", status=409
)


# --- Shops -------------------------------------------------------------------------


@app.put("/shops/<shop_id>")
def put_shop(shop_id: str) -> Any:
    shop_id = _changeable_shop()
    from appointments.api.catalogue_bodies import MAX_BODY_BYTES, ShopBody  # see BODIES

    shop = parse_body(app.request.body(), ShopBody, MAX_BODY_BYTES)
    saved = changes.save_shop(shop_id, shop)
    return _saved_answer(saved, "Shop", shop_body(shop_id, shop))


@app.delete("/shops/<shop_id>")
def delete_shop(shop_id: str) -> Any:
    shop_id = _changeable_shop()
    return _deleted_answer(changes.delete_shop(shop_id), "Shop", {"shop_id": shop_id})


# --- Resources ---------------------------------------------------------------------


@app.put("/shops/<shop_id>/resources/<resource_id>")
def put_resource(shop_id: str, resource_id: str) -> Any:
    shop_id, resource_id = _changeable_shop(), _path_id("resource_id", RESOURCE_NOT_FOUND)
    from appointments.api.catalogue_bodies import MAX_BODY_BYTES, ResourceBody  # see BODIES

    resource = parse_body(app.request.body(), ResourceBody, MAX_BODY_BYTES)
    saved = changes.save_resource(shop_id, resource_id, resource)
    return _saved_answer(saved, "Resource", _resource_body(shop_id, resource_id, resource))


@app.get("/shops/<shop_id>/resources/<resource_id>")
def get_resource(shop_id: str, resource_id: str) -> Any:
    shop_id, resource_id = _shop_path_id(), _path_id("resource_id", RESOURCE_NOT_FOUND)
    found = _found(changes.find_resource(shop_id, resource_id), RESOURCE_NOT_FOUND)
    return _resource_body(shop_id, resource_id, found)


@app.delete("/shops/<shop_id>/resources/<resource_id>")
def delete_resource(shop_id: str, resource_id: str) -> Any:
    shop_id, resource_id = _changeable_shop(), _path_id("resource_id", RESOURCE_NOT_FOUND)
    outcome = changes.delete_resource(shop_id, resource_id)
    if isinstance(outcome, changes.NotFound):
        raise RESOURCE_NOT_FOUND
    return _deleted_answer(outcome, "Resource", {"shop_id": shop_id, "resource_id": resource_id})


# --- Services ----------------------------------------------------------------------


@app.put("/shops/<shop_id>/services/<service_id>")
def put_service(shop_id: str, service_id: str) -> Any:
    shop_id, service_id = _changeable_shop(), _path_id("service_id", SERVICE_NOT_FOUND)
    from appointments.api.catalogue_bodies import MAX_BODY_BYTES, ServiceBody  # see BODIES

    service = parse_body(app.request.body(), ServiceBody, MAX_BODY_BYTES)
    saved = changes.save_service(shop_id, service_id, service)
    if isinstance(saved, changes.ResourcesMissing):
        raise ClientError(messages.unknown_resources(saved.resource_ids))
    return _saved_answer(saved, "Service", _service_body(shop_id, service_id, service))


@app.get("/shops/<shop_id>/services/<service_id>")
def get_service(shop_id: str, service_id: str) -> Any:
    shop_id, service_id = _shop_path_id(), _path_id("service_id", SERVICE_NOT_FOUND)
    found = _found(changes.find_service(shop_id, service_id), SERVICE_NOT_FOUND)
    return _service_body(shop_id, service_id, found)


@app.delete("/shops/<shop_id>/services/<service_id>")
def delete_service(shop_id: str, service_id: str) -> Any:
    shop_id, service_id = _changeable_shop(), _path_id("service_id", SERVICE_NOT_FOUND)
    outcome = changes.delete_service(shop_id, service_id)
    if isinstance(outcome, changes.NotFound):
        raise SERVICE_NOT_FOUND
    return _deleted_answer(outcome, "Service", {"shop_id": shop_id, "service_id": service_id})


# --- Webhooks (docs/events.md#webhooks) ------------------------------------------------

WEBHOOK_NOT_FOUND = ClientError(messages.WEBHOOK_NOT_FOUND, outcome="WebhookNotFound", status=404)


@app.put("/shops/<shop_id>/webhooks/<webhook_id>")
def put_webhook(shop_id: str, webhook_id: str) -> Any:
    """Subscribe (201, with the signing secret, shown this once) or change a subscription
    (200; its secret stays, and a disabled one is enabled again)."""
    from appointments.api import webhook_views  # see BODIES
    from appointments.data import webhook_records

    shop_id, webhook_id = _shop_path_id(), _path_id("webhook_id", WEBHOOK_NOT_FOUND)
    body = parse_body(app.request.body(), webhook_views.WebhookBody, webhook_views.MAX_BODY_BYTES)
    saved = webhook_records.save(shop_id, webhook_id, body.url, body.event_types)
    if saved is None:
        raise SHOP_NOT_FOUND
    created = saved.new_secret is not None
    record_outcome("WebhookCreated" if created else "WebhookReplaced")
    status = HTTPStatus.CREATED if created else HTTPStatus.OK
    return json_response(status, webhook_views.saved_shown(saved))


@app.get("/shops/<shop_id>/webhooks/<webhook_id>")
def get_webhook(shop_id: str, webhook_id: str) -> Any:
    from appointments.api import webhook_views
    from appointments.data import webhook_records

    shop_id, webhook_id = _shop_path_id(), _path_id("webhook_id", WEBHOOK_NOT_FOUND)
    webhook = webhook_records.find(shop_id, webhook_id)
    if webhook is None:
        raise WEBHOOK_NOT_FOUND
    return webhook_views.webhook_shown(webhook)


@app.delete("/shops/<shop_id>/webhooks/<webhook_id>")
def delete_webhook(shop_id: str, webhook_id: str) -> Any:
    """Unsubscribe: its deliveries still pending are dropped with it."""
    from appointments.data import webhook_records

    shop_id, webhook_id = _shop_path_id(), _path_id("webhook_id", WEBHOOK_NOT_FOUND)
    if webhook_records.delete(shop_id, webhook_id) is None:
        raise WEBHOOK_NOT_FOUND
    record_outcome("WebhookDeleted")
    return {"shop_id": shop_id, "webhook_id": webhook_id}


# --- The path, and the answers -----------------------------------------------------


def _shop_path_id() -> str:
    """The signed request's shop id, as API Gateway decoded it ("Shop not found" if impossible).

    The router's arguments are still percent-encoded: the decoded ones are read instead.
    """
    auth.require_iam(app.request.event)
    return _path_id("shop_id", SHOP_NOT_FOUND)


def _changeable_shop() -> str:
    shop_id = _shop_path_id()
    if shop_id == DEFAULT_SHOP_ID:
        raise DEFAULT_SHOP_IS_CONFIGURED
    return shop_id


def _path_id(name: str, not_found: ClientError) -> str:
    value = str(app.request.path_parameters.get(name, ""))
    if not is_catalogue_id(value):
        raise not_found  # an id nothing could have is not looked up
    return value


def _found(
    outcome: changes.Resource | changes.Service | changes.NotFound | changes.ShopMissing,
    not_found: ClientError,
) -> Any:
    if isinstance(outcome, changes.ShopMissing):
        raise SHOP_NOT_FOUND
    if isinstance(outcome, changes.NotFound):
        raise not_found
    return outcome


def _saved_answer(
    saved: changes.Saved | changes.ShopMissing, kind: str, body: dict[str, Any]
) -> Any:
    if isinstance(saved, changes.ShopMissing):
        raise SHOP_NOT_FOUND
    record_outcome(f"{kind}Created" if saved.created else f"{kind}Replaced")
    return json_response(HTTPStatus.CREATED if saved.created else HTTPStatus.OK, body)


def _deleted_answer(
    outcome: changes.Deleted | changes.StillBooked | changes.ShopMissing,
    kind: str,
    ids: dict[str, str],
) -> Any:
    if isinstance(outcome, changes.ShopMissing):
        raise SHOP_NOT_FOUND
    if isinstance(outcome, changes.StillBooked):
        raise ClientError(
            messages.still_booked(kind.lower(), outcome.future_bookings),
            outcome="StillBooked",
            status=409,
        )
    record_outcome(f"{kind}Deleted")
    return ids


def _resource_body(shop_id: str, resource_id: str, resource: changes.Resource) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "resource_id": resource_id,
        "name": resource.name,
        "opening_hours": resource.opening_hours,
        "time_off": [
            {
                "time_off_id": period.time_off_id,
                "starts_at": rfc3339_utc(period.starts_at),
                "ends_at": rfc3339_utc(period.ends_at),
            }
            for period in sorted(resource.time_off, key=lambda p: (p.starts_at, p.time_off_id))
        ],
    }


def _service_body(shop_id: str, service_id: str, service: changes.Service) -> dict[str, Any]:
    return {"shop_id": shop_id, "service_id": service_id, **vars(service)}


handler = entrypoint(app)
