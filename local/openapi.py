"""`make openapi`: the API's OpenAPI 3.1 document, written to openapi.json.

Built from the code's own facts: the routes and their authorizers from
template.yaml (local/template.py), the request bodies from their pydantic
models (appointments.api.schema, which the handlers' validator is tested
against), the error strings
from appointments.messages. Response bodies are described by the pydantic
models below, which mirror what the handlers write (booking_views, the
functions' app.py); the fuzz test (tests/process/test_api_fuzz.py) checks
every answer of the local server against them.

Never imported by a function: the document is built here, at build or test
time, and committed; tests/unit/test_openapi.py fails when it is stale.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from appointments import messages
from appointments.api.booking_views import DEFAULT_LIMIT, MAX_LIMIT, STATUS_FILTERS
from appointments.api.schema import (
    BookingRequest,
    RescheduleRequest,
    ShopBookingRequest,
    SignedInBookingRequest,
    UserUpdate,
)
from appointments.domain import schedule
from local.template import (
    IAM_AUTHORIZER,
    NO_AUTHORIZER,
    TEMPLATE_PATH,
    Route,
    http_routes,
    load_template,
)

REPO = Path(__file__).resolve().parent.parent
DOCUMENT_PATH = REPO / "openapi.json"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
SCHEMAS = "#/components/schemas/{model}"
JSON = "application/json"


class ApiJsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, with times written as the API writes them: HH:MM.

    JSON Schema's "time" format is RFC 3339's 10:00:00Z, which the API refuses.
    """

    def time_schema(self, schema: core_schema.TimeSchema) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": f"^{schedule.TIME_FORM.pattern}$",
            "examples": ["10:00"],
        }


# Response bodies, as the handlers write them.


class Error(BaseModel):
    """Every refusal of ours: a sentence a client can show or match on."""

    error: str


class GatewayError(BaseModel):
    """What API Gateway answers itself, before or instead of a function."""

    message: str


class Health(BaseModel):
    status: Literal["ok"]


class Slots(BaseModel):
    """The day's slot starts with a bay still free, sorted."""

    available_times: list[datetime.time]


class OpenSlot(BaseModel):
    time: datetime.time
    starts_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    ends_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    remaining: int = Field(ge=0, description="Bays still free; 0 when full")


class AvailabilityDay(BaseModel):
    date: datetime.date
    slots: list[OpenSlot] = Field(description="Empty on a closed day")


class Availability(BaseModel):
    time_zone: str = Field(description="The shop's IANA time zone, e.g. Europe/Berlin")
    days: list[AvailabilityDay] = Field(description="Every day of the range, in order")


class OfferedStart(BaseModel):
    time: datetime.time
    starts_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    ends_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    remaining: int = Field(
        ge=0, description="Resources free for the whole block (buffers included); 0 when full"
    )
    resource_ids: list[str] = Field(description="Which, by id")


class ServiceAvailabilityDay(BaseModel):
    date: datetime.date
    slots: list[OfferedStart] = Field(
        description="Each start some resource's hours offer, in order; empty on a closed day"
    )


class ServiceAvailability(BaseModel):
    shop_id: str
    service_id: str
    time_zone: str = Field(description="The shop's IANA time zone, e.g. Europe/Lisbon")
    days: list[ServiceAvailabilityDay] = Field(description="Every day of the range, in order")


class Booked(BaseModel):
    booking_id: str = Field(examples=["booking_7Qx2mJd0TKu3bZkq1sYv4A"])


class MovedFrom(BaseModel):
    """Where a booking was before a move, and who moved it when."""

    date: datetime.date
    time: str = Field(description="HH:MM")
    starts_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    ends_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    resource_id: str | None = Field(default=None, description="Absent for the default shop")
    version: int = Field(description="The booking's version before the move")
    moved_at: datetime.datetime = Field(description="RFC 3339, UTC")
    moved_by: str | None = Field(description="The signed-in caller; null with sign-in off")


class Booking(BaseModel):
    """A booking; `date` and `time` on the shop's wall clock."""

    booking_id: str
    user_id: str
    date: datetime.date
    time: datetime.time
    starts_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    ends_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    status: Literal["confirmed", "cancelled"]
    created_at: datetime.datetime = Field(description="RFC 3339, UTC")
    cancelled_at: datetime.datetime | None = Field(description="RFC 3339, UTC; null if confirmed")
    shop_id: str | None = Field(
        default=None,
        description="The shop, with service_id and resource_id; all three absent for the"
        " default shop's bookings, shown as the first version showed them",
    )
    service_id: str | None = Field(default=None, description="The service booked")
    resource_id: str | None = Field(default=None, description="The resource it keeps busy")
    version: int | None = Field(
        default=None,
        description="1 when made, one more on every change (a cancel, a move); absent for the"
        " default shop's bookings, whose version is in the ETag alone",
    )
    moved_from: list[MovedFrom] | None = Field(
        default=None, description="Where it was before each move, oldest first; absent if never"
    )


class Held(BaseModel):
    """A hold: the slot kept for its user until `expires_at`; `date` and `time` on the
    shop's wall clock."""

    hold_id: str = Field(
        description="Also its booking's id once confirmed",
        examples=["booking_7Qx2mJd0TKu3bZkq1sYv4A"],
    )
    expires_at: datetime.datetime = Field(description="RFC 3339, UTC: when it stops holding")
    shop_id: str = Field(description="`default` for the template's shop")
    service_id: str = Field(description="`appointment` for the template's shop")
    resource_id: str = Field(description="The resource it keeps busy")
    date: datetime.date
    time: str = Field(description="HH:MM")
    starts_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")
    ends_at: datetime.datetime = Field(description="RFC 3339, with the shop's offset")


class Hold(Held):
    """A hold read back, with what became of it."""

    user_id: str
    status: Literal["held", "expired", "released", "confirmed"] = Field(
        description="`held` until `expires_at`; then `expired`, unless released or confirmed"
    )
    booking_id: str | None = Field(
        default=None, description="Once confirmed: its booking (the same id); absent before"
    )


class BookingPage(BaseModel):
    bookings: list[Booking] = Field(description="Oldest slot first (date, time, then id)")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")


class WebhookPut(BaseModel):
    """A subscription: where to post, and which events."""

    url: str = Field(
        description="https:// only; its host must resolve to public addresses alone"
        " (checked now and at every delivery); redirects are not followed."
    )
    event_types: list[
        Literal[
            "booking.confirmed",
            "booking.rescheduled",
            "booking.cancelled",
            "hold.created",
            "hold.confirmed",
            "hold.released",
            "webhook.disabled",
        ]
    ] = Field(min_length=1)


class Webhook(BaseModel):
    shop_id: str
    webhook_id: str
    url: str
    event_types: list[str]
    enabled: bool = Field(description="False once 24 hours of failures disabled it: PUT again")
    failing_since: str | None = Field(description="RFC 3339, UTC: since when every delivery failed")
    disabled_at: str | None
    created_at: str
    updated_at: str


class WebhookCreated(Webhook):
    secret: str = Field(
        description="whsec_…: the signing secret (Standard Webhooks), shown in this answer only"
    )


class CalendarToken(BaseModel):
    """A new calendar feed token, shown once: the old one no longer works."""

    token: str = Field(description="The feed's token: keep it as a password.")
    feed_path: str = Field(
        description="The feed's path, token included: prefix the API's URL and subscribe."
    )


class CalendarTokenRevoked(BaseModel):
    user_id: str
    calendar_feed: Literal[False]


class User(BaseModel):
    user_id: str
    name: str
    created_at: datetime.datetime = Field(description="RFC 3339, UTC")


class Shop(BaseModel):
    """A shop and the settings its availability follows."""

    shop_id: str
    name: str
    time_zone: str = Field(description="IANA time zone, e.g. Europe/Lisbon")
    opening_hours: str = Field(
        description="Weekly hours on the shop's wall clock, as the OpeningHours parameter"
        " writes them",
        examples=["Mon-Fri 08:00-12:00, 13:00-18:00; Sat 09:00-13:00"],
    )
    closed_dates: list[datetime.date] = Field(description="In order")
    minimum_notice_minutes: int | None = Field(description="null: none asked")
    booking_horizon_days: int | None = Field(description="null: no limit")
    hold_seconds: int | None = Field(
        description="How long its holds live; null: the template's HoldSeconds"
    )
    change_notice_minutes: int | None = Field(
        description="A booking starting sooner is neither cancelled nor moved (but by an"
        " admin); null: none (the default shop's is ChangeNoticeMinutes)"
    )


class Service(BaseModel):
    service_id: str
    name: str
    duration_minutes: int = Field(ge=5, le=1440)
    buffer_before_minutes: int = Field(ge=0, le=1440, description="The resource is busy first")
    buffer_after_minutes: int = Field(ge=0, le=1440, description="The resource is busy after")
    step_minutes: int = Field(ge=5, le=1440, description="How often starts step from an opening")
    resource_ids: list[str] = Field(description="The resources that can perform it, by id")


class Services(BaseModel):
    services: list[Service] = Field(description="By id")


class Resource(BaseModel):
    resource_id: str
    name: str
    opening_hours: str = Field(description="Its own weekly hours, or else the shop's")


class Resources(BaseModel):
    resources: list[Resource] = Field(description="By id")


class ShopUpdate(BaseModel):
    """A shop, whole: PUT creates or replaces it."""

    name: str = Field(min_length=1, max_length=200)
    time_zone: str = Field(description="IANA time zone", examples=["Europe/Lisbon"])
    opening_hours: str = Field(
        description="Weekly hours, as the OpeningHours parameter writes them",
        examples=["Mon-Fri 09:00-17:00; Sat 10:00-14:00"],
    )
    closed_dates: list[datetime.date] = Field(default=[], description="Days it is closed")
    minimum_notice_minutes: int | None = Field(default=None, ge=0, le=999_999)
    booking_horizon_days: int | None = Field(default=None, ge=0, le=99_999)
    hold_seconds: int | None = Field(
        default=None, ge=1, le=3600, description="How long its holds live; null: HoldSeconds"
    )
    change_notice_minutes: int | None = Field(
        default=None,
        ge=0,
        le=999_999,
        description="A booking starting sooner is neither cancelled nor moved (but by an"
        " admin); null: no cut-off",
    )


class TimeOffPeriod(BaseModel):
    time_off_id: str = Field(pattern="^[a-z0-9_-]{1,64}$")
    starts_at: datetime.datetime = Field(description="RFC 3339, with an offset")
    ends_at: datetime.datetime = Field(description="RFC 3339, with an offset; after starts_at")


class ResourceUpdate(BaseModel):
    """A resource, whole: PUT creates or replaces it, its time off included."""

    name: str = Field(min_length=1, max_length=200)
    opening_hours: str | None = Field(default=None, description="Its own hours; null: the shop's")
    time_off: list[TimeOffPeriod] = Field(default=[], max_length=200)


class ResourceAdmin(ResourceUpdate):
    shop_id: str
    resource_id: str


class ServiceUpdate(BaseModel):
    """A service, whole: PUT creates or replaces it."""

    name: str = Field(min_length=1, max_length=200)
    duration_minutes: int = Field(ge=5, le=1440)
    buffer_before_minutes: int = Field(default=0, ge=0, le=1440)
    buffer_after_minutes: int = Field(default=0, ge=0, le=1440)
    step_minutes: int | None = Field(default=None, ge=5, le=1440, description="null: its duration")
    resource_ids: list[str] = Field(description="The shop's resources that perform it")


class ServiceAdmin(ServiceUpdate):
    shop_id: str
    service_id: str


class DeletedFromCatalogue(BaseModel):
    """The ids of what was deleted."""

    shop_id: str
    resource_id: str | None = None
    service_id: str | None = None


# (model, mode): request bodies are what the handlers accept, responses what they write.
MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (BookingRequest, "validation"),
    (SignedInBookingRequest, "validation"),
    (ShopBookingRequest, "validation"),
    (RescheduleRequest, "validation"),
    (UserUpdate, "validation"),
    *(
        (model, "serialization")
        for model in (Error, GatewayError, Health, Slots, Availability, Booked, Booking, Held, Hold)
    ),
    (BookingPage, "serialization"),
    (User, "serialization"),
    *((model, "serialization") for model in (Shop, Services, Resources, ServiceAvailability)),
    *((model, "validation") for model in (ShopUpdate, ResourceUpdate, ServiceUpdate)),
    *((model, "serialization") for model in (ResourceAdmin, ServiceAdmin, DeletedFromCatalogue)),
]


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMAS.format(model=model.__name__)}


# Responses.


def json_response(
    description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def calendar_response(description: str) -> dict[str, Any]:
    """A text/calendar answer."""
    return {
        "description": description,
        "content": {"text/calendar": {"schema": {"type": "string"}}},
    }


def refusal(*reasons: str, note: str = "") -> dict[str, Any]:
    """Our `{"error": ...}` answer, its description listing the messages it may carry."""
    listed = "\n".join(f"- {reason}" for reason in reasons)
    described = f"Refused; `error` is one of:\n{listed}" + (f"\n\n{note}" if note else "")
    return json_response(described, schema_ref(Error))


def said(message: str) -> str:
    """A message of appointments.messages, as the description lists it."""
    return f"`{message}`"


def shared(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


SHARED_RESPONSES: dict[str, dict[str, Any]] = {
    "ServiceUnavailable": refusal(
        said(messages.SERVICE_UNAVAILABLE),
        note="The database could not be reached, or did not answer in time.",
    ),
    # The function's own 500, or API Gateway's for an invocation that failed.
    "InternalError": json_response(
        f'`{{"error": "{messages.INTERNAL_ERROR}"}}`, or API Gateway\'s'
        ' `{"message": "Internal Server Error"}` when the invocation itself failed.',
        {"oneOf": [schema_ref(Error), schema_ref(GatewayError)]},
    ),
    "TooLarge": json_response(
        'API Gateway: a body over 10 MB (`{"message": "Request Entity Too Large"}`).',
        schema_ref(GatewayError),
    ),
    "SignInRequired": json_response(
        "Only with sign-in on. API Gateway's JWT authorizer refused the token"
        ' (`{"message": "Unauthorized"}`: missing, expired, wrong issuer or audience),'
        " or the route reached the function without claims"
        f' (`{{"error": "{messages.UNAUTHORIZED}"}}`).',
        {"oneOf": [schema_ref(GatewayError), schema_ref(Error)]},
    ),
    "SignatureRefused": json_response(
        "API Gateway's IAM authorizer: no SigV4 signature (`Forbidden`), one that does not"
        " verify, an expired one, or a principal not allowed execute-api:Invoke.",
        schema_ref(GatewayError),
    ),
}

# Statuses every operation of a function may answer, beyond its own.
DATABASE_FAILURES = {"500": shared("InternalError"), "503": shared("ServiceUnavailable")}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the recorded answer to an earlier request with the"
        " same Idempotency-Key; absent otherwise.",
        "required": False,
        "schema": {"type": "string", "const": "true"},
    }
}

VERSION_HEADER = {
    "ETag": {
        "description": 'The booking\'s version as a strong entity tag, e.g. `"1"`: send it as'
        " `If-Match` to change the booking only as it is.",
        "required": True,
        "schema": {"type": "string", "pattern": '^"[1-9][0-9]*"$'},
    }
}


# Parameters.


def query(
    name: str,
    schema: dict[str, Any],
    description: str,
    *,
    required: bool = False,
    example: str | None = None,
) -> dict[str, Any]:
    parameter = {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }
    if example is not None:  # what Swagger UI's "Try it out" starts from
        parameter["example"] = example
    return parameter


def path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": description,
    }


DATE = {"type": "string", "format": "date"}
A_DAY = "2024-01-20"
HOLD_ID = path_parameter(
    "hold_id",
    "As POST /holds answered it. An id no hold has, or could have, is 404 (a booking's that"
    " was never a hold too).",
)
BOOKING_ID = path_parameter(
    "booking_id",
    "As POST /bookings answered it. An id no booking has, or could have, is 404.",
)
USER_ID = path_parameter("user_id", "1 to 128 printable characters.")
WEBHOOK_ID = path_parameter("webhook_id", "1 to 64 characters: a-z, 0-9, - and _.")
SHOP_ID = path_parameter(
    "shop_id", "1 to 64 characters of a-z, 0-9, - and _; `default` is the template's shop."
)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 257},
    "description": "1 to 255 printable ASCII characters, bare (`abc-123`) or as a quoted string"
    ' (`"abc-123"`, the same key). The first request with a key books; the same key with the'
    " same request gets that first answer again (header `Idempotent-Replayed: true`); with"
    " another request, 422. Keys belong to the user and expire after 24 hours.",
}

# The same header on a change of a booking or a hold.
CHANGE_KEY = {
    **IDEMPOTENCY_KEY,
    "description": "As for POST /bookings: the first request with a key makes the change; the"
    " same key with the same request gets that first answer again (header"
    " `Idempotent-Replayed: true`; a move's shows the booking as it is now); with another"
    " request, 422. Recorded under the booking's (or hold's) user, for 24 hours.",
}

IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": 'The booking\'s ETag (`"2"`), a list of them, or `*`: change the booking'
    " only if it is at one of those versions, else 412 and nothing changes. A booking found"
    " already changed as asked, by the change from one of them (cancelled; moved there),"
    " answers 200: the change was made already. Without it: whatever the version.",
}


def request_body(
    schema: dict[str, Any], description: str, examples: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {JSON: {"schema": schema, "examples": examples}},
    }


def example(summary: str, value: dict[str, Any]) -> dict[str, Any]:
    """One of a body's named examples: Swagger UI offers each, Try it out starts from it."""
    return {"summary": summary, "value": value}


A_SLOT = {"date": A_DAY, "time": "10:00"}
# Either model: a generated client gets a body naming the user and, for sign-in
# on, one that leaves the user to the token (SignedInBookingRequest accepts the
# first as well: anyOf, not oneOf).
BOOKING_BODY = request_body(
    {"anyOf": [schema_ref(BookingRequest), schema_ref(SignedInBookingRequest)]},
    "BookingRequest names the user: the body with sign-in off, where `user_id` is required."
    " With sign-in on, SignedInBookingRequest may leave `user_id` out (or null): the booking"
    " is the caller's; naming someone else takes an admin (403 otherwise). Extra fields are"
    " ignored; a body over 4 KiB is refused.",
    {
        "forUser": example(
            "Naming the user (sign-in off; signed in, oneself or as an admin)",
            {"user_id": "user_alice", **A_SLOT},
        ),
        "asCaller": example("As the signed-in caller (sign-in on)", A_SLOT),
    },
)


RESCHEDULE_BODY = request_body(
    schema_ref(RescheduleRequest),
    "Where to: a day and a start availability lists for the booking's service (the default"
    " shop's: a slot). Without `resource_id`, the booking's own resource if it is free then,"
    " else the first free by id. Extra fields are ignored; a body over 4 KiB is refused.",
    {
        "anyResource": example("Any resource of the booking's service", A_SLOT),
        "namedResource": example(
            "A resource the client picked", {"resource_id": "bay-2", **A_SLOT}
        ),
    },
)

SHOP_BOOKING_BODY = request_body(
    schema_ref(ShopBookingRequest),
    "A service of the shop, on a day and at a start availability lists. `user_id` as for"
    " POST /bookings: required with sign-in off; with sign-in on, left out for the caller."
    " Without `resource_id`, the first resource free by id takes it. Extra fields are"
    " ignored; a body over 4 KiB is refused.",
    {
        "anyResource": example(
            "Any resource that performs the service",
            {"user_id": "user_alice", "service_id": "oil-change", **A_SLOT},
        ),
        "namedResource": example(
            "A resource the client picked",
            {"user_id": "user_alice", "service_id": "oil-change", "resource_id": "bay-2", **A_SLOT},
        ),
    },
)


BODY_ERRORS = (
    said(messages.INVALID_JSON),
    said(messages.BODY_NOT_OBJECT),
    said(messages.BODY_TOO_LARGE),
    "`<field>: <what is wrong>`, e.g. `user_id: Field required`",
)


# Operations, one per route of template.yaml.

# The change cut-off, on a cancel or a move.
TOO_LATE_TO_CHANGE = (
    said(messages.TOO_LATE_TO_CHANGE) + " (the booking starts within its shop's change cut-off,"
    " ChangeNoticeMinutes for the default shop; admins are exempt)"
)

# A hold is refused as a booking of the same body would be.
HOLD_REFUSALS = (
    said(messages.SLOT_FULL) + " (booked, or held by a live hold)",
    said(messages.SHOP_CLOSED),
    said(messages.USER_NOT_FOUND),
    said(messages.INVALID_DATE),
    said(messages.INVALID_TIME),
    said(messages.TOO_LATE),
    said(messages.TOO_FAR_AHEAD),
)
HOLD_LIMIT_NOTE = (
    "The user has HoldLimit (default 3) live holds at this shop already: nothing was held."
)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    tag: str
    responses: dict[str, Any]
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] | None = None


def catalogue_read(
    operation_id: str, summary: str, description: str, model: type[BaseModel]
) -> Operation:
    """A public read of a shop's catalogue: the model, or "Shop not found"."""
    return Operation(
        operation_id,
        summary,
        "catalogue",
        {
            "200": json_response(description, schema_ref(model)),
            "404": refusal(said(messages.SHOP_NOT_FOUND)),
            **DATABASE_FAILURES,
        },
        [SHOP_ID],
    )


RESOURCE_ID = path_parameter("resource_id", "1 to 64 characters of a-z, 0-9, - and _.")
SERVICE_ID = path_parameter("service_id", "1 to 64 characters of a-z, 0-9, - and _.")
DEFAULT_SHOP_REFUSED = refusal(said(messages.DEFAULT_SHOP_IS_CONFIGURED))


def catalogue_put(
    operation_id: str,
    what: str,
    answer: dict[str, Any],
    body: type[BaseModel],
    examples: dict[str, dict[str, Any]],
    parameters: list[dict[str, Any]],
) -> Operation:
    """An administrator's PUT of a whole part of a shop's catalogue."""
    return Operation(
        operation_id,
        f"Create or replace {what} (administrators)",
        "catalogue admin",
        {
            "200": json_response("Replaced.", answer),
            "201": json_response("Created.", answer),
            "400": refusal("`<field>: <what is wrong>`", *BODY_ERRORS),
            "404": refusal(said(messages.SHOP_NOT_FOUND)),
            "409": DEFAULT_SHOP_REFUSED,
            "413": shared("TooLarge"),
            **DATABASE_FAILURES,
        },
        parameters,
        request_body(
            schema_ref(body), "The whole of it; a field left out takes its default.", examples
        ),
    )


def catalogue_get(
    operation_id: str,
    what: str,
    model: type[BaseModel],
    not_found: str,
    parameters: list[dict[str, Any]],
) -> Operation:
    return Operation(
        operation_id,
        f"Look up {what} (administrators)",
        "catalogue admin",
        {
            "200": json_response("As it was put.", schema_ref(model)),
            "404": refusal(said(messages.SHOP_NOT_FOUND), said(not_found)),
            **DATABASE_FAILURES,
        },
        parameters,
    )


def catalogue_delete(
    operation_id: str, what: str, parameters: list[dict[str, Any]], not_found: str | None = None
) -> Operation:
    not_found_messages = [said(messages.SHOP_NOT_FOUND)] + ([said(not_found)] if not_found else [])
    return Operation(
        operation_id,
        f"Delete {what} (administrators)",
        "catalogue admin",
        {
            "200": json_response("Deleted: its ids.", schema_ref(DeletedFromCatalogue)),
            "404": refusal(*not_found_messages),
            "409": refusal(
                "`The <shop|resource|service> has <n> confirmed bookings or live holds still"
                " to come: ...`",
                said(messages.DEFAULT_SHOP_IS_CONFIGURED),
                note="Nothing is deleted while confirmed bookings or live holds of it are still"
                " to come; past bookings keep their history.",
            ),
            **DATABASE_FAILURES,
        },
        parameters,
    )


OPERATIONS: dict[str, Operation] = {
    "GET /health": Operation(
        "getHealth",
        "The function is up (touches no database)",
        "health",
        {"200": json_response("Up.", schema_ref(Health)), "500": shared("InternalError")},
    ),
    "GET /slots": Operation(
        "listSlots",
        "The free slot starts of a day",
        "slots",
        {
            "200": json_response("The day's free slot starts.", schema_ref(Slots)),
            "400": refusal(said(messages.INVALID_DATE)),
            **DATABASE_FAILURES,
        },
        [
            query(
                "date",
                DATE,
                "A real calendar day, exactly YYYY-MM-DD.",
                required=True,
                example=A_DAY,
            )
        ],
    ),
    "GET /availability": Operation(
        "getAvailability",
        "Every day of a range with the slots one may still book",
        "slots",
        {
            "200": json_response("The range, day by day.", schema_ref(Availability)),
            "400": refusal(
                said(messages.INVALID_DATE),
                said(messages.DATE_RANGE_REVERSED),
                said(messages.RANGE_TOO_LONG),
            ),
            **DATABASE_FAILURES,
        },
        [
            query("from", DATE, "First day, included.", required=True, example=A_DAY),
            query(
                "to",
                DATE,
                "Last day, included; at most 31 days in all.",
                required=True,
                example="2024-01-26",
            ),
        ],
    ),
    "POST /bookings": Operation(
        "createBooking",
        "Book a slot, once per Idempotency-Key",
        "bookings",
        {
            "200": json_response("Booked.", schema_ref(Booked), REPLAYED_HEADER),
            "400": refusal(
                said(messages.SLOT_FULL),
                said(messages.SHOP_CLOSED),
                said(messages.USER_NOT_FOUND),
                said(messages.INVALID_DATE),
                said(messages.INVALID_TIME),
                said(messages.TIME_NOT_ON_THE_HOUR),
                said(messages.not_a_slot_start(30)) + " (slots other than hourly)",
                said(messages.TOO_LATE),
                said(messages.TOO_FAR_AHEAD),
                said(messages.INVALID_IDEMPOTENCY_KEY),
                *BODY_ERRORS,
            )
            | {"headers": REPLAYED_HEADER},
            "403": refusal(said(messages.FORBIDDEN) + " (sign-in on: booking for another user)"),
            "413": shared("TooLarge"),
            "422": refusal(said(messages.IDEMPOTENCY_KEY_REUSED)),
            **DATABASE_FAILURES,
        },
        [IDEMPOTENCY_KEY],
        BOOKING_BODY,
    ),
    "POST /shops/{shop_id}/bookings": Operation(
        "createShopBooking",
        "Book a service of a shop on one of its resources, once per Idempotency-Key",
        "bookings",
        {
            "200": json_response("Booked.", schema_ref(Booked), REPLAYED_HEADER),
            "400": refusal(
                said(messages.SLOT_FULL),
                said(messages.SHOP_CLOSED) + " (no resource of the service is open then)",
                said(messages.USER_NOT_FOUND),
                said(messages.INVALID_DATE),
                said(messages.INVALID_TIME),
                said(messages.not_a_slot_start(30)),
                said(messages.not_a_service_start(15)) + " (a service stepping by 15 minutes)",
                said(messages.TOO_LATE),
                said(messages.TOO_FAR_AHEAD),
                said(messages.RESOURCE_CANNOT_PERFORM_SERVICE),
                said(messages.INVALID_IDEMPOTENCY_KEY),
                *BODY_ERRORS,
            )
            | {"headers": REPLAYED_HEADER},
            "403": refusal(said(messages.FORBIDDEN) + " (sign-in on: booking for another user)"),
            "404": refusal(
                said(messages.SHOP_NOT_FOUND),
                said(messages.SERVICE_NOT_FOUND),
                said(messages.RESOURCE_NOT_FOUND),
            ),
            "413": shared("TooLarge"),
            "422": refusal(said(messages.IDEMPOTENCY_KEY_REUSED)),
            **DATABASE_FAILURES,
        },
        [SHOP_ID, IDEMPOTENCY_KEY],
        SHOP_BOOKING_BODY,
    ),
    "GET /bookings": Operation(
        "listBookings",
        "A user's bookings, a page at a time",
        "bookings",
        {
            "200": json_response("A page.", schema_ref(BookingPage)),
            "400": refusal(
                said(messages.USER_NOT_FOUND),
                said(messages.USER_ID_REQUIRED),
                said(messages.INVALID_USER_ID),
                said(messages.invalid_date_parameter("from")),
                said(messages.invalid_date_parameter("to")),
                said(messages.DATE_RANGE_REVERSED),
                said(messages.INVALID_STATUS_FILTER),
                said(messages.INVALID_LIMIT),
                said(messages.INVALID_CURSOR),
                said(messages.INVALID_SHOP_ID),
            ),
            "403": refusal(said(messages.FORBIDDEN) + " (sign-in on: another user's bookings)"),
            **DATABASE_FAILURES,
        },
        [
            query(
                "user_id",
                {"type": "string", "minLength": 1, "maxLength": 128},
                "Whose bookings. Required with sign-in off (400 "
                + said(messages.USER_ID_REQUIRED)
                + " without it). With sign-in on it may be left out: the caller's own;"
                " another user's take an admin (403 otherwise).",
                example="user_alice",
            ),
            query("from", DATE, "First slot date, included."),
            query("to", DATE, "Last slot date, included."),
            query(
                "status",
                {"type": "string", "enum": sorted(STATUS_FILTERS)},
                "Which bookings; default `confirmed`.",
            ),
            query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                f"Page size; default {DEFAULT_LIMIT}.",
            ),
            query(
                "cursor",
                {"type": "string", "minLength": 1},
                "The previous page's `next_cursor`.",
            ),
            query(
                "shop_id",
                {"type": "string", "minLength": 1, "maxLength": 64},
                "Only this shop's bookings (`default`: the template's shop); default: every"
                " shop's. 400 " + said(messages.INVALID_SHOP_ID) + " for what no shop id can be.",
            ),
        ],
    ),
    "GET /bookings/{booking_id}": Operation(
        "getBooking",
        "A booking, confirmed or cancelled",
        "bookings",
        {
            "200": json_response("The booking.", schema_ref(Booking), VERSION_HEADER),
            "404": refusal(said(messages.BOOKING_NOT_FOUND) + " (with sign-in on: also another's)"),
            **DATABASE_FAILURES,
        },
        [BOOKING_ID],
    ),
    "GET /bookings/{booking_id}/calendar.ics": Operation(
        "getBookingCalendar",
        "A booking as a calendar file (RFC 5545)",
        "bookings",
        {
            "200": calendar_response(
                "One VEVENT: its UID never changes, SEQUENCE is the booking's version,"
                " times in the shop's zone with its VTIMEZONE, STATUS:CANCELLED once cancelled."
            ),
            "404": refusal(said(messages.BOOKING_NOT_FOUND) + " (with sign-in on: also another's)"),
            **DATABASE_FAILURES,
        },
        [BOOKING_ID],
    ),
    "GET /users/{user_id}/calendar.ics": Operation(
        "getUserCalendar",
        "A user's bookings as a calendar feed to subscribe to",
        "bookings",
        {
            "200": calendar_response(
                "The user's bookings from 30 days ago on (at most 500), cancelled ones"
                " marked cancelled. No sign-in: the token is the key."
            ),
            "404": refusal(said(messages.NOT_FOUND) + " (no such user, or not their token)"),
            **DATABASE_FAILURES,
        },
        [
            USER_ID,
            query(
                "token",
                {"type": "string"},
                "The feed's token (PUT /users/{user_id}/calendar-token).",
                required=True,
            ),
        ],
    ),
    "DELETE /bookings/{booking_id}": Operation(
        "cancelBooking",
        "Cancel a booking (again: the same answer)",
        "bookings",
        {
            "200": json_response("The booking, cancelled.", schema_ref(Booking), VERSION_HEADER),
            "400": refusal(said(messages.INVALID_IF_MATCH), TOO_LATE_TO_CHANGE),
            "404": refusal(said(messages.BOOKING_NOT_FOUND) + " (with sign-in on: also another's)"),
            "412": refusal(
                said(messages.BOOKING_CHANGED),
                note="If-Match named none of the booking's versions: nothing was done.",
            ),
            **DATABASE_FAILURES,
        },
        [BOOKING_ID, IF_MATCH],
    ),
    "POST /bookings/{booking_id}/reschedule": Operation(
        "rescheduleBooking",
        "Move a booking to another start, in one step (it keeps its id)",
        "bookings",
        {
            "200": json_response(
                "The booking, moved; `moved_from` lists where it was.",
                schema_ref(Booking),
                VERSION_HEADER,
            ),
            "400": refusal(
                said(messages.SLOT_FULL) + " (the booking is unchanged)",
                said(messages.SHOP_CLOSED),
                said(messages.INVALID_DATE),
                said(messages.INVALID_TIME),
                said(messages.TIME_NOT_ON_THE_HOUR),
                said(messages.not_a_service_start(15)) + " (a service stepping by 15 minutes)",
                said(messages.TOO_LATE) + " (within the notice, or in the past)",
                said(messages.TOO_FAR_AHEAD),
                said(messages.RESOURCE_CANNOT_PERFORM_SERVICE),
                said(messages.INVALID_IF_MATCH),
                said(messages.INVALID_IDEMPOTENCY_KEY),
                TOO_LATE_TO_CHANGE,
                *BODY_ERRORS,
            ),
            "404": refusal(
                said(messages.BOOKING_NOT_FOUND) + " (with sign-in on: also another's)",
                said(messages.RESOURCE_NOT_FOUND),
                said(messages.SHOP_NOT_FOUND) + " (its shop deleted since)",
                said(messages.SERVICE_NOT_FOUND) + " (its service deleted since)",
            ),
            "409": refusal(said(messages.BOOKING_CANCELLED)),
            "412": refusal(
                said(messages.BOOKING_CHANGED),
                note="If-Match named none of the booking's versions: nothing was done.",
            ),
            "413": shared("TooLarge"),
            "422": refusal(said(messages.IDEMPOTENCY_KEY_REUSED)),
            **DATABASE_FAILURES,
        },
        [BOOKING_ID, IF_MATCH, CHANGE_KEY],
        RESCHEDULE_BODY,
    ),
    "POST /holds": Operation(
        "createHold",
        "Hold a slot of the default shop while the client checks out",
        "holds",
        {
            "201": json_response("Held until `expires_at`.", schema_ref(Held)),
            "400": refusal(*HOLD_REFUSALS, said(messages.TIME_NOT_ON_THE_HOUR), *BODY_ERRORS),
            "403": refusal(said(messages.FORBIDDEN) + " (sign-in on: holding for another user)"),
            "409": refusal(said(messages.TOO_MANY_HOLDS), note=HOLD_LIMIT_NOTE),
            "413": shared("TooLarge"),
            **DATABASE_FAILURES,
        },
        [],
        BOOKING_BODY,
    ),
    "POST /shops/{shop_id}/holds": Operation(
        "createShopHold",
        "Hold a service of a shop on one of its resources while the client checks out",
        "holds",
        {
            "201": json_response("Held until `expires_at`.", schema_ref(Held)),
            "400": refusal(
                *HOLD_REFUSALS,
                said(messages.not_a_service_start(15)) + " (a service stepping by 15 minutes)",
                said(messages.RESOURCE_CANNOT_PERFORM_SERVICE),
                *BODY_ERRORS,
            ),
            "403": refusal(said(messages.FORBIDDEN) + " (sign-in on: holding for another user)"),
            "404": refusal(
                said(messages.SHOP_NOT_FOUND),
                said(messages.SERVICE_NOT_FOUND),
                said(messages.RESOURCE_NOT_FOUND),
            ),
            "409": refusal(said(messages.TOO_MANY_HOLDS), note=HOLD_LIMIT_NOTE),
            "413": shared("TooLarge"),
            **DATABASE_FAILURES,
        },
        [SHOP_ID],
        SHOP_BOOKING_BODY,
    ),
    "GET /holds/{hold_id}": Operation(
        "getHold",
        "A hold, and what became of it",
        "holds",
        {
            "200": json_response("The hold.", schema_ref(Hold)),
            "404": refusal(said(messages.HOLD_NOT_FOUND) + " (with sign-in on: also another's)"),
            **DATABASE_FAILURES,
        },
        [HOLD_ID],
    ),
    "DELETE /holds/{hold_id}": Operation(
        "releaseHold",
        "Release a hold: its slot is free at once (again: the same answer)",
        "holds",
        {
            "200": json_response("The hold, released (or expired already).", schema_ref(Hold)),
            "404": refusal(said(messages.HOLD_NOT_FOUND) + " (with sign-in on: also another's)"),
            "409": refusal(
                said(messages.HOLD_CONFIRMED),
                note="It is a booking now: cancel it with DELETE /bookings/{booking_id}.",
            ),
            **DATABASE_FAILURES,
        },
        [HOLD_ID],
    ),
    "POST /holds/{hold_id}/confirm": Operation(
        "confirmHold",
        "Turn a live hold into its booking (again: the same booking)",
        "holds",
        {
            "200": json_response("Booked: the booking's id is the hold's.", schema_ref(Booked)),
            "404": refusal(said(messages.HOLD_NOT_FOUND) + " (with sign-in on: also another's)"),
            "400": refusal(said(messages.INVALID_IDEMPOTENCY_KEY)),
            "409": refusal(
                said(messages.HOLD_EXPIRED),
                said(messages.HOLD_RELEASED),
                note="The slot was not booked; it may be held or booked by someone else now.",
            ),
            "422": refusal(said(messages.IDEMPOTENCY_KEY_REUSED)),
            **DATABASE_FAILURES,
        },
        [HOLD_ID, CHANGE_KEY],
    ),
    "PUT /users/{user_id}": Operation(
        "putUser",
        "Create or rename a user (administrators)",
        "users",
        {
            "200": json_response("Renamed.", schema_ref(User)),
            "201": json_response("Created.", schema_ref(User)),
            "400": refusal(
                said(messages.INVALID_USER_ID), said(messages.INVALID_NAME), *BODY_ERRORS
            ),
            "413": shared("TooLarge"),
            **DATABASE_FAILURES,
        },
        [USER_ID],
        request_body(
            schema_ref(UserUpdate),
            "1 to 200 printable characters.",
            {"name": example("A name", {"name": "Alice"})},
        ),
    ),
    "GET /shops/{shop_id}": catalogue_read(
        "getShop", "A shop: its name, zone and hours", "The shop.", Shop
    ),
    "GET /shops/{shop_id}/services": catalogue_read(
        "listServices", "What a shop's clients can book", "Its services.", Services
    ),
    "GET /shops/{shop_id}/resources": catalogue_read(
        "listResources",
        "What a booking at a shop occupies: bays, staff",
        "Its resources.",
        Resources,
    ),
    "GET /shops/{shop_id}/availability": Operation(
        "getServiceAvailability",
        "Every day of a range with the starts of a service and the resources free for each",
        "catalogue",
        {
            "200": json_response("The range, day by day.", schema_ref(ServiceAvailability)),
            "400": refusal(
                said(messages.SERVICE_ID_REQUIRED),
                said(messages.INVALID_DATE),
                said(messages.DATE_RANGE_REVERSED),
                said(messages.RANGE_TOO_LONG),
                said(messages.RESOURCE_CANNOT_PERFORM_SERVICE),
            ),
            "404": refusal(
                said(messages.SHOP_NOT_FOUND),
                said(messages.SERVICE_NOT_FOUND),
                said(messages.RESOURCE_NOT_FOUND),
            ),
            **DATABASE_FAILURES,
        },
        [
            SHOP_ID,
            query(
                "service_id",
                {"type": "string"},
                "The service's id.",
                required=True,
                example="appointment",
            ),
            query("from", DATE, "First day, included.", required=True, example=A_DAY),
            query(
                "to",
                DATE,
                "Last day, included; at most 31 days in all.",
                required=True,
                example="2024-01-26",
            ),
            query(
                "resource_id",
                {"type": "string"},
                "Only this resource, which must perform the service.",
                required=False,
                example="bay-1",
            ),
        ],
    ),
    "PUT /shops/{shop_id}": catalogue_put(
        "putShop",
        "a shop",
        schema_ref(Shop),
        ShopUpdate,
        {
            "north": example(
                "A workshop",
                {
                    "name": "North",
                    "time_zone": "Europe/Lisbon",
                    "opening_hours": "Mon-Fri 09:00-17:00",
                    "closed_dates": ["2030-12-25"],
                },
            )
        },
        [SHOP_ID],
    ),
    "DELETE /shops/{shop_id}": catalogue_delete(
        "deleteShop", "a shop, its resources and services", [SHOP_ID]
    ),
    "PUT /shops/{shop_id}/resources/{resource_id}": catalogue_put(
        "putResource",
        "a resource",
        schema_ref(ResourceAdmin),
        ResourceUpdate,
        {
            "ana": example(
                "A mechanic who works afternoons",
                {"name": "Ana", "opening_hours": "Mon-Fri 12:00-16:00"},
            )
        },
        [SHOP_ID, RESOURCE_ID],
    ),
    "GET /shops/{shop_id}/resources/{resource_id}": catalogue_get(
        "getResource",
        "a resource, its own hours and time off",
        ResourceAdmin,
        messages.RESOURCE_NOT_FOUND,
        [SHOP_ID, RESOURCE_ID],
    ),
    "DELETE /shops/{shop_id}/resources/{resource_id}": catalogue_delete(
        "deleteResource", "a resource", [SHOP_ID, RESOURCE_ID], messages.RESOURCE_NOT_FOUND
    ),
    "PUT /shops/{shop_id}/services/{service_id}": catalogue_put(
        "putService",
        "a service",
        schema_ref(ServiceAdmin),
        ServiceUpdate,
        {
            "oil": example(
                "An oil change on two bays",
                {
                    "name": "Oil change",
                    "duration_minutes": 30,
                    "buffer_after_minutes": 10,
                    "resource_ids": ["bay-1", "bay-2"],
                },
            )
        },
        [SHOP_ID, SERVICE_ID],
    ),
    "GET /shops/{shop_id}/services/{service_id}": catalogue_get(
        "getService",
        "a service as it was put",
        ServiceAdmin,
        messages.SERVICE_NOT_FOUND,
        [SHOP_ID, SERVICE_ID],
    ),
    "DELETE /shops/{shop_id}/services/{service_id}": catalogue_delete(
        "deleteService", "a service", [SHOP_ID, SERVICE_ID], messages.SERVICE_NOT_FOUND
    ),
    "PUT /shops/{shop_id}/webhooks/{webhook_id}": Operation(
        "putWebhook",
        "Subscribe to a shop's events, or change a subscription (administrators)",
        "catalogue admin",
        {
            "200": json_response(
                "Changed (and enabled again); its secret stays.", schema_ref(Webhook)
            ),
            "201": json_response("Subscribed: the secret, shown once.", schema_ref(WebhookCreated)),
            "400": refusal(
                "url: … (not https, a host that does not resolve, or resolves to a private,"
                " loopback, link-local or metadata address)",
                "event_types: …",
                *BODY_ERRORS,
            ),
            "404": refusal(said(messages.SHOP_NOT_FOUND), said(messages.WEBHOOK_NOT_FOUND)),
            "413": shared("TooLarge"),
            **DATABASE_FAILURES,
        },
        [SHOP_ID, WEBHOOK_ID],
        request_body(
            schema_ref(WebhookPut),
            "Where, and which events.",
            {
                "hook": example(
                    "Bookings made and cancelled",
                    {
                        "url": "https://example.com/hooks/appointments",
                        "event_types": ["booking.confirmed", "booking.cancelled"],
                    },
                )
            },
        ),
    ),
    "GET /shops/{shop_id}/webhooks/{webhook_id}": Operation(
        "getWebhook",
        "A subscription, without its secret (administrators)",
        "catalogue admin",
        {
            "200": json_response("The subscription.", schema_ref(Webhook)),
            "404": refusal(said(messages.SHOP_NOT_FOUND), said(messages.WEBHOOK_NOT_FOUND)),
            **DATABASE_FAILURES,
        },
        [SHOP_ID, WEBHOOK_ID],
    ),
    "DELETE /shops/{shop_id}/webhooks/{webhook_id}": Operation(
        "deleteWebhook",
        "Unsubscribe; pending deliveries are dropped (administrators)",
        "catalogue admin",
        {
            "200": json_response("Deleted: its ids.", {"type": "object"}),
            "404": refusal(said(messages.SHOP_NOT_FOUND), said(messages.WEBHOOK_NOT_FOUND)),
            **DATABASE_FAILURES,
        },
        [SHOP_ID, WEBHOOK_ID],
    ),
    "PUT /users/{user_id}/calendar-token": Operation(
        "putCalendarToken",
        "Give a user a new calendar feed token (administrators)",
        "users",
        {
            "200": json_response(
                "The token, shown once; the old one stops working.", schema_ref(CalendarToken)
            ),
            "404": refusal(said(messages.USER_NOT_FOUND)),
            **DATABASE_FAILURES,
        },
        [USER_ID],
    ),
    "DELETE /users/{user_id}/calendar-token": Operation(
        "deleteCalendarToken",
        "Revoke a user's calendar feed (administrators)",
        "users",
        {
            "200": json_response("Revoked: no token works.", schema_ref(CalendarTokenRevoked)),
            "404": refusal(said(messages.USER_NOT_FOUND)),
            **DATABASE_FAILURES,
        },
        [USER_ID],
    ),
    "GET /users/{user_id}": Operation(
        "getUser",
        "Look a user up (administrators)",
        "users",
        {
            "200": json_response("The user.", schema_ref(User)),
            "404": refusal(said(messages.USER_NOT_FOUND)),
            **DATABASE_FAILURES,
        },
        [USER_ID],
    ),
}


# In this order on the docs page.
TAGS = [
    {"name": "health", "description": "Whether the service is up"},
    {"name": "slots", "description": "The shop's free slots"},
    {"name": "catalogue", "description": "Shops, their services and resources"},
    {"name": "bookings", "description": "Booking, looking up, listing and cancelling"},
    {
        "name": "holds",
        "description": "A slot kept while the client checks out, then confirmed into its booking",
    },
    {"name": "catalogue admin", "description": "Administration of shops: IAM-only (SigV4)"},
    {"name": "users", "description": "Administration: IAM-only (SigV4)"},
]


# Security, from each route's authorizer in the template.

SECURITY_SCHEMES = {
    "signIn": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Only when the stack's JwtIssuer is set (sign-in on; off by default):"
        " API Gateway's JWT authorizer checks the token's signature, issuer, audience and"
        " expiry. `make token USER=user_alice` prints one for `JWT_ISSUER=local make dev`.",
    },
    "sigv4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "x-amazon-apigateway-authtype": "awsSigv4",
        "description": "AWS Signature Version 4 (service execute-api) of a principal allowed"
        " execute-api:Invoke on the /users routes. Locally: DEV_IAM_ACCESS_KEY_ID and"
        " DEV_IAM_SECRET_ACCESS_KEY.",
    },
}


def security_of(route: Route) -> tuple[list[dict[str, list[str]]] | None, dict[str, Any]]:
    """The route's security requirement, and the responses its authorizer adds."""
    if route.authorizer == NO_AUTHORIZER:
        return None, {}
    if route.authorizer == IAM_AUTHORIZER:
        return [{"sigv4": []}], {"403": shared("SignatureRefused")}
    # A JWT authorizer: only there when sign-in is on, so no token is fine too.
    return [{}, {"signIn": []}], {"401": shared("SignInRequired")}


# The document.


def build_document(routes: list[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`; every route must be in OPERATIONS, and no other."""
    documented = set(OPERATIONS)
    declared = {route.route_key for route in routes}
    if undocumented := declared - documented:
        raise ValueError(
            f"routes in template.yaml without an operation here: {sorted(undocumented)}"
        )
    if stale := documented - declared:
        raise ValueError(f"operations here for routes template.yaml lacks: {sorted(stale)}")
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = operation_object(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Appointment booking",
            "version": VERSION,
            "description": "Book a shop's time slots. Generated by `make openapi`"
            " (local/openapi.py) from template.yaml and the pydantic models; docs/api.md"
            " explains the rules.",
        },
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "responses": SHARED_RESPONSES,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def operation_object(route: Route) -> dict[str, Any]:
    operation = OPERATIONS[route.route_key]
    security, auth_responses = security_of(route)
    answer: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {**operation.responses, **auth_responses},
    }
    if operation.parameters:
        answer["parameters"] = operation.parameters
    if operation.body:
        answer["requestBody"] = operation.body
    if security is not None:
        answer["security"] = security
    return answer


def component_schemas() -> dict[str, Any]:
    _, definitions = models_json_schema(
        MODELS, ref_template=SCHEMAS, schema_generator=ApiJsonSchema
    )
    schemas: dict[str, Any] = definitions["$defs"]
    return schemas


def render(document: dict[str, Any]) -> str:
    """Sorted keys and a final newline: the same document is always the same bytes."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def current_document(template_path: Path = TEMPLATE_PATH) -> str:
    """openapi.json as it should read now."""
    return render(build_document(http_routes(load_template(template_path), template_path.parent)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DOCUMENT_PATH)
    args = parser.parse_args(argv)
    text = current_document()
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(OPERATIONS)} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
