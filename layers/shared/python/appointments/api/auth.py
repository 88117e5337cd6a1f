"""Who is calling, when sign-in is on: the claims API Gateway's JWT authorizer verified.

The token is API Gateway's to check (signature against the issuer's keys,
issuer, audience, expiry) before the function runs; a function behind it
only reads the claims it is handed, in requestContext.authorizer.jwt.claims.
API Gateway writes every claim value there as a string, a list as "[a b]".

Nothing here logs a claim: they name people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from appointments import messages
from appointments.domain.user_ids import MAX_NAME_CHARS, is_user_id
from appointments.errors import ClientError

# Where scopes are: "scope" (OAuth 2, Cognito access tokens), "scp" (Entra ID, Okta).
_SCOPE_CLAIMS: Final = ("scope", "scp")

FORBIDDEN = ClientError(messages.FORBIDDEN, outcome="Forbidden", status=403)
# A guarded route reached without claims while sign-in is on: the route's
# authorizer is missing (a template edited by hand), not the client's doing.
# Refused all the same: no claims, no caller.
UNAUTHORIZED = ClientError(messages.UNAUTHORIZED, outcome="Unauthorized", status=401)
NOT_SIGNED = ClientError(messages.FORBIDDEN, outcome="NotSigned", status=403)


@dataclass(frozen=True)
class SignIn:
    """How a function reads its callers, from the template's Jwt* parameters."""

    enabled: bool
    user_claim: str = "sub"
    admin_scope: str = ""
    admin_group: str = ""
    groups_claim: str = "cognito:groups"


@dataclass(frozen=True)
class Caller:
    """A signed-in caller: the user they are, and whether they may act for any user."""

    user_id: str
    is_admin: bool
    # What to call them when their first booking makes them a user.
    display_name: str


def load_sign_in(environ: Mapping[str, str]) -> SignIn:
    """The sign-in settings in the environment; off unless JWT_ISSUER is set."""
    return SignIn(
        enabled=bool(environ.get("JWT_ISSUER")),
        user_claim=environ.get("JWT_USER_CLAIM") or "sub",
        admin_scope=environ.get("JWT_ADMIN_SCOPE", ""),
        admin_group=environ.get("JWT_ADMIN_GROUP", ""),
        groups_claim=environ.get("JWT_GROUPS_CLAIM") or "cognito:groups",
    )


def caller_of(event: Mapping[str, Any], sign_in: SignIn) -> Caller | None:
    """The signed-in caller of this request; None when sign-in is off."""
    if not sign_in.enabled:
        return None
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    user_id = claims.get(sign_in.user_claim)
    if not isinstance(user_id, str) or not is_user_id(user_id):
        raise UNAUTHORIZED
    return Caller(
        user_id=user_id,
        is_admin=_is_admin(claims, sign_in),
        display_name=_display_name(claims, user_id),
    )


def acting_for(caller: Caller, requested: str | None) -> str:
    """The user a signed-in caller's request acts for (403 if they may not).

    The caller themselves when it names no one or them; another user only
    for an admin. (Without sign-in, a request acts for whoever it names.)
    """
    if requested is None or requested == caller.user_id:
        return caller.user_id
    if caller.is_admin:
        return requested
    raise FORBIDDEN


def owner_filter(caller: Caller | None) -> str | None:
    """Whose bookings a caller may see or cancel by id; None: anyone's."""
    if caller is None or caller.is_admin:
        return None
    return caller.user_id


def _is_admin(claims: Mapping[str, Any], sign_in: SignIn) -> bool:
    if sign_in.admin_scope and any(
        sign_in.admin_scope in scopes_in(claims.get(name)) for name in _SCOPE_CLAIMS
    ):
        return True
    return bool(sign_in.admin_group) and sign_in.admin_group in groups_in(
        claims.get(sign_in.groups_claim)
    )


def scopes_in(value: Any) -> list[str]:
    """A scope claim: scopes separated by spaces (a scope has none), or a list.

    A list (Okta's and Entra ID's scp) comes flattened to "[a b]", as groups
    do; it cannot be a plain scope string, since no scope may hold "]" (RFC 6749).
    """
    if isinstance(value, str) and not _is_flattened_list(value):
        return value.split()
    return groups_in(value)


def groups_in(value: Any) -> list[str]:
    """A groups claim as API Gateway hands it on: a list flattened to "[a b]".

    Only that form is split, on spaces: a group whose name has a space cannot
    be told from two groups there (docs/authentication.md). Any other string
    is one group, commas and all.
    """
    if isinstance(value, list):
        return [str(item) for item in value]
    if not isinstance(value, str):
        return []
    if _is_flattened_list(value):
        return value[1:-1].split()
    return [value]


def _is_flattened_list(value: str) -> bool:
    return value.startswith("[") and value.endswith("]")


def require_iam(event: Mapping[str, Any]) -> None:
    """Refuse a request API Gateway's IAM authorizer did not vouch for.

    The signature is API Gateway's to check; reaching an IAM-only function
    without its verdict means the route lost its authorizer (a template edited
    by hand), and such a request is refused, not served.
    """
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    if not authorizer.get("iam"):
        raise NOT_SIGNED


def _display_name(claims: Mapping[str, Any], user_id: str) -> str:
    name = claims.get("name")
    if isinstance(name, str) and name.strip() and name.isprintable():
        return name.strip()[:MAX_NAME_CHARS]
    return user_id
