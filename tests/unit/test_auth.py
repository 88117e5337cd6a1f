"""Reading the caller from the claims API Gateway hands on: who, and whether an admin."""

from __future__ import annotations

from typing import Any

import pytest

from appointments.api import auth
from appointments.errors import ClientError
from local.http_api_event import jwt_authorizer_context

SIGN_IN = auth.load_sign_in(
    {"JWT_ISSUER": "https://issuer.example", "JWT_ADMIN_SCOPE": "appointments/admin",
     "JWT_ADMIN_GROUP": "admins"}
)  # fmt: skip


def caller(claims: dict[str, Any], sign_in: auth.SignIn = SIGN_IN) -> auth.Caller | None:
    event = {"requestContext": {"authorizer": jwt_authorizer_context(claims)}}
    return auth.caller_of(event, sign_in)


def is_admin(**claims: Any) -> bool:
    found = caller({"sub": "someone", **claims})
    assert found is not None
    return found.is_admin


def test_sign_in_is_off_without_an_issuer_and_then_nobody_is_read() -> None:
    off = auth.load_sign_in({"JWT_ISSUER": ""})
    assert not off.enabled
    assert auth.caller_of({"requestContext": {}}, off) is None


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": "openid appointments/admin"},
        {"scp": "appointments/admin"},
        # Okta writes scp as a list, which API Gateway flattens to "[a b]".
        {"scp": ["appointments/admin"]},
        {"scp": ["appointments/admin", "openid"]},
        {"scp": ["openid", "appointments/admin", "profile"]},
        {"cognito:groups": ["staff", "admins"]},  # "[staff admins]" once flattened
        {"cognito:groups": ["admins"]},
    ],
)
def test_an_admin_by_scope_or_group(claims: dict[str, Any]) -> None:
    assert is_admin(**claims)


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"scope": "openid appointments/administrator"},
        {"scope": "appointments/read,appointments/admin"},  # one scope with a comma in it
        {"cognito:groups": ["support,admins"]},  # one group with a comma in it
        {"cognito:groups": "support,admins"},
        {"cognito:groups": ["admins-readonly"]},
        {"groups": ["admins"]},  # not the configured groups claim
        {"cognito:groups": '["admins"]'},  # a string, not a list
        {"scp": ["appointments/admin/extra", "[appointments/admin]"]},
    ],
)
def test_not_an_admin(claims: dict[str, Any]) -> None:
    assert not is_admin(**claims)


def test_no_admins_unless_configured() -> None:
    plain = auth.load_sign_in({"JWT_ISSUER": "https://issuer.example"})
    found = caller({"sub": "x", "scope": "appointments/admin", "cognito:groups": [""]}, plain)
    assert found is not None and not found.is_admin


def test_the_groups_claim_is_configurable() -> None:
    entra = auth.load_sign_in(
        {"JWT_ISSUER": "https://issuer.example", "JWT_ADMIN_GROUP": "Admin",
         "JWT_GROUPS_CLAIM": "roles"}
    )  # fmt: skip
    found = caller({"sub": "x", "roles": ["Reader", "Admin"]}, entra)
    assert found is not None and found.is_admin


def test_the_display_name_is_the_name_claim_else_the_user_id() -> None:
    named = caller({"sub": "u1", "name": "  Erin Example "})
    unnamed = caller({"sub": "u2", "name": "bell\u0007"})
    assert named is not None and named.display_name == "Erin Example"
    assert unnamed is not None and unnamed.display_name == "u2"


@pytest.mark.parametrize(
    ("requested", "expected"), [(None, "alice"), ("alice", "alice")], ids=["omitted", "self"]
)
def test_a_caller_acts_as_themselves(requested: str | None, expected: str) -> None:
    alice = auth.Caller("alice", is_admin=False, display_name="Alice")
    assert auth.acting_for(alice, requested) == expected


def test_only_an_admin_acts_for_another() -> None:
    alice = auth.Caller("alice", is_admin=False, display_name="Alice")
    admin = auth.Caller("ops", is_admin=True, display_name="Ops")
    assert auth.acting_for(admin, "bob") == "bob"
    with pytest.raises(ClientError) as refused:
        auth.acting_for(alice, "bob")
    assert (refused.value.status, refused.value.message) == (403, "Forbidden")


def test_without_sign_in_anyones_booking_is_found_by_id() -> None:
    assert auth.owner_filter(None) is None
    assert auth.owner_filter(auth.Caller("ops", is_admin=True, display_name="Ops")) is None
    assert auth.owner_filter(auth.Caller("alice", is_admin=False, display_name="A")) == "alice"


def test_iam_routes_need_the_iam_authorizers_verdict() -> None:
    with pytest.raises(ClientError) as refused:
        auth.require_iam({"requestContext": {"authorizer": jwt_authorizer_context({"sub": "x"})}})
    assert refused.value.status == 403
    auth.require_iam({"requestContext": {"authorizer": {"iam": {"accessKey": "AKIA"}}}})
