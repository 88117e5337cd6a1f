"""Read template.yaml: which function serves which HTTP API route, and with what environment.

The template is the one place routes are declared; the local server and the
tests read them from here instead of repeating them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# cfn-lint's loader understands CloudFormation's short tags (!Ref, !Sub, ...),
# which a plain YAML loader rejects.
from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"

# The route API Gateway answers with when no other route matches: SAM makes an
# HttpApi event without Method and Path into it, and the event's routeKey is
# this, without a method.
DEFAULT_ROUTE = "$default"


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str  # "module.function", relative to code_dir
    environment: dict[str, Any]  # as written: values may be intrinsics like {"Ref": ...}
    timeout: int  # seconds


# A route's authorizer, as its event's Auth names it: none, IAM (SigV4), or
# the name of a JWT authorizer of the API.
NO_AUTHORIZER = "NONE"
IAM_AUTHORIZER = "AWS_IAM"


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # as declared, e.g. /slots or /bookings/{id}, or DEFAULT_ROUTE
    function: Function
    # NO_AUTHORIZER, IAM_AUTHORIZER, or a JWT authorizer's name. A route
    # guarded only when sign-in is on (!If [SignInOn, name, NONE]) names it:
    # whether sign-in is on is the local server's setting, not the template's.
    authorizer: str = NO_AUTHORIZER

    @property
    def route_key(self) -> str:
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def functions(template: dict[str, Any], base_dir: Path) -> dict[str, Function]:
    """Every AWS::Serverless::Function, with Globals merged in as SAM merges them."""
    global_props = template.get("Globals", {}).get("Function", {})
    global_env = global_props.get("Environment", {}).get("Variables", {})
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        found[logical_id] = Function(
            logical_id=logical_id,
            code_dir=base_dir / props["CodeUri"],
            handler=props.get("Handler", global_props.get("Handler", "")),
            environment=env,
            timeout=int(props.get("Timeout", global_props.get("Timeout", 3))),
        )
    return found


def local_environment(template: dict[str, Any], function: Function) -> dict[str, str]:
    """The function's variables that can be known without deploying.

    Plain strings are kept; a Ref to a parameter takes the parameter's Default;
    other intrinsics (a resource's ARN, say) are left out for the caller to set.
    """
    parameters = template.get("Parameters", {})
    resolved = {}
    for name, value in function.environment.items():
        # str() throughout: the loader's strings are subclasses that do not pickle.
        if isinstance(value, str | int | float | bool):
            resolved[str(name)] = str(value)
        elif isinstance(value, dict) and "Default" in parameters.get(value.get("Ref"), {}):
            resolved[str(name)] = str(parameters[value["Ref"]]["Default"])
    return resolved


def http_routes(template: dict[str, Any], base_dir: Path) -> list[Route]:
    """Every HttpApi event of every function, in template order."""
    by_id = functions(template, base_dir)
    routes = []
    for logical_id, resource in template["Resources"].items():
        if logical_id not in by_id:
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                props = event.get("Properties", {})
                method = str(props.get("Method", "ANY")).upper()
                path = props.get("Path", DEFAULT_ROUTE)
                authorizer = _authorizer_name(props.get("Auth"))
                routes.append(Route(method, path, by_id[logical_id], authorizer))
    return routes


def _authorizer_name(auth: Any) -> str:
    """The authorizer an event's Auth names; for `!If [condition, Auth, NoValue]`, Auth's."""
    if auth is None:
        return NO_AUTHORIZER
    if "Fn::If" in auth:
        _, when_on, when_off = auth["Fn::If"]
        if when_off != {"Ref": "AWS::NoValue"}:
            raise ValueError(f"a conditional Auth must otherwise be AWS::NoValue: {auth}")
        auth = when_on
    return str(auth.get("Authorizer", NO_AUTHORIZER))
