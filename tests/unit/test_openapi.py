"""openapi.json: current, one operation per route of template.yaml, and valid OpenAPI 3.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from appointments.api.schema import BookingRequest, SignedInBookingRequest
from local import openapi
from local.template import TEMPLATE_PATH, http_routes, load_template

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi.DOCUMENT_PATH.read_text())
    return document


def operations(document: dict[str, Any]) -> set[str]:
    """`METHOD /path` of every operation in the document."""
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_committed_document_is_what_the_generator_writes_now() -> None:
    assert openapi.DOCUMENT_PATH.read_text() == openapi.current_document(), (
        "openapi.json is stale: run make openapi"
    )


def test_every_route_of_the_template_is_an_operation_and_nothing_else(
    committed: dict[str, Any],
) -> None:
    routes = {route.route_key for route in http_routes(load_template(), TEMPLATE_PATH.parent)}
    assert operations(committed) == routes


def test_a_route_without_documentation_stops_the_generator(tmp_path: Path) -> None:
    template = TEMPLATE_PATH.read_text().replace(
        "            Path: /availability\n",
        "            Path: /availability\n"
        "        Undocumented:\n"
        "          Type: HttpApi\n"
        "          Properties:\n"
        "            ApiId: !Ref HttpApi\n"
        "            Method: GET\n"
        "            Path: /undocumented\n",
    )
    copy = tmp_path / "template.yaml"
    copy.write_text(template)
    with pytest.raises(ValueError, match="GET /undocumented"):
        openapi.current_document(copy)


def test_document_is_valid_openapi_3_1(committed: dict[str, Any]) -> None:
    # The OpenAPI Initiative's 3.1 meta-schema, as schemathesis ships it
    # (it validates documents with it before fuzzing them).
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    errors = [
        error.message
        for error in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(committed)
    ]
    assert errors == []


def test_every_component_schema_is_valid_json_schema(committed: dict[str, Any]) -> None:
    # The 3.1 meta-schema leaves Schema Objects unchecked: each is JSON Schema 2020-12.
    for name, schema in committed["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_guarded_routes_carry_their_security(committed: dict[str, Any]) -> None:
    paths = committed["paths"]
    assert paths["/bookings"]["post"]["security"] == [{}, {"signIn": []}]
    assert paths["/users/{user_id}"]["get"]["security"] == [{"sigv4": []}]
    assert "security" not in paths["/slots"]["get"]
    assert committed["components"]["securitySchemes"]["sigv4"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "x-amazon-apigateway-authtype": "awsSigv4",
        "description": openapi.SECURITY_SCHEMES["sigv4"]["description"],
    }


def validates(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A validator of `schema`, its $refs resolved in the document's components."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})


SLOT = {"date": "2024-01-20", "time": "10:00"}


@pytest.mark.parametrize(
    ("body", "signed_out", "signed_in"),
    [
        ({"user_id": "user_alice", **SLOT}, True, True),
        (SLOT, False, True),
        ({"user_id": None, **SLOT}, False, True),
        ({"user_id": "", **SLOT}, False, False),
        ({"user_id": "user_alice", "date": "2024-01-20"}, False, False),
    ],
)
def test_the_booking_body_names_the_user_or_with_sign_in_on_leaves_it_to_the_token(
    committed: dict[str, Any], body: dict[str, Any], signed_out: bool, signed_in: bool
) -> None:
    content = committed["paths"]["/bookings"]["post"]["requestBody"]["content"]["application/json"]
    variants = content["schema"]["anyOf"]

    # Each variant is the model the handler validates with, sign-in off and on.
    assert variants == [
        openapi.schema_ref(BookingRequest),
        openapi.schema_ref(SignedInBookingRequest),
    ]
    assert [validates(committed, variant).is_valid(body) for variant in variants] == [
        signed_out,
        signed_in,
    ]
    assert validates(committed, content["schema"]).is_valid(body) == signed_in
    for model, accepted in ((BookingRequest, signed_out), (SignedInBookingRequest, signed_in)):
        try:
            model.model_validate(body)
        except ValidationError:
            assert not accepted, model
        else:
            assert accepted, model


def test_both_booking_examples_are_bodies_the_document_accepts(committed: dict[str, Any]) -> None:
    content = committed["paths"]["/bookings"]["post"]["requestBody"]["content"]["application/json"]
    validator = validates(committed, content["schema"])

    examples = {name: entry["value"] for name, entry in content["examples"].items()}

    assert examples == {"forUser": {"user_id": "user_alice", **SLOT}, "asCaller": SLOT}
    assert all(validator.is_valid(value) for value in examples.values())


def test_the_list_may_leave_user_id_to_the_signed_in_caller(committed: dict[str, Any]) -> None:
    parameters = committed["paths"]["/bookings"]["get"]["parameters"]
    (user_id,) = [parameter for parameter in parameters if parameter["name"] == "user_id"]

    assert user_id["required"] is False
    assert "Required with sign-in off" in user_id["description"]
