"""The API's authorizers as `make dev` runs them: API Gateway's JWT and IAM checks.

A route's authorizer (template.yaml, read by local/template.py) runs after the
route is matched and before the function is invoked; a refusal is API
Gateway's own answer and the function never runs.

JWT authorizer (the /bookings routes, only when sign-in is on, JWT_ISSUER set):
checked locally as API Gateway checks it -- the Authorization header, with or
without "Bearer "; an RS256 signature (alg none, HS256 and every other alg are
refused) by the issuer's key named by the token's kid; iss equal to the
issuer; aud, or client_id when there is no aud, one of the audiences; exp in
the future; nbf and iat, when present, not in the future. The keys of
JWT_ISSUER=local are read from .local/dev-issuer/; any other issuer's come
from its OIDC discovery document over HTTPS, cached. Anything wrong: 401
{"message":"Unauthorized"}. The function gets the claims flattened to strings
as API Gateway flattens them, in requestContext.authorizer.jwt.

IAM authorizer (AWS_IAM: the /users routes, always): checked locally -- a
SigV4 Authorization header (AWS4-HMAC-SHA256; presigned URLs are not
supported); its credential scoped to the service execute-api; the access key
is DEV_IAM_ACCESS_KEY_ID; host among the signed headers; X-Amz-Date within 5
minutes of now and on the credential's date; an X-Amz-Content-SHA256 header,
if sent, the body's hash; and the signature, recomputed with botocore from the
request's own method, path, query, signed headers, body hash and timestamp,
with DEV_IAM_SECRET_ACCESS_KEY. Checked only by AWS: that the key belongs to
a real, active principal of the account; an X-Amz-Security-Token (temporary
credentials: passed through unchecked here); the credential's region; and
the IAM policy evaluation -- whether that principal may execute-api:Invoke
the route (here the one local key may call every IAM route). Missing: 403
{"message":"Forbidden"}; wrong: 403 with AWS's words for what is wrong. The
function gets requestContext.authorizer.iam naming a local operator.

Nothing here logs a token, a claim or a signature.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jwt
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from local import dev_issuer
from local.http_api_event import (
    LOCAL_OPERATOR_ACCESS_KEY_ID,
    iam_authorizer_context,
    jwt_authorizer_context,
)
from local.template import IAM_AUTHORIZER, NO_AUTHORIZER

# The access key `make dev` accepts on IAM routes, unless the shell sets its own.
DEFAULT_IAM_ACCESS_KEY_ID = LOCAL_OPERATOR_ACCESS_KEY_ID
DEFAULT_IAM_SECRET_ACCESS_KEY = "local-operator-secret"  # noqa: S105 (local only, documented)

SIGV4_SERVICE = "execute-api"
_SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
_SIGV4_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)
_DISCOVERY_TIMEOUT_SECONDS = 5


class ConfigurationError(ValueError):
    """The shell's JWT_* or DEV_IAM_* settings cannot be used."""


@dataclass(frozen=True)
class JwtSettings:
    issuer: str
    audiences: tuple[str, ...]
    # The local issuer's key folder: its keys are read, not fetched over HTTP.
    local_key_dir: Path | None = None


@dataclass(frozen=True)
class IamCredentials:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class AuthorizationSettings:
    jwt: JwtSettings | None  # None: sign-in off
    iam: IamCredentials


@dataclass(frozen=True)
class Request:
    """What the authorizers read of a request: as sent, nothing decoded."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes | None


@dataclass(frozen=True)
class Refused:
    """API Gateway's own answer: status and {"message": ...}; and, for the console only, why."""

    status: int
    message: str
    # What API Gateway's access log shows as $context.authorizer.error: never
    # sent to the client, and no part of the token in it. Not part of equality:
    # the answer is the same whatever the reason.
    reason: str = field(default="", compare=False)


UNAUTHORIZED = Refused(401, "Unauthorized")
FORBIDDEN = Refused(403, "Forbidden")
SIGNATURE_MISMATCH = Refused(
    403,
    "The request signature we calculated does not match the signature you provided."
    " Check your AWS Secret Access Key and signing method."
    " Consult the service documentation for details.",
)


def _unauthorized(reason: str) -> Refused:
    return replace(UNAUTHORIZED, reason=reason)


# No shell settings: sign-in off, and the IAM routes take the default local key.
DEFAULT_AUTHORIZATION = AuthorizationSettings(
    None, IamCredentials(DEFAULT_IAM_ACCESS_KEY_ID, DEFAULT_IAM_SECRET_ACCESS_KEY)
)

# A verified request's requestContext.authorizer; None when the route has none.
AuthorizerContext = dict[str, Any]


# --- settings ---------------------------------------------------------------


def settings_from_environment(environ: Mapping[str, str], port: int) -> AuthorizationSettings:
    """The authorizers `make dev` on `port` runs, from the shell's variables."""
    iam = IamCredentials(
        environ.get("DEV_IAM_ACCESS_KEY_ID") or DEFAULT_IAM_ACCESS_KEY_ID,
        environ.get("DEV_IAM_SECRET_ACCESS_KEY") or DEFAULT_IAM_SECRET_ACCESS_KEY,
    )
    issuer = environ.get("JWT_ISSUER", "").strip()
    if not issuer:
        return AuthorizationSettings(None, iam)
    if issuer == dev_issuer.LOCAL_ISSUER:
        audiences = _audiences(environ) or (dev_issuer.DEFAULT_AUDIENCE,)
        local = JwtSettings(dev_issuer.issuer_url(port), audiences, dev_issuer.KEY_DIR)
        return AuthorizationSettings(local, iam)
    if not issuer.startswith("https://"):
        raise ConfigurationError(
            f"JWT_ISSUER={issuer!r}: an issuer's URL starts with https://"
            f" (or set JWT_ISSUER={dev_issuer.LOCAL_ISSUER} for the local issuer)"
        )
    if not (audiences := _audiences(environ)):
        raise ConfigurationError("JWT_ISSUER needs JWT_AUDIENCE (your app client id, for Cognito)")
    # As written: iss must equal it, trailing slash (Auth0's) and all.
    return AuthorizationSettings(JwtSettings(issuer, audiences), iam)


def _audiences(environ: Mapping[str, str]) -> tuple[str, ...]:
    # As the template's !Split [",", JwtAudience].
    return tuple(a.strip() for a in environ.get("JWT_AUDIENCE", "").split(",") if a.strip())


def function_environment(
    settings: AuthorizationSettings, environ: Mapping[str, str]
) -> dict[str, str]:
    """What the functions must see of the sign-in settings (the shell's values win)."""
    if settings.jwt is None:
        return {}
    # The functions know sign-in is on by a non-empty JWT_ISSUER: "local" resolved.
    seen = {"JWT_ISSUER": settings.jwt.issuer}
    if settings.jwt.local_key_dir is not None:
        # The scope `make token ADMIN=1` grants: empty counts as unset, as there.
        seen["JWT_ADMIN_SCOPE"] = dev_issuer.admin_scope(environ)
    return seen


def describe(settings: AuthorizationSettings, port: int) -> str:
    """One console line: whether sign-in is on, with which issuer and audience, for `port`."""
    if settings.jwt is None:
        return "sign-in off (JWT_ISSUER=local turns it on with the local issuer)"
    audiences = ",".join(settings.jwt.audiences)
    line = f"sign-in on: issuer {settings.jwt.issuer}, audience {audiences}"
    if settings.jwt.local_key_dir is not None:
        command = dev_issuer.token_command(port, settings.jwt.audiences[0])
        line += f" ({command} prints a token)"
    return line


# --- the gateway's entry point ------------------------------------------------


class Authorizers:
    """The API's authorizers in one gateway worker, the issuer's keys cached."""

    def __init__(self, settings: AuthorizationSettings, log: Callable[[str], None]) -> None:
        self.settings = settings
        self._log = log
        self._find_key: KeyFinder | None = None  # made on first use, in the worker

    def authorize(self, authorizer: str, request: Request) -> AuthorizerContext | Refused | None:
        """The route's authorizer's verdict: its context, a refusal, or None for no authorizer."""
        if authorizer == NO_AUTHORIZER:
            return None
        if authorizer == IAM_AUTHORIZER:
            return verify_sigv4(request, self.settings.iam)
        if self.settings.jwt is None:
            return None  # !If [SignInOn, name, NONE] with sign-in off
        return verify_jwt(request.headers.get("authorization"), self.settings.jwt, self._keys())

    def _keys(self) -> KeyFinder:
        if self._find_key is None:
            jwt_settings = self.settings.jwt
            assert jwt_settings is not None
            if jwt_settings.local_key_dir is not None:
                self._find_key = LocalIssuerKeys(jwt_settings.local_key_dir)
            else:
                self._find_key = DiscoveredKeys(jwt_settings.issuer, self._log)
        return self._find_key


# --- JWT ----------------------------------------------------------------------

# The issuer's signing key for a kid; raises jwt.PyJWTError when there is none.
KeyFinder = Callable[[str], jwt.PyJWK]


class LocalIssuerKeys:
    """The local issuer's keys, read from its folder: no HTTP to ourselves."""

    def __init__(self, key_dir: Path) -> None:
        self._key_dir = key_dir
        self._keys: dict[str, jwt.PyJWK] = {}

    def __call__(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys:
            # Read again on an unknown kid: the key may be new since (folder deleted).
            key_set = jwt.PyJWKSet.from_dict(dev_issuer.jwks(self._key_dir))
            self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        if kid not in self._keys:
            raise jwt.PyJWKClientError("no key of the local issuer has this kid")
        return self._keys[kid]


class DiscoveredKeys:
    """An issuer's keys from its jwks_uri, found by OIDC discovery, cached."""

    def __init__(self, issuer: str, log: Callable[[str], None]) -> None:
        self._issuer = issuer
        self._log = log
        self._client: jwt.PyJWKClient | None = None

    def __call__(self, kid: str) -> jwt.PyJWK:
        try:
            if self._client is None:
                # PyJWKClient caches the set, and fetches it again for an unknown kid.
                self._client = jwt.PyJWKClient(
                    _jwks_uri(self._issuer), timeout=_DISCOVERY_TIMEOUT_SECONDS
                )
            return self._client.get_signing_key(kid)
        except (OSError, ValueError, jwt.PyJWKClientConnectionError) as error:
            # API Gateway too answers 401 when it cannot get the keys; say why here.
            self._log(f"JWT authorizer: cannot get the keys of {self._issuer}: {error}")
            raise jwt.PyJWKClientConnectionError(str(error)) from error


def _jwks_uri(issuer: str) -> str:
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"  # OIDC Discovery 1.0, 4
    with urllib.request.urlopen(url, timeout=_DISCOVERY_TIMEOUT_SECONDS) as response:  # noqa: S310 (https, checked at start)
        uri = json.load(response).get("jwks_uri")
    if not isinstance(uri, str) or not uri.startswith("https://"):
        raise ValueError(f"{url} names no https jwks_uri")
    return uri


def verify_jwt(
    authorization: str | None, settings: JwtSettings, find_key: KeyFinder
) -> AuthorizerContext | Refused:
    """API Gateway's JWT authorizer: the claims for the function, or 401 saying why."""
    token = _bearer_token(authorization)
    if token is None:
        return _unauthorized("no token in the Authorization header")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return _unauthorized("the token is not a JWT")
    kid = header.get("kid")
    # Checked before any key is looked up: alg none and HS256 (the public key
    # as an HMAC secret) never reach a verifier.
    if header.get("alg") != "RS256":
        return _unauthorized("the token is not signed with RS256")
    if not isinstance(kid, str):
        return _unauthorized("the token names no key (kid)")
    try:
        key = find_key(kid)
    except jwt.PyJWKClientConnectionError:
        return _unauthorized(f"cannot get the keys of {settings.issuer}")
    except jwt.PyJWTError:
        return _unauthorized(f"no key of {settings.issuer} has the token's kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=settings.issuer,
            # aud-or-client_id is API Gateway's own rule: checked below.
            options={"require": ["exp", "iss"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        return _unauthorized(_jwt_error_reason(error, settings))
    if not _audience_accepted(claims, settings.audiences):
        return _unauthorized(f"the token's audience is not {' or '.join(settings.audiences)}")
    return jwt_authorizer_context(claims)  # claims flattened to strings, as API Gateway does


def _jwt_error_reason(error: jwt.PyJWTError, settings: JwtSettings) -> str:
    """Why PyJWT refused a token, in words that name no claim's value."""
    match error:
        case jwt.ExpiredSignatureError():
            return "the token has expired"
        case jwt.ImmatureSignatureError():
            return "the token is not valid yet (nbf or iat in the future)"
        case jwt.InvalidIssuerError():
            return f"the token's issuer is not {settings.issuer}"
        case jwt.MissingRequiredClaimError(claim=claim):
            return f"the token has no {claim} claim"
        case jwt.InvalidSignatureError():
            return f"the signature does not verify with the key of {settings.issuer}"
        case _:
            return "the token cannot be read"


def _bearer_token(authorization: str | None) -> str | None:
    value = (authorization or "").strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


def _audience_accepted(claims: Mapping[str, Any], audiences: tuple[str, ...]) -> bool:
    # API Gateway reads client_id (Cognito's access tokens) only when there is no aud.
    named = claims["aud"] if "aud" in claims else claims.get("client_id")
    candidates = named if isinstance(named, list) else [named]
    return any(isinstance(name, str) and name in audiences for name in candidates)


# --- SigV4 --------------------------------------------------------------------


@dataclass(frozen=True)
class _SigV4Header:
    access_key_id: str
    date: str  # YYYYMMDD of the credential's scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def verify_sigv4(
    request: Request, credentials: IamCredentials, now: datetime.datetime | None = None
) -> AuthorizerContext | Refused:
    """API Gateway's IAM authorizer, as far as it can be checked without AWS (module doc)."""
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith(f"{_SIGV4_ALGORITHM} "):
        return replace(FORBIDDEN, reason="no SigV4 signature in the Authorization header")
    header = _parse_sigv4(authorization)
    if header is None:
        return Refused(
            403,
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'"
            " parameters.",
        )
    refusal = _scope_refusal(header, credentials) or _date_refusal(
        request.headers.get("x-amz-date", ""), header, now or datetime.datetime.now(datetime.UTC)
    )
    if refusal is not None:
        return refusal
    body_hash = hashlib.sha256(request.body or b"").hexdigest()
    if request.headers.get("x-amz-content-sha256", body_hash) != body_hash:
        # botocore signs this header's value instead of hashing the body: a
        # body changed after signing must not pass as its stale hash.
        return Refused(
            403, "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    expected = _expected_signature(request, header, credentials)
    if not hmac.compare_digest(expected, header.signature):
        return SIGNATURE_MISMATCH
    return iam_authorizer_context(credentials.access_key_id)


def _parse_sigv4(authorization: str) -> _SigV4Header | None:
    parameters = dict(
        part.strip().partition("=")[::2]
        for part in authorization.removeprefix(_SIGV4_ALGORITHM).split(",")
    )
    scope = parameters.get("Credential", "").split("/")
    signed = parameters.get("SignedHeaders", "")
    signature = parameters.get("Signature", "")
    if len(scope) != 5 or scope[4] != "aws4_request" or not signed:
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", signature):
        return None
    access_key_id, date, region, service, _ = scope
    return _SigV4Header(access_key_id, date, region, service, tuple(signed.split(";")), signature)


def _scope_refusal(header: _SigV4Header, credentials: IamCredentials) -> Refused | None:
    if header.service != SIGV4_SERVICE:
        return Refused(403, f"Credential should be scoped to correct service: '{SIGV4_SERVICE}'.")
    if header.access_key_id != credentials.access_key_id:
        return Refused(403, "The security token included in the request is invalid.")
    if "host" not in header.signed_headers:
        return Refused(
            403, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    return None


def _date_refusal(amz_date: str, header: _SigV4Header, now: datetime.datetime) -> Refused | None:
    try:
        signed_at = datetime.datetime.strptime(amz_date, _SIGV4_TIME_FORMAT)
    except ValueError:
        return Refused(
            403,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    signed_at = signed_at.replace(tzinfo=datetime.UTC)
    now_text = now.strftime(_SIGV4_TIME_FORMAT)
    if signed_at < now - MAX_CLOCK_SKEW:
        earliest = (now - MAX_CLOCK_SKEW).strftime(_SIGV4_TIME_FORMAT)
        return Refused(
            403,
            f"Signature expired: {amz_date} is now earlier than {earliest} ({now_text} - 5 min.)",
        )
    if signed_at > now + MAX_CLOCK_SKEW:
        latest = (now + MAX_CLOCK_SKEW).strftime(_SIGV4_TIME_FORMAT)
        return Refused(
            403,
            f"Signature not yet current: {amz_date} is still later than {latest}"
            f" ({now_text} + 5 min.)",
        )
    if header.date != amz_date[:8]:
        return Refused(
            403,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date"
            f" from HTTP: '{header.date}' != '{amz_date[:8]}', from 'x-amz-date'.",
        )
    return None


def _expected_signature(request: Request, header: _SigV4Header, credentials: IamCredentials) -> str:
    """The signature of this request with the local secret, as the client's botocore made it."""
    # Only the signed headers, as sent: the canonical request is built from
    # whatever headers the AWSRequest holds.
    headers = {
        name: request.headers[name] for name in header.signed_headers if name in request.headers
    }
    url = f"http://{request.headers.get('host', 'localhost')}{request.path}"
    if request.query:
        url += f"?{request.query}"
    # http: botocore hashes the body then, as it does for every execute-api call.
    aws_request = AWSRequest(
        method=request.method, url=url, headers=headers, data=request.body or b""
    )
    aws_request.context["timestamp"] = request.headers["x-amz-date"]  # the request's own, not now
    signer = SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key),
        SIGV4_SERVICE,
        header.region,  # AWS checks it is the API's region; any is accepted here
    )
    canonical_request = signer.canonical_request(aws_request)
    signature: str = signer.signature(
        signer.string_to_sign(aws_request, canonical_request), aws_request
    )
    return signature
