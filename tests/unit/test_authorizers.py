"""make dev's authorizers, checked with real RS256 tokens and real botocore SigV4 signatures."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import stat
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization

from local import dev_issuer
from local.authorizers import (
    FORBIDDEN,
    SIGNATURE_MISMATCH,
    UNAUTHORIZED,
    ConfigurationError,
    IamCredentials,
    JwtSettings,
    LocalIssuerKeys,
    Refused,
    Request,
    describe,
    function_environment,
    settings_from_environment,
    verify_jwt,
    verify_sigv4,
)

ISSUER = "http://127.0.0.1:3000/dev-issuer"
AUDIENCE = "appointments-local"


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local issuer's folder, its key made once for the module."""
    folder = tmp_path_factory.mktemp("dev-issuer")
    dev_issuer.signing_key(folder)
    return folder


@pytest.fixture(scope="module")
def settings(key_dir: Path) -> JwtSettings:
    return JwtSettings(ISSUER, (AUDIENCE, "another-client"), key_dir)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user_alice", "iat": now, "exp": now + 600}
    return {name: value for name, value in {**base, **changes}.items() if value is not None}


def signed_token(key_dir: Path, payload: dict[str, Any], **header: Any) -> str:
    key = dev_issuer.signing_key(key_dir)
    headers = {"kid": dev_issuer.public_jwk(key)["kid"], **header}
    return jwt.encode(payload, key, algorithm="RS256", headers=headers)


def verdict(token: str | None, settings: JwtSettings) -> dict[str, Any] | Refused:
    assert settings.local_key_dir is not None
    return verify_jwt(token, settings, LocalIssuerKeys(settings.local_key_dir))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestJwtAuthorizer:
    def test_a_valid_token_gives_the_function_its_claims_as_strings(
        self, key_dir: Path, settings: JwtSettings
    ) -> None:
        payload = claims(scope="openid")
        token = signed_token(key_dir, payload)

        assert verdict(f"Bearer {token}", settings) == {
            "jwt": {
                "claims": {
                    "iss": ISSUER,
                    "aud": AUDIENCE,
                    "sub": "user_alice",
                    "iat": str(payload["iat"]),
                    "exp": str(payload["exp"]),
                    "scope": "openid",
                },
                "scopes": None,
            }
        }

    def test_claims_are_flattened_as_api_gateway_flattens_them(
        self, key_dir: Path, settings: JwtSettings
    ) -> None:
        payload = claims(
            **{"cognito:groups": ["admins", "staff"], "email_verified": True, "mfa": False},
            auth_time=1700000000,
            ratio=1.5,
            address={"country": "DE"},
        )
        found = verdict(signed_token(key_dir, payload), settings)

        assert isinstance(found, dict)
        flat = found["jwt"]["claims"]
        assert flat["cognito:groups"] == "[admins staff]"
        assert (flat["email_verified"], flat["mfa"]) == ("true", "false")
        assert (flat["auth_time"], flat["ratio"]) == ("1700000000", "1.5")
        assert flat["address"] == '{"country":"DE"}'

    @pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""])
    def test_the_bearer_prefix_is_optional(
        self, key_dir: Path, settings: JwtSettings, prefix: str
    ) -> None:
        token = signed_token(key_dir, claims())
        assert isinstance(verdict(prefix + token, settings), dict)

    @pytest.mark.parametrize("header", [None, "", "Bearer ", "Bearer", "not-a-jwt"])
    def test_a_missing_or_malformed_header_is_unauthorized(
        self, settings: JwtSettings, header: str | None
    ) -> None:
        assert verdict(header, settings) == UNAUTHORIZED

    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param({"exp": int(time.time()) - 5}, id="expired"),
            pytest.param({"exp": None}, id="no-exp"),
            pytest.param({"nbf": int(time.time()) + 600}, id="nbf-in-the-future"),
            pytest.param({"iat": int(time.time()) + 600}, id="iat-in-the-future"),
            pytest.param({"aud": "someone-else"}, id="wrong-audience"),
            pytest.param({"aud": ["someone-else", "x"]}, id="wrong-audience-list"),
            pytest.param({"aud": None}, id="no-audience-no-client-id"),
            pytest.param({"iss": "http://127.0.0.1:3000/other"}, id="wrong-issuer"),
            pytest.param({"iss": None}, id="no-issuer"),
        ],
    )
    def test_a_token_failing_a_claim_check_is_unauthorized(
        self, key_dir: Path, settings: JwtSettings, changes: dict[str, Any]
    ) -> None:
        assert verdict(signed_token(key_dir, claims(**changes)), settings) == UNAUTHORIZED

    def test_one_accepted_audience_in_a_list_is_enough(
        self, key_dir: Path, settings: JwtSettings
    ) -> None:
        token = signed_token(key_dir, claims(aud=["someone-else", "another-client"]))
        assert isinstance(verdict(token, settings), dict)

    def test_client_id_stands_for_aud_only_when_there_is_no_aud(
        self, key_dir: Path, settings: JwtSettings
    ) -> None:
        cognito_access_token = signed_token(key_dir, claims(aud=None, client_id=AUDIENCE))
        aud_wins = signed_token(key_dir, claims(aud="someone-else", client_id=AUDIENCE))

        assert isinstance(verdict(cognito_access_token, settings), dict)
        assert verdict(aud_wins, settings) == UNAUTHORIZED

    def test_a_tampered_payload_is_unauthorized(self, key_dir: Path, settings: JwtSettings) -> None:
        header, _, signature = signed_token(key_dir, claims()).split(".")
        forged = b64(json.dumps(claims(sub="user_bob")).encode())
        assert verdict(f"{header}.{forged}.{signature}", settings) == UNAUTHORIZED

    def test_a_tampered_signature_is_unauthorized(
        self, key_dir: Path, settings: JwtSettings
    ) -> None:
        header, payload, signature = signed_token(key_dir, claims()).split(".")
        raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        raw[10] ^= 0x01
        assert verdict(f"{header}.{payload}.{b64(bytes(raw))}", settings) == UNAUTHORIZED

    def test_a_token_of_another_key_with_the_same_kid_is_unauthorized(
        self, key_dir: Path, settings: JwtSettings, tmp_path: Path
    ) -> None:
        kid = dev_issuer.public_jwk(dev_issuer.signing_key(key_dir))["kid"]
        impostor = dev_issuer.signing_key(tmp_path)
        token = jwt.encode(claims(), impostor, algorithm="RS256", headers={"kid": kid})
        assert verdict(token, settings) == UNAUTHORIZED

    def test_alg_none_is_unauthorized(self, key_dir: Path, settings: JwtSettings) -> None:
        kid = dev_issuer.public_jwk(dev_issuer.signing_key(key_dir))["kid"]
        header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        payload = b64(json.dumps(claims()).encode())
        assert verdict(f"{header}.{payload}.", settings) == UNAUTHORIZED

    def test_hs256_signed_with_the_public_key_as_secret_is_unauthorized(
        self, key_dir: Path, settings: JwtSettings
    ) -> None:
        public = dev_issuer.signing_key(key_dir).public_key()
        secret = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = dev_issuer.public_jwk(dev_issuer.signing_key(key_dir))["kid"]
        signing_input = (
            b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
            + "."
            + b64(json.dumps(claims()).encode())
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert verdict(f"{signing_input}.{b64(mac)}", settings) == UNAUTHORIZED

    def test_an_unknown_kid_is_unauthorized(self, key_dir: Path, settings: JwtSettings) -> None:
        assert verdict(signed_token(key_dir, claims(), kid="not-ours"), settings) == UNAUTHORIZED

    def test_a_token_of_the_dev_issuer_command_is_accepted(
        self, key_dir: Path, settings: JwtSettings
    ) -> None:
        token = dev_issuer.issue_token(
            "ops", issuer=ISSUER, audience=AUDIENCE, scopes=["openid", "x/admin"], key_dir=key_dir
        )
        found = verdict(token, settings)
        assert isinstance(found, dict)
        assert found["jwt"]["claims"]["sub"] == "ops"
        assert found["jwt"]["claims"]["scope"] == "openid x/admin"


class TestRefusalReasons:
    """Why a request was refused, for the console only: never a token's or a claim's value."""

    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            (None, "no token in the Authorization header"),
            ("", "no token in the Authorization header"),
            ("not-a-jwt", "the token is not a JWT"),
        ],
    )
    def test_a_missing_or_unreadable_token(
        self, settings: JwtSettings, header: str | None, reason: str
    ) -> None:
        refused = verdict(header, settings)
        assert isinstance(refused, Refused)
        assert (refused, refused.reason) == (UNAUTHORIZED, reason)

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"exp": int(time.time()) - 5}, "the token has expired"),
            (
                {"nbf": int(time.time()) + 600},
                "the token is not valid yet (nbf or iat in the future)",
            ),
            ({"iss": "http://127.0.0.1:3711/dev-issuer"}, f"the token's issuer is not {ISSUER}"),
            ({"exp": None}, "the token has no exp claim"),
            ({"iss": None}, "the token has no iss claim"),
            (
                {"aud": "someone-else"},
                f"the token's audience is not {AUDIENCE} or another-client",
            ),
        ],
    )
    def test_a_failed_claim_check_names_the_check(
        self, key_dir: Path, settings: JwtSettings, changes: dict[str, Any], reason: str
    ) -> None:
        refused = verdict(signed_token(key_dir, claims(**changes)), settings)
        assert isinstance(refused, Refused)
        assert (refused, refused.reason) == (UNAUTHORIZED, reason)
        assert "someone-else" not in refused.reason and "3711" not in refused.reason

    def test_a_bad_signature_an_unknown_key_and_another_alg_are_told_apart(
        self, key_dir: Path, settings: JwtSettings, tmp_path: Path
    ) -> None:
        kid = dev_issuer.public_jwk(dev_issuer.signing_key(key_dir))["kid"]
        impostor = jwt.encode(
            claims(), dev_issuer.signing_key(tmp_path), algorithm="RS256", headers={"kid": kid}
        )
        unknown_kid = signed_token(key_dir, claims(), kid="not-ours")
        alg_none = b64(json.dumps({"alg": "none", "kid": kid}).encode()) + ".e30."

        reasons = [
            refused.reason
            for refused in (verdict(t, settings) for t in (impostor, unknown_kid, alg_none))
            if isinstance(refused, Refused)
        ]
        assert reasons == [
            f"the signature does not verify with the key of {ISSUER}",
            f"no key of {ISSUER} has the token's kid",
            "the token is not signed with RS256",
        ]

    def test_an_unsigned_iam_request_is_forbidden_for_want_of_a_signature(self) -> None:
        refused = verify_sigv4(Request("GET", "/users/u1", "", {}, None), LOCAL_KEY)
        assert isinstance(refused, Refused)
        assert (refused, refused.reason) == (
            FORBIDDEN,
            "no SigV4 signature in the Authorization header",
        )


class TestTokenHint:
    """The `make token` command make dev prints: what works in another terminal, for this server."""

    def test_on_the_default_port_and_audience_it_is_the_plain_command(self) -> None:
        assert dev_issuer.token_command(3000, AUDIENCE) == "make token USER=user_alice"

    def test_another_port_is_spelled_out(self) -> None:
        assert dev_issuer.token_command(3711, AUDIENCE) == "PORT=3711 make token USER=user_alice"

    def test_another_audience_is_spelled_out_quoted_for_the_shell(self) -> None:
        assert dev_issuer.token_command(3711, "my app") == (
            "PORT=3711 JWT_AUDIENCE='my app' make token USER=user_alice"
        )

    def test_the_sign_in_line_carries_the_hint_for_its_port(self) -> None:
        settings = settings_from_environment({"JWT_ISSUER": "local"}, 3711)
        assert describe(settings, 3711) == (
            "sign-in on: issuer http://127.0.0.1:3711/dev-issuer, audience appointments-local"
            " (PORT=3711 make token USER=user_alice prints a token)"
        )


class TestDevIssuer:
    def test_the_key_file_is_readable_by_its_owner_only(self, key_dir: Path) -> None:
        mode = stat.S_IMODE((key_dir / "signing-key.pem").stat().st_mode)
        assert mode == 0o600

    def test_processes_starting_at_once_end_up_with_one_key(self, tmp_path: Path) -> None:
        kids: list[str] = []
        start = threading.Barrier(8)

        def first_use() -> None:
            start.wait(timeout=10)
            kids.append(dev_issuer.public_jwk(dev_issuer.signing_key(tmp_path))["kid"])

        threads = [threading.Thread(target=first_use) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert len(kids) == 8 and len(set(kids)) == 1
        assert [p.name for p in tmp_path.iterdir()] == ["signing-key.pem"]  # no drafts left

    def test_the_jwks_and_discovery_document_describe_the_key(self, key_dir: Path) -> None:
        (key,) = dev_issuer.jwks(key_dir)["keys"]
        document = dev_issuer.discovery_document(ISSUER)

        assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
        assert document["issuer"] == ISSUER
        assert document["jwks_uri"] == "http://127.0.0.1:3000/dev-issuer/.well-known/jwks.json"


class TestSettings:
    def test_sign_in_is_off_without_jwt_issuer(self) -> None:
        settings = settings_from_environment({}, 3000)
        assert settings.jwt is None
        assert function_environment(settings, {}) == {}

    def test_local_resolves_to_the_local_issuer_with_its_defaults(self) -> None:
        settings = settings_from_environment({"JWT_ISSUER": "local"}, 4123)

        assert settings.jwt == JwtSettings(
            "http://127.0.0.1:4123/dev-issuer", (AUDIENCE,), dev_issuer.KEY_DIR
        )
        assert function_environment(settings, {"JWT_ISSUER": "local"}) == {
            "JWT_ISSUER": "http://127.0.0.1:4123/dev-issuer",
            "JWT_ADMIN_SCOPE": "appointments/admin",
        }

    def test_the_shells_audience_and_admin_scope_win(self) -> None:
        shell = {"JWT_ISSUER": "local", "JWT_AUDIENCE": "a, b", "JWT_ADMIN_SCOPE": "shop/admin"}
        settings = settings_from_environment(shell, 3000)

        assert settings.jwt is not None and settings.jwt.audiences == ("a", "b")
        assert function_environment(settings, shell)["JWT_ADMIN_SCOPE"] == "shop/admin"

    def test_an_empty_admin_scope_is_the_local_default_as_for_make_token(self) -> None:
        shell = {"JWT_ISSUER": "local", "JWT_ADMIN_SCOPE": ""}
        settings = settings_from_environment(shell, 3000)
        assert function_environment(settings, shell)["JWT_ADMIN_SCOPE"] == "appointments/admin"

    def test_another_issuer_is_fetched_over_https_and_needs_an_audience(self) -> None:
        with pytest.raises(ConfigurationError, match="https://"):
            settings_from_environment({"JWT_ISSUER": "http://example.com", "JWT_AUDIENCE": "a"}, 1)
        with pytest.raises(ConfigurationError, match="JWT_AUDIENCE"):
            settings_from_environment({"JWT_ISSUER": "https://example.com"}, 1)
        remote = settings_from_environment(
            {"JWT_ISSUER": "https://example.com/pool/", "JWT_AUDIENCE": "a"}, 1
        )
        assert remote.jwt == JwtSettings("https://example.com/pool/", ("a",), None)

    def test_the_iam_key_is_the_shells_or_the_default(self) -> None:
        assert settings_from_environment({}, 1).iam == IamCredentials(
            "AKIALOCALOPERATOR", "local-operator-secret"
        )
        shell = {"DEV_IAM_ACCESS_KEY_ID": "AKIAOTHER", "DEV_IAM_SECRET_ACCESS_KEY": "s"}
        assert settings_from_environment(shell, 1).iam == IamCredentials("AKIAOTHER", "s")


# --- SigV4 -------------------------------------------------------------------

LOCAL_KEY = IamCredentials("AKIALOCALOPERATOR", "local-operator-secret")
HOST = "127.0.0.1:3000"


def botocore_signed(
    method: str,
    path_and_query: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    secret: str = LOCAL_KEY.secret_access_key,
    access_key: str = LOCAL_KEY.access_key_id,
    service: str = "execute-api",
) -> Request:
    """The request as a client signing with botocore sends it (urllib adds Host)."""
    aws = AWSRequest(
        method=method, url=f"http://{HOST}{path_and_query}", data=body, headers=headers or {}
    )
    SigV4Auth(Credentials(access_key, secret), service, "eu-west-1").add_auth(aws)
    sent = {name.lower(): value for name, value in aws.headers.items()}
    url = urlsplit(aws.url)
    return Request(method, url.path, url.query, {"host": HOST, **sent}, body or None)


def with_header(request: Request, name: str, value: str) -> Request:
    return Request(
        request.method, request.path, request.query, {**request.headers, name: value}, request.body
    )


OPERATOR = {
    "iam": {
        "accessKey": "AKIALOCALOPERATOR",
        "accountId": "000000000000",
        "callerId": "AIDALOCALOPERATOR",
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": "arn:aws:iam::000000000000:user/local-operator",
        "userId": "AIDALOCALOPERATOR",
    }
}
JSON = {"Content-Type": "application/json"}


class TestSigV4:
    def test_a_signed_get_is_the_local_operator(self) -> None:
        assert verify_sigv4(botocore_signed("GET", "/users/user_alice"), LOCAL_KEY) == OPERATOR

    def test_a_signed_put_with_a_json_body_and_a_query(self) -> None:
        request = botocore_signed("PUT", "/users/u%201?b=2&a=1", b'{"name": "Ann"}', JSON)
        assert verify_sigv4(request, LOCAL_KEY) == OPERATOR

    def test_a_missing_or_other_authorization_is_forbidden(self) -> None:
        unsigned = Request("GET", "/users/u", "", {"host": HOST}, None)
        bearer = with_header(unsigned, "authorization", "Bearer abc")

        assert verify_sigv4(unsigned, LOCAL_KEY) == FORBIDDEN
        assert verify_sigv4(bearer, LOCAL_KEY) == FORBIDDEN

    def test_a_wrong_secret_does_not_match(self) -> None:
        request = botocore_signed("GET", "/users/u", secret="guessed")
        assert verify_sigv4(request, LOCAL_KEY) == SIGNATURE_MISMATCH

    def test_a_body_changed_after_signing_does_not_match(self) -> None:
        signed = botocore_signed("PUT", "/users/u", b'{"name": "Ann"}', JSON)
        changed = Request(signed.method, signed.path, "", signed.headers, b'{"name": "Eve"}')
        assert verify_sigv4(changed, LOCAL_KEY) == SIGNATURE_MISMATCH

    def test_a_stale_content_hash_header_does_not_cover_a_changed_body(self) -> None:
        headers = {**JSON, "X-Amz-Content-SHA256": hashlib.sha256(b'{"name": "Ann"}').hexdigest()}
        signed = botocore_signed("PUT", "/users/u", b'{"name": "Ann"}', headers)
        changed = Request(signed.method, signed.path, "", signed.headers, b'{"name": "Eve"}')

        refused = verify_sigv4(changed, LOCAL_KEY)
        assert isinstance(refused, Refused) and refused.status == 403
        assert verify_sigv4(signed, LOCAL_KEY) == OPERATOR

    @pytest.mark.parametrize(
        ("name", "value"),
        [("content-type", "text/plain"), ("host", "evil.example"), ("x-amz-date", "")],
    )
    def test_a_signed_header_changed_after_signing_does_not_match(
        self, name: str, value: str
    ) -> None:
        signed = botocore_signed("PUT", "/users/u", b"{}", JSON)
        if name == "x-amz-date":  # a second later: still fresh, no longer what was signed
            signed_at = datetime.datetime.strptime(signed.headers[name], "%Y%m%dT%H%M%SZ")
            value = (signed_at + datetime.timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
        assert verify_sigv4(with_header(signed, name, value), LOCAL_KEY) == SIGNATURE_MISMATCH

    def test_a_changed_path_or_query_does_not_match(self) -> None:
        signed = botocore_signed("GET", "/users/u?a=1")
        other_path = Request("GET", "/users/v", "a=1", signed.headers, None)
        other_query = Request("GET", "/users/u", "a=2", signed.headers, None)
        assert verify_sigv4(other_path, LOCAL_KEY) == SIGNATURE_MISMATCH
        assert verify_sigv4(other_query, LOCAL_KEY) == SIGNATURE_MISMATCH

    def test_a_signature_older_than_five_minutes_has_expired(self) -> None:
        request = botocore_signed("GET", "/users/u")
        six_minutes_later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=6)

        refused = verify_sigv4(request, LOCAL_KEY, now=six_minutes_later)
        assert isinstance(refused, Refused) and refused.status == 403
        assert refused.message.startswith(
            f"Signature expired: {request.headers['x-amz-date']} is now earlier than "
        )
        assert refused.message.endswith(" - 5 min.)")

    def test_a_signature_from_more_than_five_minutes_ahead_is_not_yet_current(self) -> None:
        request = botocore_signed("GET", "/users/u")
        earlier = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=6)

        refused = verify_sigv4(request, LOCAL_KEY, now=earlier)
        assert isinstance(refused, Refused) and refused.status == 403
        assert refused.message.startswith("Signature not yet current: ")

    def test_a_signature_for_another_service_is_refused(self) -> None:
        request = botocore_signed("GET", "/users/u", service="lambda")
        assert verify_sigv4(request, LOCAL_KEY) == Refused(
            403, "Credential should be scoped to correct service: 'execute-api'."
        )

    def test_another_access_key_is_refused(self) -> None:
        request = botocore_signed("GET", "/users/u", access_key="AKIASOMEONEELSE")
        assert verify_sigv4(request, LOCAL_KEY) == Refused(
            403, "The security token included in the request is invalid."
        )

    def test_a_malformed_sigv4_header_is_forbidden_with_its_reason(self) -> None:
        request = with_header(
            botocore_signed("GET", "/users/u"), "authorization", "AWS4-HMAC-SHA256 Signature=ab"
        )
        refused = verify_sigv4(request, LOCAL_KEY)
        assert isinstance(refused, Refused) and refused.status == 403
        assert "Credential" in refused.message
