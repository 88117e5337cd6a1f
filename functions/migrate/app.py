"""Apply database migrations; never behind the API.

Invoked three ways, all handled here:
- by hand after a deploy (`sam remote invoke`), event {} or {"seed": true};
- by `make migrate` / `make seed` and `make dev`, locally, the same way;
- by CloudFormation, as the MigrationsOnDeploy custom resource: Create and
  Update migrate, Delete does nothing; the answer goes to its ResponseURL.

The SQL travels with this function: `db` here links to the repository's db/
folder, and the build copies its contents.
"""

from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from appointments import cloudformation, credentials, database, migrations
from appointments.settings import get_settings
from appointments.observability import logger

DB_FOLDER = Path(__file__).resolve().parent / "db"
PHYSICAL_ID = "database-migrations"
# Time kept back to report to CloudFormation after the database work.
RESPONSE_MARGIN_MS = 15_000


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    if cloudformation.is_custom_resource_request(event):
        assert event is not None
        return answer_cloudformation(event, context)
    return migrate(seed=bool((event or {}).get("seed")), context=context)


def migrate(*, seed: bool, context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    wanted = migrations.load_migrations(DB_FOLDER / "migrations")
    budget_ms = max(1_000, context.get_remaining_time_in_millis() - RESPONSE_MARGIN_MS)
    url = credentials.database_url(settings)
    # A connection of its own, closed at the end: this runs once, not warm.
    with database.connect(url, settings.connect_timeout) as conn:
        migrations.bound_session(conn, budget_ms)
        applied = migrations.apply_migrations(conn, wanted)
        migrations.store_statement_timeout(conn, settings.statement_timeout_ms)
        if seed:
            migrations.apply_seed(conn, DB_FOLDER / "seed.sql")
    logger.info("migrations done", extra={"applied": applied, "seeded": seed})
    return {"applied": applied, "seeded": seed}


def answer_cloudformation(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Migrate on Create/Update, and always answer: CloudFormation waits otherwise."""
    request_type = event["RequestType"]
    physical_id = event.get("PhysicalResourceId", PHYSICAL_ID)
    if request_type == "Delete":
        # Deleting the stack, or replacing this resource, must not touch the data.
        outcome: dict[str, Any] = {"success": True, "reason": "nothing to do on Delete"}
    else:
        try:
            result = migrate(seed=False, context=context)
            applied = ", ".join(result["applied"]) or "none"
            outcome = {
                "success": True,
                "reason": f"applied: {applied}",
                "data": {"Applied": applied},
            }
        except Exception as error:
            logger.exception("migrations failed", extra={"request_type": request_type})
            outcome = {
                "success": False,
                "reason": f"migrations failed: {type(error).__name__}: {error}",
            }
    cloudformation.send_response(event, physical_id=physical_id, **outcome)
    return {"status": "SUCCESS" if outcome["success"] else "FAILED", "reason": outcome["reason"]}
