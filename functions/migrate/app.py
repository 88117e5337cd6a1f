"""Apply database migrations; invoked once per deploy, never through the API.

Event: {} to migrate, {"seed": true} to also load the development users.
The SQL files travel with this function: `db` here links to the repository's
db/ folder, and the build copies its contents.
"""

from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from appointments import database, migrations
from appointments.settings import get_settings
from appointments.web import logger

DB_FOLDER = Path(__file__).resolve().parent / "db"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    wanted = migrations.load_migrations(DB_FOLDER / "migrations")
    seed = bool((event or {}).get("seed"))
    # A connection of its own, closed at the end: this runs once, not warm.
    with database.connect(settings.database_url, settings.connect_timeout) as conn:
        applied = migrations.apply_migrations(conn, wanted)
        if seed:
            migrations.apply_seed(conn, DB_FOLDER / "seed.sql")
    logger.info("migrations done", extra={"applied": applied, "seeded": seed})
    return {"applied": applied, "seeded": seed}
