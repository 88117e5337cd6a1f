"""`JWT_ISSUER=local make dev`: the gateway's authorizers over real HTTP.

Tokens come from `python -m local.dev_issuer token` (what `make token` runs);
IAM requests are signed by botocore, as an operator's client signs them.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from local import dev_issuer
from tests.process.local_server import (
    HttpResponse,
    LocalServer,
    request_lines,
    run_module,
    start_local_server,
)

UNAUTHORIZED = b'{"message":"Unauthorized"}'
FORBIDDEN = b'{"message":"Forbidden"}'
LOCAL_OPERATOR = Credentials("AKIALOCALOPERATOR", "local-operator-secret")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server with sign-in on (the local issuer), on its own embedded PostgreSQL."""
    folder = tmp_path_factory.mktemp("dev-sign-in")
    running = start_local_server(
        folder / "server.log", "--data-dir", str(folder / "pgdata"), env={"JWT_ISSUER": "local"}
    )
    yield running
    running.interrupt()


def token_for(server: LocalServer, user: str, *options: str) -> str:
    """What `make token USER=user` prints for this server's port."""
    made = run_module("local.dev_issuer", "token", user, *options, env={"PORT": str(server.port)})
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def with_token(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def signed_request(
    server: LocalServer,
    method: str,
    path: str,
    body: bytes = b"",
    credentials: Credentials = LOCAL_OPERATOR,
) -> HttpResponse:
    """The request signed with SigV4 by botocore, sent as signed."""
    headers = {"Content-Type": "application/json"} if body else {}
    aws = AWSRequest(method=method, url=server.base_url + path, data=body, headers=headers)
    SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(aws)
    return server.request(method, path, body or None, dict(aws.headers.items()))


def console_line(server: LocalServer, method: str, path: str) -> tuple[int, str, str]:
    """Status, outcome and answerer of the last console line for this request."""
    for _ in range(50):  # the line is written after the response is sent
        found = [
            line
            for line in request_lines(server.log())
            if (line.method, line.path) == (method, path)
        ]
        if found:
            return found[-1].status, found[-1].outcome, found[-1].function
        time.sleep(0.05)
    raise AssertionError(f"no console line for {method} {path}")


GUARDED = [
    ("POST", "/bookings", b'{"date": "2031-05-05", "time": "10:00"}'),
    ("GET", "/bookings?user_id=user_alice", None),
    ("GET", "/bookings/booking_abc", None),
    ("DELETE", "/bookings/booking_abc", None),
]


def test_the_console_says_sign_in_is_on_with_the_local_issuer(server: LocalServer) -> None:
    issuer = f"http://127.0.0.1:{server.port}/dev-issuer"
    assert f"sign-in on: issuer {issuer}, audience appointments-local" in server.log()


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "no token in the Authorization header"),
        ("Bearer not.a.token", "the token is not a JWT"),
        ("expired", "the token has expired"),
        ("for port 3000", "the token's issuer is not {issuer}"),
        ("for another audience", "the token's audience is not appointments-local"),
        ("signed by another key", "the signature does not verify with the key of {issuer}"),
    ],
    ids=["no-token", "garbage", "expired", "issuer", "audience", "signature"],
)
def test_guarded_routes_refuse_a_missing_or_bad_token_before_the_function_saying_why(
    server: LocalServer,
    method: str,
    path: str,
    body: bytes | None,
    authorization: str | None,
    reason: str,
    tmp_path: Path,
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = _bad_authorization(server, authorization, tmp_path)

    response = server.request(method, path, body, headers)

    assert (response.status, response.body) == (401, UNAUTHORIZED)
    assert response.headers["Content-Type"] == "application/json"
    # Why, as API Gateway's access log says it ($context.authorizer.error);
    # "-": API Gateway answered, the function was not invoked.
    why = reason.format(issuer=dev_issuer.issuer_url(server.port))
    assert console_line(server, method, path.partition("?")[0]) == (
        401,
        f"Unauthorized ({why})",
        "-",
    )


def _bad_authorization(server: LocalServer, kind: str, tmp_path: Path) -> str:
    """An Authorization header the JWT authorizer refuses for one reason."""
    # Signed with the local issuer's own key (the server reads the same file):
    # only the named claim, or the key, is wrong.
    valid = token_for(server, "user_alice")
    header = jwt.get_unverified_header(valid)
    claims = jwt.decode(valid, options={"verify_signature": False})
    key = dev_issuer.signing_key()
    if kind == "expired":
        claims = {**claims, "iat": claims["iat"] - 7200, "nbf": claims["iat"] - 7200}
        claims["exp"] = claims["iat"] + 3600
    elif kind == "for port 3000":  # what `make token` prints in a shell without PORT
        claims["iss"] = dev_issuer.issuer_url(3000)
    elif kind == "for another audience":
        claims["aud"] = "another-app"
    elif kind == "signed by another key":
        key = dev_issuer.signing_key(tmp_path)
    else:
        return kind
    return f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers=header)}"


def test_the_token_hint_works_for_this_servers_port(server: LocalServer) -> None:
    """`JWT_ISSUER=local PORT=... make dev` names the `make token` that works in another shell."""
    hint = re.search(r"\((.*make token USER=user_alice) prints a token\)", server.log())
    assert hint is not None
    *settings, make, target, user = shlex.split(hint[1])
    assert (settings, make, target, user) == (
        [f"PORT={server.port}"],
        "make",
        "token",
        "USER=user_alice",
    )
    # What `make token` runs, in a shell with only the hint's settings.
    made = run_module(
        "local.dev_issuer",
        "token",
        "user_alice",
        env={"PORT": "", **dict(setting.split("=", 1) for setting in settings)},
    )
    token = made.stdout.strip()

    response = server.request("GET", "/bookings?user_id=user_alice", None, with_token(token))
    assert response.status == 200


def test_public_routes_answer_without_a_token(server: LocalServer) -> None:
    assert server.request("GET", "/health").status == 200
    assert server.request("GET", "/slots?date=2031-05-05").status == 200
    assert server.request("GET", "/availability?from=2031-05-05&to=2031-05-06").status == 200


def test_a_token_from_make_token_is_accepted_and_names_the_caller(server: LocalServer) -> None:
    token = token_for(server, "user_alice")
    booked = server.request(
        "POST",
        "/bookings",
        json.dumps({"date": "2031-05-06", "time": "10:00"}).encode(),
        with_token(token, **{"Content-Type": "application/json"}),
    )
    listed = server.request("GET", "/bookings", None, with_token(token))

    assert booked.status == 200, booked.body
    assert console_line(server, "POST", "/bookings")[2].startswith("BookingsFunction")
    assert listed.status == 200, listed.body
    assert [b["booking_id"] for b in listed.json["bookings"]] == [booked.json["booking_id"]]
    assert listed.json["bookings"][0]["user_id"] == "user_alice"


def test_only_an_admin_token_may_list_another_users_bookings(server: LocalServer) -> None:
    path = "/bookings?user_id=user_bob"
    as_alice = server.request("GET", path, None, with_token(token_for(server, "user_alice")))
    as_admin = server.request("GET", path, None, with_token(token_for(server, "ops", "--admin")))

    assert (as_alice.status, as_alice.json) == (403, {"error": "Forbidden"})
    assert as_admin.status == 200


def test_the_local_issuer_publishes_its_discovery_document_and_keys(server: LocalServer) -> None:
    issuer = f"http://127.0.0.1:{server.port}/dev-issuer"
    discovery = server.request("GET", "/dev-issuer/.well-known/openid-configuration")
    keys = server.request("GET", "/dev-issuer/.well-known/jwks.json")
    kid = jwt.get_unverified_header(token_for(server, "user_alice"))["kid"]

    assert discovery.status == 200
    assert discovery.json["issuer"] == issuer
    assert discovery.json["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert keys.status == 200
    assert [key["kid"] for key in keys.json["keys"]] == [kid]


class TestUsersRoutesNeedSigV4:
    def test_unsigned_requests_are_forbidden_before_the_function(self, server: LocalServer) -> None:
        for method, body in (("GET", None), ("PUT", b'{"name": "Zed"}')):
            response = server.request(method, "/users/user_zed", body)
            assert (response.status, response.body) == (403, FORBIDDEN)
            assert console_line(server, method, "/users/user_zed") == (
                403,
                "Forbidden (no SigV4 signature in the Authorization header)",
                "-",
            )

    def test_a_token_is_no_signature(self, server: LocalServer) -> None:
        headers = with_token(token_for(server, "ops", "--admin"))
        response = server.request("GET", "/users/user_alice", None, headers)
        assert (response.status, response.body) == (403, FORBIDDEN)

    def test_a_botocore_signed_put_then_get_reaches_the_function(self, server: LocalServer) -> None:
        created = signed_request(server, "PUT", "/users/user_zed", b'{"name": "Zed"}')
        found = signed_request(server, "GET", "/users/user_zed")

        assert console_line(server, "PUT", "/users/user_zed")[2].startswith("UsersFunction")
        assert created.status == 201, created.body
        assert (found.status, found.json["name"]) == (200, "Zed")

    def test_a_signature_with_the_wrong_secret_does_not_match(self, server: LocalServer) -> None:
        wrong = Credentials("AKIALOCALOPERATOR", "guessed")
        response = signed_request(server, "GET", "/users/user_alice", credentials=wrong)

        assert response.status == 403
        assert response.json["message"].startswith("The request signature we calculated")


def test_the_console_shows_no_token_claim_or_signature(server: LocalServer) -> None:
    # A user named only inside the token: its name must not reach the console.
    token = token_for(server, "user_only_in_the_token", "--admin")
    claims = jwt.decode(token, options={"verify_signature": False})
    server.request("GET", "/bookings", None, with_token(token))
    server.request("GET", "/bookings", None, {"Authorization": token[:-4] + "AAAA"})
    body = b'{"name": "Quiet"}'
    aws = AWSRequest(method="PUT", url=server.base_url + "/users/user_q", data=body)
    SigV4Auth(LOCAL_OPERATOR, "execute-api", "eu-west-1").add_auth(aws)
    server.request("PUT", "/users/user_q", body, dict(aws.headers.items()))
    server.request("GET", "/bookings?user_id=user_only_in_the_query", None, with_token(token))
    console_line(server, "GET", "/bookings")

    log = server.log()
    signature = aws.headers["Authorization"].rpartition("Signature=")[2]
    for secret in (*token.split("."), claims["sub"], claims["jti"], signature, "Bearer"):
        assert secret not in log
    assert "appointments/admin" not in log
    assert "user_only_in_the_query" not in log  # no query strings either
