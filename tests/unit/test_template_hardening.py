"""template.yaml's production settings: limits, privileges, logs, optional features.

These read the template as written (CloudFormation's short tags parsed by
cfn-lint's loader); `make lint` and `make build` check it with cfn-lint, sam
validate and sam build as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from local.template import TEMPLATE_PATH, functions, load_template

REPO = TEMPLATE_PATH.parent
TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
API_FUNCTIONS = [
    "HealthFunction",
    "SlotsFunction",
    "CatalogueFunction",
    "BookingsFunction",
    "UsersFunction",
    "CatalogueAdminFunction",
]
ALL_FUNCTIONS = [
    *API_FUNCTIONS,
    "MigrateFunction",
    "PurgeFunction",
    "RelayFunction",
    "WebhooksFunction",
]


def props(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id]["Properties"]  # type: ignore[no-any-return]


def test_cfn_lint_passes_with_the_projects_settings_and_informational_checks() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([cfn_lint], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "include_checks:\n  - I" in (REPO / ".cfnlintrc").read_text()


def test_api_functions_answer_before_api_gateways_30_second_limit() -> None:
    timeout = TEMPLATE["Globals"]["Function"]["Timeout"]
    assert timeout < 29
    assert all("Timeout" not in props(f) for f in API_FUNCTIONS)
    assert PARAMETERS["DbConnectTimeoutSeconds"]["MaxValue"] < timeout


@pytest.mark.parametrize(
    ("function", "parameter"),
    [
        ("SlotsFunction", "SlotsReservedConcurrency"),
        ("BookingsFunction", "BookingsReservedConcurrency"),
        ("CatalogueFunction", "CatalogueReservedConcurrency"),
    ],
)
def test_database_functions_have_a_reserved_concurrency_parameter(
    function: str, parameter: str
) -> None:
    assert PARAMETERS[parameter]["Type"] == "Number"
    assert PARAMETERS[parameter]["Default"] > 0
    assert "max_connections" in PARAMETERS["SlotsReservedConcurrency"]["Description"]
    condition, value, otherwise = props(function)["ReservedConcurrentExecutions"]["Fn::If"]
    assert value == {"Ref": parameter}
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert TEMPLATE["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]
    }


def test_the_stage_is_throttled_by_parameters() -> None:
    route_settings = props("HttpApi")["DefaultRouteSettings"]
    assert route_settings == {
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
    }


def test_cors_is_off_unless_origins_are_given() -> None:
    condition, config, otherwise = props("HttpApi")["CorsConfiguration"]["Fn::If"]
    assert condition == "HasCors" and otherwise == {"Ref": "AWS::NoValue"}
    assert config["AllowOrigins"] == {"Ref": "CorsAllowOrigins"}
    assert PARAMETERS["CorsAllowOrigins"]["Default"] == ""


def test_cors_lets_browsers_send_a_token_an_idempotency_key_and_a_version() -> None:
    config = props("HttpApi")["CorsConfiguration"]["Fn::If"][1]
    allowed = {"authorization", "content-type", "idempotency-key", "if-match"}
    assert allowed <= set(config["AllowHeaders"])
    assert set(config["AllowMethods"]) == {"GET", "POST", "PUT", "DELETE"}
    assert config["ExposeHeaders"] == ["idempotent-replayed", "etag"]


def test_the_vpc_is_optional_and_only_for_functions_that_reach_the_database() -> None:
    assert "VpcConfig" not in TEMPLATE["Globals"]["Function"]
    assert "VpcConfig" not in props("HealthFunction")
    for function in (
        "SlotsFunction",
        "CatalogueFunction",
        "BookingsFunction",
        "MigrateFunction",
        "RelayFunction",
        "WebhooksFunction",
    ):
        condition, config, otherwise = props(function)["VpcConfig"]["Fn::If"]
        assert condition == "InVpc" and otherwise == {"Ref": "AWS::NoValue"}
        assert config == {
            "SubnetIds": {"Ref": "SubnetIds"},
            "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
        }
    assert PARAMETERS["SubnetIds"]["Default"] == ""
    # Network interfaces only, never the broader VPC execution role, and not for health.
    assert "ENIManagement" not in json.dumps(props("HealthRole")["ManagedPolicyArns"])
    for role in ("ApiDatabaseRole", "MigrateRole", "RelayRole", "WebhooksRole"):
        arns = json.dumps(props(role)["ManagedPolicyArns"])
        assert "AWSLambdaENIManagementAccess" in arns and "VPCAccessExecutionRole" not in arns


def test_snapstart_versions_exist_only_with_snapstart_and_follow_every_change() -> None:
    assert TEMPLATE["Transform"][0] == "AWS::LanguageExtensions"  # settles the !If for SAM
    assert TEMPLATE["Globals"]["Function"]["AutoPublishAlias"] == {
        "Fn::If": ["SnapStartOn", "live", {"Ref": "AWS::NoValue"}]
    }
    assert props("SharedLayer")["PublishLambdaVersion"] is True  # a new layer, a new version
    for function in API_FUNCTIONS:
        assert props(function)["AutoPublishAliasAllProperties"] is True
        assert props(function)["SnapStart"] == {
            "ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}
        }


def test_tracing_is_opt_in() -> None:
    globals_ = TEMPLATE["Globals"]["Function"]
    assert PARAMETERS["EnableTracing"]["Default"] == "false"
    assert globals_["Tracing"] == {"Fn::If": ["TracingOn", "Active", "PassThrough"]}
    assert globals_["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingOn", "false", "true"]
    }


def test_every_function_logs_to_its_own_group_with_retention() -> None:
    groups = set()
    for function in ALL_FUNCTIONS:
        group = props(function)["LoggingConfig"]["LogGroup"]["Ref"]
        assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
        assert props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        groups.add(group)
    assert len(groups) == len(ALL_FUNCTIONS)


def statements(role: str) -> list[dict[str, Any]]:
    """The role's inline statements, with conditional policies taken as present."""
    found = []
    for policy in props(role)["Policies"]:
        if "Fn::If" in policy:
            policy = policy["Fn::If"][1]
        found += policy["PolicyDocument"]["Statement"]
    return found


def test_every_function_has_a_role_of_its_own_kind_with_nothing_on_star() -> None:
    for function in ALL_FUNCTIONS:
        assert "Role" in props(function) and "Policies" not in props(function)
    for role in ("HealthRole", "ApiDatabaseRole", "MigrateRole", "RelayRole", "WebhooksRole"):
        for statement in statements(role):
            assert statement["Resource"] != "*"
            assert "*" not in str(statement["Action"])


def test_only_database_functions_may_read_the_secret_and_only_that_secret() -> None:
    assert not any("secretsmanager" in str(s["Action"]) for s in statements("HealthRole"))
    for role in ("ApiDatabaseRole", "MigrateRole", "RelayRole", "WebhooksRole"):
        secret_statements = [s for s in statements(role) if "secretsmanager" in str(s["Action"])]
        assert secret_statements
        for statement in secret_statements:
            assert statement["Action"] == "secretsmanager:GetSecretValue"
            assert statement["Resource"]["Ref"] in {
                "DatabaseSecretArn",
                "MigrationsDatabaseSecretArn",
            }


def test_migrations_may_use_their_own_database_url_or_secret() -> None:
    env = props("MigrateFunction")["Environment"]["Variables"]
    assert env["DATABASE_URL"] == {
        "Fn::If": ["HasMigrationsUrl", {"Ref": "MigrationsDatabaseUrl"}, {"Ref": "DatabaseUrl"}]
    }
    assert env["DATABASE_SECRET_ARN"]["Fn::If"][1] == {"Ref": "MigrationsDatabaseSecretArn"}
    for secret_parameter in ("DatabaseUrl", "MigrationsDatabaseUrl"):
        assert PARAMETERS[secret_parameter]["NoEcho"] is True


def test_migrations_run_on_deploy_only_when_asked_and_when_the_package_changed() -> None:
    hook = RESOURCES["MigrationsOnDeploy"]
    assert hook["Condition"] == "MigrateOnDeploy"
    assert PARAMETERS["RunMigrationsOnDeploy"]["Default"] == "false"
    assert hook["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    # The published version changes exactly when the package (db/ included), the
    # layer (the runner) or the function's settings do.
    assert props("MigrateFunction")["AutoPublishAlias"] == "migrations"
    assert props("MigrateFunction")["AutoPublishAliasAllProperties"] is True
    assert hook["Properties"]["MigrationsVersion"] == {"Ref": "MigrateFunction.Version"}
    assert hook["Properties"]["ServiceTimeout"] > props("MigrateFunction")["Timeout"]


def test_outputs_name_the_api_url_and_every_function() -> None:
    outputs = TEMPLATE["Outputs"]
    assert "execute-api" in outputs["ApiUrl"]["Value"]["Fn::Sub"]

    for function in ALL_FUNCTIONS:
        assert outputs[f"{function}Name"]["Value"] == {"Ref": function}


def test_the_functions_get_metrics_namespace_and_service_from_the_template() -> None:
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "appointments"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Appointments"
    assert set(functions(TEMPLATE, REPO)) == set(ALL_FUNCTIONS)


def test_samconfig_has_dev_and_prod_and_prod_confirms_its_change_sets() -> None:
    config = tomllib.loads((REPO / "samconfig.toml").read_text())
    assert config["default"]["global"]["parameters"]["stack_name"] == "appointments-dev"
    assert config["prod"]["global"]["parameters"]["stack_name"] == "appointments-prod"
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert (
        "SlotsReservedConcurrency=20"
        in config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    )
