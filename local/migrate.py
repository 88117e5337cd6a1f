"""`make migrate` / `make seed`: run the real migrate Lambda handler locally.

Uses DATABASE_URL when set; otherwise the embedded server under .local/,
started for the command and stopped after it, or left running if it was
running already (`make dev` in another terminal, say).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from pathlib import Path

import psycopg

from appointments.errors import ConfigurationError
from appointments.platform import connection_url, redaction
from local import embedded_db
from local.lambda_context import LocalLambdaContext
from local.template import TEMPLATE_PATH, functions, load_template, local_environment

# psycopg's own openings of a connection error, which add nothing to libpq's words.
_PSYCOPG_PREFIXES = ("connection failed: ", "connection is bad: ")
# Where a password sits in a key=value connection string libpq cannot parse
# (a URL's is found by connection_url.split_url, by the rule the functions use).
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*'?)([^'\s]*)", re.IGNORECASE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", action="store_true", help="also load the development users")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=embedded_db.DEFAULT_DATA_DIR,
        help="embedded PostgreSQL data (ignored when DATABASE_URL is set)",
    )
    args = parser.parse_args(argv)
    if url := os.environ.get("DATABASE_URL"):
        return migrate(url, seed=args.seed)
    data_dir = args.data_dir.resolve()
    with embedded_db.for_one_command(data_dir) as embedded:
        status = migrate(embedded.url, seed=args.seed)
    if embedded.started_here:
        print(f"started the embedded PostgreSQL in {data_dir}, and stopped it", file=sys.stderr)
    return status


def migrate(url: str, *, seed: bool) -> int:
    """Run the migrate handler on `url`, printing its result; the exit status."""
    template = load_template()
    function = functions(template, TEMPLATE_PATH.parent)["MigrateFunction"]
    # The deployed function's environment (your shell's values win), but
    # quiet: a command prints its result, or one line saying what failed.
    log_level = os.environ.get("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    for name, value in local_environment(template, function).items():
        os.environ.setdefault(name, value)
    os.environ["POWERTOOLS_LOG_LEVEL"] = log_level
    os.environ["DATABASE_URL"] = url
    from functions.migrate.app import MigrationFailed, handler  # after the environment is set

    # The deployed function's own time limit: its whole run has one deadline.
    timeout = function.timeout
    try:
        result = handler({"seed": seed}, LocalLambdaContext("migrate", timeout_seconds=timeout))
    except MigrationFailed as failed:  # its details, traceback included, are in its log line
        register_passwords(url)
        print(f"error: {redaction.scrub(one_line(str(failed)))}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def describe_database_error(url: str, error: psycopg.Error | ConfigurationError) -> str:
    """`error` on one line, in libpq's words, with no piece of `url`'s password."""
    register_passwords(url)
    shown = masked_url(url)
    reason = one_line(str(error)).replace(url, shown) or type(error).__name__
    for prefix in _PSYCOPG_PREFIXES:
        reason = reason.removeprefix(prefix)
    if isinstance(error, psycopg.ProgrammingError | ConfigurationError):  # cannot be parsed
        return redaction.scrub(f"DATABASE_URL cannot be parsed: {reason}")
    return redaction.scrub(f"cannot reach the database at {shown}: {reason}")


def one_line(text: str) -> str:
    """libpq's message lines (reason, then hint after a tab) joined on one line."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def masked_url(url: str) -> str:
    """`url` as written, with *** for its password."""
    url = url.strip()
    parts = connection_url.split_url(url)
    if parts is not None and parts.password is not None:
        return f"{parts.scheme}{parts.user}:***@{parts.location}"
    return _KEYWORD_PASSWORD.sub(r"\1***", url)


def register_passwords(url: str) -> None:
    """Have redaction.scrub mask the password in `url`, parsable or not."""
    with contextlib.suppress(ConfigurationError):
        connection_url.conninfo_from_url(url)  # registers the password it finds
    if match := _KEYWORD_PASSWORD.search(url):
        redaction.register(match[2])


if __name__ == "__main__":
    sys.exit(main())
