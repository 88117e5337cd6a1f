"""Schemathesis hooks for test_api_fuzz.py (SCHEMATHESIS_HOOKS names this module).

They sign each request as its operation's `security` in openapi.json asks,
so the fuzzing reaches the functions behind the authorizers instead of
stopping at API Gateway's 401 and 403:
- sigv4 (the /users routes): a SigV4 signature with the local operator's key,
  made by botocore over the request exactly as sent (a requests auth runs
  after the body is prepared);
- signIn (the /bookings routes): FUZZ_BEARER_TOKEN's token, when the test
  sets one (sign-in on).
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local.authorizers import (
    DEFAULT_IAM_ACCESS_KEY_ID,
    DEFAULT_IAM_SECRET_ACCESS_KEY,
    SIGV4_SERVICE,
)

TOKEN_VARIABLE = "FUZZ_BEARER_TOKEN"
REGION = "us-east-1"  # not checked locally; any region signs


class SigV4(requests.auth.AuthBase):
    """Signs a prepared request as an AWS client would (execute-api)."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() != "authorization"  # a value the fuzzer made up for the scheme
        }
        aws_request = AWSRequest(
            method=request.method, url=request.url, data=request.body or b"", headers=headers
        )
        SigV4Auth(self._credentials, SIGV4_SERVICE, REGION).add_auth(aws_request)
        request.headers.update(dict(aws_request.headers.items()))
        return request


def _local_operator() -> Credentials:
    return Credentials(
        os.environ.get("DEV_IAM_ACCESS_KEY_ID") or DEFAULT_IAM_ACCESS_KEY_ID,
        os.environ.get("DEV_IAM_SECRET_ACCESS_KEY") or DEFAULT_IAM_SECRET_ACCESS_KEY,
    )


def _schemes(case: Any) -> set[str]:
    requirements = case.operation.definition.raw.get("security") or []
    return {name for requirement in requirements for name in requirement}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    schemes = _schemes(case)
    if "sigv4" in schemes:
        kwargs["auth"] = SigV4(_local_operator())
    token = os.environ.get(TOKEN_VARIABLE)
    if "signIn" in schemes and token:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
