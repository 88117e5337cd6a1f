"""Apply database migrations; never behind the API.

Invoked three ways, all handled here:
- by hand after a deploy (`sam remote invoke`), event {} or {"seed": true};
- by `make migrate` / `make seed` and `make dev`, locally, the same way;
- by CloudFormation, as the MigrationsOnDeploy custom resource: Create and
  Update migrate, Delete does nothing, and so does the Update of a rollback
  (migrations are forward-only); the answer goes to its ResponseURL.

Every run also writes the default shop from the template's schedule parameters
(domain/default_shop.py), so a deploy that changes them changes the shop.

The whole run -- every migration, the stored statement_timeout, the default
shop, the seed --
has one deadline: the invocation's remaining time less a margin kept back to
answer. CloudFormation in particular must get its answer: it would otherwise
wait for one that never comes.

The SQL travels with this function: `db` here links to the repository's db/
folder, and the build copies its contents.
"""

import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appointments.data import database, migrations
from appointments.domain import default_shop, shop
from appointments.platform import cloudformation, credentials, redaction
from appointments.platform.deadline import from_context
from appointments.platform.observability import logger
from appointments.platform.settings import get_settings

if TYPE_CHECKING:  # Powertools' package: ~40 ms to import, for a type
    from aws_lambda_powertools.utilities.typing import LambdaContext

DB_FOLDER = Path(__file__).resolve().parent / "db"
PHYSICAL_ID = "database-migrations"
# Time kept back from the invocation's, after the database work, to answer:
# CloudFormation's PUT to the ResponseURL for a custom resource; for a manual
# run only the log line and the return.
RESPONSE_MARGIN_MS = 15_000
MANUAL_MARGIN_MS = 1_000


class MigrationFailed(RuntimeError):
    """A manual run failed; the message is scrubbed of passwords, the log has the details."""


@dataclass(frozen=True)
class Answer:
    """What CloudFormation is told."""

    success: bool
    reason: str
    data: dict[str, str] = field(default_factory=dict)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any] | None, context: "LambdaContext") -> dict[str, Any]:
    if cloudformation.is_custom_resource_request(event):
        assert event is not None
        return answer_cloudformation(event, deadline_of(context, RESPONSE_MARGIN_MS))
    try:
        seed = bool((event or {}).get("seed"))
        return migrate(seed=seed, deadline=deadline_of(context, MANUAL_MARGIN_MS))
    except Exception as error:
        # Raised as is, the error would reach the invoker and the runtime's
        # log unscrubbed; its details are in our own log line.
        raise MigrationFailed(report_failure(error, request_type=None)) from None


def deadline_of(context: "LambdaContext", margin_ms: int) -> float:
    """When the run must stop (a time.monotonic() value) to leave `margin_ms` to answer."""
    return from_context(context, margin_ms / 1000)


def migrate(*, seed: bool, deadline: float) -> dict[str, Any]:
    settings = get_settings()
    schedule = shop.load_schedule(os.environ)  # a malformed parameter stops the run first
    wanted = migrations.load_migrations(DB_FOLDER / "migrations")
    if migrations.seconds_left(deadline) <= 0:
        raise migrations.OutOfTime("out of time before connecting")
    url = credentials.database_url(settings)
    # A connection of its own, closed at the end: this runs once, not warm.
    with database.connect(url, settings.connect_timeout) as conn:
        applied = migrations.apply_migrations(conn, wanted, deadline=deadline)
        with migrations.within_deadline(conn, deadline, "storing the statement_timeout"):
            migrations.store_statement_timeout(conn, settings.statement_timeout_ms)
        with migrations.within_deadline(conn, deadline, "writing the default shop"):
            default_shop.write_default_shop(conn, schedule)
        if seed:
            with migrations.within_deadline(conn, deadline, "loading the seed"):
                migrations.apply_seed(conn, DB_FOLDER / "seed.sql")
    logger.info("migrations done", extra={"applied": applied, "seeded": seed})
    return {"applied": applied, "seeded": seed}


def answer_cloudformation(event: dict[str, Any], deadline: float) -> dict[str, Any]:
    """Migrate on Create/Update, and always answer: CloudFormation waits otherwise."""
    answer = _decide(event, deadline)
    cloudformation.send_response(
        event,
        success=answer.success,
        reason=answer.reason,
        physical_id=event.get("PhysicalResourceId", PHYSICAL_ID),
        data=answer.data,
    )
    return {"status": "SUCCESS" if answer.success else "FAILED", "reason": answer.reason}


def _decide(event: dict[str, Any], deadline: float) -> Answer:
    request_type = event["RequestType"]
    if request_type == "Delete":
        # Deleting the stack, or replacing this resource, must not touch the data.
        return Answer(True, "nothing to do on Delete")
    if request_type == "Update" and (versions := rolled_back_versions(event)):
        # Running the migrations of the version rolled back to would change
        # nothing, and running them again is how a rollback could fail and
        # leave the stack in UPDATE_ROLLBACK_FAILED.
        old, new = versions
        logger.warning(
            "rollback: migrations are forward-only, nothing was run",
            extra={"from_version": old, "to_version": new},
        )
        return Answer(
            True,
            f"rollback from version {old} to {new}: migrations are forward-only, nothing was run",
        )
    try:
        applied = migrate(seed=False, deadline=deadline)["applied"]
    except Exception as error:
        return Answer(False, report_failure(error, request_type=request_type))
    return _applied_answer(applied)


def rolled_back_versions(event: dict[str, Any]) -> tuple[int, int] | None:
    """(old, new) version numbers when this Update moves back to an older version, else None.

    MigrationsVersion is the migrate function's version ARN, whose number only
    grows for one function. CloudFormation rolling a failed deploy back sends
    an Update whose properties are the previous ones: a lower number. A new
    function (another ARN) counts from 1 again, and is no rollback.
    """
    new = _function_version(event.get("ResourceProperties", {}).get("MigrationsVersion"))
    old = _function_version(event.get("OldResourceProperties", {}).get("MigrationsVersion"))
    if new is None or old is None or new[0] != old[0] or new[1] >= old[1]:
        return None
    return old[1], new[1]


def _function_version(value: object) -> tuple[str, int] | None:
    """A version ARN (...:function:name:7) as (its function's ARN, 7); None if it is not one."""
    if not isinstance(value, str):
        return None
    function, _, number = value.rpartition(":")
    if not (number.isascii() and number.isdigit()):
        return None
    return function, int(number)


def _applied_answer(applied: list[str]) -> Answer:
    # A count and the last file, not the list: the whole answer must fit in
    # CloudFormation's 4 KiB however many files one deploy brings.
    data = {"AppliedCount": str(len(applied)), "LastApplied": applied[-1] if applied else ""}
    if not applied:
        return Answer(True, "nothing to apply", data)
    files = "file" if len(applied) == 1 else "files"
    return Answer(True, f"applied {len(applied)} {files}, the last {applied[-1]}", data)


def report_failure(error: Exception, *, request_type: str | None) -> str:
    """Log the failure and return the reason to give, both scrubbed of passwords."""
    notes = " ".join(getattr(error, "__notes__", []))
    reason = redaction.scrub(f"migrations failed: {type(error).__name__}: {error} {notes}".strip())
    logger.error(
        "migrations failed",
        extra={
            "request_type": request_type,
            "reason": reason,
            "traceback": redaction.scrub("".join(traceback.format_exception(error))),
        },
    )
    return reason
