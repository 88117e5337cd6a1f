"""template.yaml: the contract's routes reach the intended functions, and it lints clean."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from local.template import TEMPLATE_PATH, functions, http_routes, load_template

REPO = TEMPLATE_PATH.parent
TEMPLATE = load_template()

ROUTES = {
    # The seed contract's
    "GET /health": "HealthFunction",
    "GET /slots": "SlotsFunction",
    "POST /bookings": "BookingsFunction",
    # The shop's schedule
    "GET /availability": "SlotsFunction",
    # The catalogue, public
    "GET /shops/{shop_id}": "CatalogueFunction",
    "GET /shops/{shop_id}/services": "CatalogueFunction",
    "GET /shops/{shop_id}/resources": "CatalogueFunction",
    "GET /shops/{shop_id}/availability": "SlotsFunction",
    "POST /shops/{shop_id}/bookings": "BookingsFunction",
    # A booking's life
    "GET /bookings": "BookingsFunction",
    "GET /bookings/{booking_id}": "BookingsFunction",
    "GET /bookings/{booking_id}/calendar.ics": "BookingsFunction",
    "GET /users/{user_id}/calendar.ics": "BookingsFunction",
    "DELETE /bookings/{booking_id}": "BookingsFunction",
    "POST /bookings/{booking_id}/reschedule": "BookingsFunction",
    "POST /holds": "BookingsFunction",
    "POST /shops/{shop_id}/holds": "BookingsFunction",
    "GET /holds/{hold_id}": "BookingsFunction",
    "DELETE /holds/{hold_id}": "BookingsFunction",
    "POST /holds/{hold_id}/confirm": "BookingsFunction",
    # Administration, IAM-only
    "PUT /users/{user_id}": "UsersFunction",
    "GET /users/{user_id}": "UsersFunction",
    "PUT /users/{user_id}/calendar-token": "UsersFunction",
    "PUT /shops/{shop_id}/webhooks/{webhook_id}": "CatalogueAdminFunction",
    "GET /shops/{shop_id}/webhooks/{webhook_id}": "CatalogueAdminFunction",
    "DELETE /shops/{shop_id}/webhooks/{webhook_id}": "CatalogueAdminFunction",
    "DELETE /users/{user_id}/calendar-token": "UsersFunction",
    "PUT /shops/{shop_id}": "CatalogueAdminFunction",
    "DELETE /shops/{shop_id}": "CatalogueAdminFunction",
    "PUT /shops/{shop_id}/resources/{resource_id}": "CatalogueAdminFunction",
    "GET /shops/{shop_id}/resources/{resource_id}": "CatalogueAdminFunction",
    "DELETE /shops/{shop_id}/resources/{resource_id}": "CatalogueAdminFunction",
    "PUT /shops/{shop_id}/services/{service_id}": "CatalogueAdminFunction",
    "GET /shops/{shop_id}/services/{service_id}": "CatalogueAdminFunction",
    "DELETE /shops/{shop_id}/services/{service_id}": "CatalogueAdminFunction",
}

# Who may call each route: everyone; signed-in callers when sign-in is on; or
# IAM principals allowed execute-api:Invoke.
AUTHORIZERS = {
    "GET /health": "NONE",
    "GET /slots": "NONE",
    "GET /availability": "NONE",
    "GET /shops/{shop_id}": "NONE",
    "GET /shops/{shop_id}/services": "NONE",
    "GET /shops/{shop_id}/resources": "NONE",
    "GET /shops/{shop_id}/availability": "NONE",
    "POST /bookings": "JwtAuthorizer",
    "POST /shops/{shop_id}/bookings": "JwtAuthorizer",
    "GET /bookings": "JwtAuthorizer",
    "GET /bookings/{booking_id}": "JwtAuthorizer",
    "GET /bookings/{booking_id}/calendar.ics": "JwtAuthorizer",
    "GET /users/{user_id}/calendar.ics": "NONE",
    "DELETE /bookings/{booking_id}": "JwtAuthorizer",
    "POST /bookings/{booking_id}/reschedule": "JwtAuthorizer",
    "POST /holds": "JwtAuthorizer",
    "POST /shops/{shop_id}/holds": "JwtAuthorizer",
    "GET /holds/{hold_id}": "JwtAuthorizer",
    "DELETE /holds/{hold_id}": "JwtAuthorizer",
    "POST /holds/{hold_id}/confirm": "JwtAuthorizer",
    "PUT /users/{user_id}": "AWS_IAM",
    "GET /users/{user_id}": "AWS_IAM",
    "PUT /users/{user_id}/calendar-token": "AWS_IAM",
    "PUT /shops/{shop_id}/webhooks/{webhook_id}": "AWS_IAM",
    "GET /shops/{shop_id}/webhooks/{webhook_id}": "AWS_IAM",
    "DELETE /shops/{shop_id}/webhooks/{webhook_id}": "AWS_IAM",
    "DELETE /users/{user_id}/calendar-token": "AWS_IAM",
    "PUT /shops/{shop_id}": "AWS_IAM",
    "DELETE /shops/{shop_id}": "AWS_IAM",
    "PUT /shops/{shop_id}/resources/{resource_id}": "AWS_IAM",
    "GET /shops/{shop_id}/resources/{resource_id}": "AWS_IAM",
    "DELETE /shops/{shop_id}/resources/{resource_id}": "AWS_IAM",
    "PUT /shops/{shop_id}/services/{service_id}": "AWS_IAM",
    "GET /shops/{shop_id}/services/{service_id}": "AWS_IAM",
    "DELETE /shops/{shop_id}/services/{service_id}": "AWS_IAM",
}


def test_every_route_maps_to_its_function_and_nothing_else_is_exposed() -> None:
    routes = {route.route_key: route.function.logical_id for route in http_routes(TEMPLATE, REPO)}
    assert routes == ROUTES


def test_bookings_need_sign_in_when_it_is_on_and_users_always_need_iam() -> None:
    routes = {route.route_key: route.authorizer for route in http_routes(TEMPLATE, REPO)}
    assert routes == AUTHORIZERS


def test_the_jwt_authorizer_exists_only_with_an_issuer_and_checks_issuer_and_audience() -> None:
    auth = TEMPLATE["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert auth["EnableIamAuthorizer"] is True
    assert "DefaultAuthorizer" not in auth  # public routes stay public
    condition, authorizers, otherwise = auth["Authorizers"]["Fn::If"]
    assert condition == "SignInOn" and otherwise == {"Ref": "AWS::NoValue"}
    jwt = authorizers["JwtAuthorizer"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    assert jwt["JwtConfiguration"] == {
        "issuer": {"Ref": "JwtIssuer"},
        "audience": {"Fn::Split": [",", {"Ref": "JwtAudience"}]},
    }
    assert TEMPLATE["Conditions"]["SignInOn"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "JwtIssuer"}, ""]}]
    }
    assert TEMPLATE["Parameters"]["JwtIssuer"]["Default"] == ""  # off unless asked for


@pytest.mark.parametrize(
    ("parameter", "value", "allowed"),
    [
        ("JwtIssuer", "", True),
        ("JwtIssuer", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123", True),
        ("JwtIssuer", "http://issuer.example", False),  # API Gateway fetches keys over HTTPS
        ("JwtIssuer", "https://issuer.example/ x", False),
        ("JwtAudience", "", True),
        ("JwtAudience", "3n4b5urk1ft4fl3mg5e62d9ado", True),
        ("JwtAudience", "web-client,mobile-client", True),
        ("JwtAudience", "a,,b", False),  # an empty audience
        ("JwtAudience", "a,", False),
        ("JwtAudience", "a, b", False),
    ],
)
def test_the_sign_in_parameters_refuse_what_api_gateway_could_not_use(
    parameter: str, value: str, allowed: bool
) -> None:
    pattern = TEMPLATE["Parameters"][parameter]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == allowed


def test_the_bookings_function_reads_the_sign_in_settings_from_the_parameters() -> None:
    env = TEMPLATE["Resources"]["BookingsFunction"]["Properties"]["Environment"]["Variables"]
    assert {name: value for name, value in env.items() if name.startswith("JWT_")} == {
        "JWT_ISSUER": {"Ref": "JwtIssuer"},
        "JWT_USER_CLAIM": {"Ref": "JwtUserClaim"},
        "JWT_ADMIN_SCOPE": {"Ref": "JwtAdminScope"},
        "JWT_ADMIN_GROUP": {"Ref": "JwtAdminGroup"},
        "JWT_GROUPS_CLAIM": {"Ref": "JwtGroupsClaim"},
    }


def test_nothing_in_the_template_grants_invoking_the_users_routes() -> None:
    # Whom to let in is the account's decision (docs/authentication.md: Administration).
    assert "execute-api:Invoke" not in json.dumps(TEMPLATE["Resources"])


@pytest.mark.parametrize(
    "function", ["MigrateFunction", "PurgeFunction", "RelayFunction", "WebhooksFunction"]
)
def test_maintenance_functions_are_not_reachable_over_http(function: str) -> None:
    assert function in functions(TEMPLATE, REPO)
    assert function not in {r.function.logical_id for r in http_routes(TEMPLATE, REPO)}


@pytest.mark.parametrize("function", ["PurgeFunction", "RelayFunction", "WebhooksFunction"])
def test_the_purge_and_the_relay_run_on_a_schedule(function: str) -> None:
    events = TEMPLATE["Resources"][function]["Properties"]["Events"]
    assert [event["Type"] for event in events.values()] == ["Schedule"]


def test_the_relay_may_publish_to_the_stacks_bus_alone() -> None:
    relay = TEMPLATE["Resources"]["RelayFunction"]["Properties"]
    assert relay["Environment"]["Variables"]["EVENT_BUS_NAME"] == {"Ref": "EventBus"}
    policies = TEMPLATE["Resources"]["RelayRole"]["Properties"]["Policies"]
    (publish,) = [policy for policy in policies if policy.get("PolicyName") == "publish-events"]
    assert publish["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": {"Fn::GetAtt": ["EventBus", "Arn"]},
        }
    ]
    # Within a minute, so that the schedule's next run follows it.
    assert relay["Timeout"] <= 60


@pytest.mark.parametrize(
    "function",
    ["SlotsFunction", "BookingsFunction", "PurgeFunction", "RelayFunction", "WebhooksFunction"],
)
def test_functions_using_the_schema_are_updated_after_the_migrations_on_deploy(
    function: str,
) -> None:
    # A reference to the custom resource is what orders CloudFormation's
    # updates: the new code never runs on the schema before its migrations.
    variables = TEMPLATE["Resources"][function]["Properties"]["Environment"]["Variables"]
    assert variables["MIGRATIONS_RESOURCE"] == {
        "Fn::If": ["MigrateOnDeploy", {"Ref": "MigrationsOnDeploy"}, ""]
    }


def test_every_function_has_a_handler_and_a_build_target() -> None:
    for function in functions(TEMPLATE, REPO).values():
        module_name, attribute = function.handler.split(".")
        spec = importlib.util.spec_from_file_location(
            f"template_check_{function.logical_id}", function.code_dir / f"{module_name}.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert callable(getattr(module, attribute)), function.logical_id
        makefile = (function.code_dir / "Makefile").read_text()
        assert f"build-{function.logical_id}:" in makefile


def test_functions_run_python313_on_arm64_with_the_shared_layer() -> None:
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Layers"] == [{"Ref": "SharedLayer"}]
    layer = TEMPLATE["Resources"]["SharedLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert (
        "build-SharedLayer:" in (REPO / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    )


def test_the_database_url_parameter_is_never_echoed() -> None:
    assert TEMPLATE["Parameters"]["DatabaseUrl"]["NoEcho"] is True


def test_the_dev_environment_installs_the_layer_pins() -> None:
    # One list of runtime pins: the dev requirements include the layer's file.
    dev = (REPO / "requirements-dev.txt").read_text().splitlines()
    assert "-r layers/shared/requirements.txt" in dev
    assert Path(REPO / "layers/shared/requirements.txt").exists()
