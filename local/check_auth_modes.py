"""Translate template.yaml with SAM as a deploy would, sign-in off and on; check each route's guard.

`sam validate --lint` cannot: the routes' Auth is chosen by `!If`, which
AWS::LanguageExtensions resolves at deploy time, before SAM reads the
template, and SAM refuses some values (an `Authorizer: NONE` without a
default authorizer, say) only then. Here the Ifs are resolved first, as that
transform does, then SAM's own translator builds the API's OpenAPI body.

Runs in the aws-sam-cli virtualenv (`make lint`), which has the translator.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse  # type: ignore[import-not-found]
from samtranslator.metrics.method_decorator import (  # type: ignore[import-not-found]
    MetricsMethodWrapperSingleton,
)
from samtranslator.translator.transform import transform  # type: ignore[import-not-found]

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
NO_VALUE = {"Ref": "AWS::NoValue"}
# What each route needs, by mode: nothing, a JWT, or a SigV4 signature.
EXPECTED = {
    "GET /health": (None, None),
    "GET /slots": (None, None),
    "GET /availability": (None, None),
    "GET /shops/{shop_id}": (None, None),
    "GET /shops/{shop_id}/services": (None, None),
    "GET /shops/{shop_id}/resources": (None, None),
    "GET /shops/{shop_id}/availability": (None, None),
    "POST /bookings": (None, "JwtAuthorizer"),
    "POST /shops/{shop_id}/bookings": (None, "JwtAuthorizer"),
    "GET /bookings": (None, "JwtAuthorizer"),
    "GET /bookings/{booking_id}": (None, "JwtAuthorizer"),
    "GET /bookings/{booking_id}/calendar.ics": (None, "JwtAuthorizer"),
    "GET /users/{user_id}/calendar.ics": (None, None),
    "DELETE /bookings/{booking_id}": (None, "JwtAuthorizer"),
    "POST /bookings/{booking_id}/reschedule": (None, "JwtAuthorizer"),
    "POST /holds": (None, "JwtAuthorizer"),
    "POST /shops/{shop_id}/holds": (None, "JwtAuthorizer"),
    "GET /holds/{hold_id}": (None, "JwtAuthorizer"),
    "DELETE /holds/{hold_id}": (None, "JwtAuthorizer"),
    "POST /holds/{hold_id}/confirm": (None, "JwtAuthorizer"),
    "PUT /users/{user_id}": ("AWS_IAM", "AWS_IAM"),
    "GET /users/{user_id}": ("AWS_IAM", "AWS_IAM"),
    "PUT /users/{user_id}/calendar-token": ("AWS_IAM", "AWS_IAM"),
    "PUT /shops/{shop_id}/webhooks/{webhook_id}": ("AWS_IAM", "AWS_IAM"),
    "GET /shops/{shop_id}/webhooks/{webhook_id}": ("AWS_IAM", "AWS_IAM"),
    "DELETE /shops/{shop_id}/webhooks/{webhook_id}": ("AWS_IAM", "AWS_IAM"),
    "DELETE /users/{user_id}/calendar-token": ("AWS_IAM", "AWS_IAM"),
    "PUT /shops/{shop_id}": ("AWS_IAM", "AWS_IAM"),
    "DELETE /shops/{shop_id}": ("AWS_IAM", "AWS_IAM"),
    "PUT /shops/{shop_id}/resources/{resource_id}": ("AWS_IAM", "AWS_IAM"),
    "GET /shops/{shop_id}/resources/{resource_id}": ("AWS_IAM", "AWS_IAM"),
    "DELETE /shops/{shop_id}/resources/{resource_id}": ("AWS_IAM", "AWS_IAM"),
    "PUT /shops/{shop_id}/services/{service_id}": ("AWS_IAM", "AWS_IAM"),
    "GET /shops/{shop_id}/services/{service_id}": ("AWS_IAM", "AWS_IAM"),
    "DELETE /shops/{shop_id}/services/{service_id}": ("AWS_IAM", "AWS_IAM"),
}


def resolve_ifs(node: Any, conditions: dict[str, bool]) -> Any:
    """`node` with every Fn::If decided and every AWS::NoValue dropped."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return resolve_ifs(when_true if conditions[name] else when_false, conditions)
        resolved = {key: resolve_ifs(value, conditions) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value != NO_VALUE}
    if isinstance(node, list):
        return [item for item in (resolve_ifs(i, conditions) for i in node) if item != NO_VALUE]
    return node


def guards(template: dict[str, Any], sign_in: bool) -> dict[str, str | None]:
    """Each route's authorizer in the HTTP API SAM generates for this mode."""
    conditions = dict.fromkeys(template["Conditions"], False)
    conditions["SignInOn"] = sign_in
    template = resolve_ifs({**template, "Transform": "AWS::Serverless-2016-10-31"}, conditions)
    resources = template["Resources"]
    resources.pop("MigrationsOnDeploy", None)  # exists only with MigrateOnDeploy
    for resource in resources.values():  # where sam package would have uploaded the code
        properties = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri"):
            if uri in properties:
                properties[uri] = "s3://bucket/key"
    translated = transform(template, {"JwtIssuer": "https://issuer.example"}, _NoPolicies())
    # The translator counts what it did for AWS's own metrics, and warns when
    # they are dropped unpublished: offline, publishing them sends nothing.
    MetricsMethodWrapperSingleton.get_instance().publish()
    (api,) = [r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    found = {}
    for path, operations in api["Properties"]["Body"]["paths"].items():
        for method, operation in operations.items():
            security = operation.get("security") or [{}]
            found[f"{method.upper()} {path}"] = next(iter(security[0]), None)
    return found


class _NoPolicies:
    def load(self) -> dict[str, str]:
        return {}  # the template names no managed policy by its short name


def main() -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator insists on one
    template = yaml_parse(TEMPLATE.read_text())
    failures = []
    for index, mode in enumerate(("sign-in off", "sign-in on")):
        found = guards(json.loads(json.dumps(template)), sign_in=bool(index))
        expected = {route: guard[index] for route, guard in EXPECTED.items()}
        if found != expected:
            failures.append(f"{mode}: expected {expected}, SAM made {found}")
    for failure in failures:
        print(failure, file=sys.stderr)
    if not failures:
        print("template.yaml translates with sign-in off and on; every route guarded as intended")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
