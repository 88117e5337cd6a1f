"""The local development issuer: `JWT_ISSUER=local make dev` and `make token`.

Stands in for Cognito (or any OIDC provider) on a developer's machine: an RSA
key under .local/dev-issuer/, made on first use, its JWKS and discovery
document (served by the local gateway under /dev-issuer), and tokens signed
with it. Only for `make dev`: the key is a file anyone with the checkout reads.

    python -m local.dev_issuer token user_alice [--admin] [--minutes 60]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shlex
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from local.dev_settings import DEFAULT_PORT, StartupError, port_from_environment

REPO = Path(__file__).resolve().parent.parent
KEY_DIR = REPO / ".local" / "dev-issuer"
_KEY_FILE = "signing-key.pem"

# JWT_ISSUER's value that turns the local issuer on.
LOCAL_ISSUER = "local"
# Where the local gateway serves the issuer: its URL is the token's iss.
ISSUER_PATH = "/dev-issuer"
DISCOVERY_PATH = f"{ISSUER_PATH}/.well-known/openid-configuration"
JWKS_PATH = f"{ISSUER_PATH}/.well-known/jwks.json"
# Defaults with the local issuer; the shell's JWT_AUDIENCE and JWT_ADMIN_SCOPE win.
DEFAULT_AUDIENCE = "appointments-local"
DEFAULT_ADMIN_SCOPE = "appointments/admin"
# Every token's scope; --admin adds the admin scope to it.
BASE_SCOPE = "openid"
DEFAULT_MINUTES = 60


def issuer_url(port: int) -> str:
    """The local issuer's URL, the `iss` of its tokens, for `make dev` on `port`."""
    return f"http://127.0.0.1:{port}{ISSUER_PATH}"


def audience(environ: Mapping[str, str]) -> str:
    """The audience the local issuer's tokens name: JWT_AUDIENCE's first, else the default."""
    return environ.get("JWT_AUDIENCE", "").split(",")[0].strip() or DEFAULT_AUDIENCE


def token_command(port: int, audience: str, user: str = "user_alice") -> str:
    """`make token` as typed in another terminal, for `make dev` on `port` accepting `audience`.

    That terminal has none of this one's settings: the ones a token depends on
    (its iss names the port, its aud the first audience) are spelled out.
    """
    settings = [f"PORT={port}"] if port != DEFAULT_PORT else []
    if audience != DEFAULT_AUDIENCE:
        settings.append(f"JWT_AUDIENCE={shlex.quote(audience)}")
    return " ".join([*settings, f"make token USER={user}"])


def admin_scope(environ: Mapping[str, str]) -> str:
    return environ.get("JWT_ADMIN_SCOPE") or DEFAULT_ADMIN_SCOPE


def signing_key(key_dir: Path = KEY_DIR) -> rsa.RSAPrivateKey:
    """The issuer's private key, generated (RSA 2048) and saved the first time."""
    path = key_dir / _KEY_FILE
    if not path.exists():
        _create_key_file(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key: delete it to get a new one")
    return key


def _create_key_file(path: Path) -> None:
    # Written whole to a file of its own, then linked into place: link refuses
    # an existing name, so when two processes start at once the first key
    # stays and both use it, and no one reads a half-written file.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        os.link(draft, path)
    except FileExistsError:
        pass  # another process's key won
    finally:
        draft.unlink()


def public_jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The key's public half as a JWK, its kid the RFC 7638 thumbprint."""
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    # The thumbprint changes with the key: a token of a deleted key is refused
    # as an unknown kid, not as a bad signature.
    required = {name: jwk[name] for name in ("e", "kty", "n")}
    digest = hashlib.sha256(json.dumps(required, separators=(",", ":")).encode()).digest()
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {**required, "kid": kid, "alg": "RS256", "use": "sig"}


def jwks(key_dir: Path = KEY_DIR) -> dict[str, Any]:
    """The issuer's JSON Web Key Set: what `jwks_uri` answers."""
    return {"keys": [public_jwk(signing_key(key_dir))]}


def discovery_document(issuer: str) -> dict[str, Any]:
    """The OIDC discovery document, as far as a JWT authorizer reads it."""
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "scopes_supported": [BASE_SCOPE, DEFAULT_ADMIN_SCOPE],
    }


def issue_token(
    user: str,
    *,
    issuer: str,
    audience: str,
    scopes: list[str],
    minutes: int = DEFAULT_MINUTES,
    now: int | None = None,
    key_dir: Path = KEY_DIR,
) -> str:
    """A token for `user` (its sub), signed RS256 by the local issuer's key."""
    key = signing_key(key_dir)
    issued_at = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + minutes * 60,
        "scope": " ".join(scopes),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": public_jwk(key)["kid"]})


def _minutes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes (1 or more)")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.dev_issuer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a signed token for `make dev`")
    token.add_argument("user", help="the token's sub: the user_id it books as")
    token.add_argument("--admin", action="store_true", help="add the admin scope to `scope`")
    token.add_argument("--minutes", type=_minutes, default=DEFAULT_MINUTES, help="lifetime")
    args = parser.parse_args(argv)
    try:
        port = port_from_environment()
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    scopes = [BASE_SCOPE, admin_scope(os.environ)] if args.admin else [BASE_SCOPE]
    print(
        issue_token(
            args.user,
            issuer=issuer_url(port),
            audience=audience(os.environ),
            scopes=scopes,
            minutes=args.minutes,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
