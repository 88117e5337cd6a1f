"""`make migrate` / `make seed`: run the real migrate Lambda handler locally.

Uses DATABASE_URL when set; otherwise the embedded server under .local/, which
is left running for the next command.
"""

from __future__ import annotations

import argparse
import json
import os

from local import embedded_db
from local.lambda_context import LocalLambdaContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", action="store_true", help="also load the development users")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded_db.start().get_uri()

    from functions.migrate.app import handler  # after DATABASE_URL is settled

    result = handler({"seed": args.seed}, LocalLambdaContext(function_name="migrate"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
