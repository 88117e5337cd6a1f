"""What every benchmark shares: a fresh embedded PostgreSQL, Lambda's environment, statistics."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from appointments.data import migrations
from local import embedded_db
from local.template import TEMPLATE_PATH, functions, load_template, local_environment

REPO = Path(__file__).resolve().parent.parent
DB_FOLDER = REPO / "db"
# The timeout of the Lambda context the benchmarks reuse across their calls:
# Lambda's longest, so no run comes near the deadline it sets (deadline.py),
# which would cancel statements and measure 503s.
LONGEST_RUN_S = 900


@dataclass
class BenchDatabase:
    url: str
    log_path: Path  # the server's log, where statement logging lands

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def reset(self) -> None:
        """The seed users, no bookings, no recorded Idempotency-Keys, no events, and the
        outbox's triggers on (a run may have switched them off)."""
        with self.admin() as conn:
            conn.execute("TRUNCATE bookings, users, idempotency_keys, events")
            conn.execute("ALTER TABLE bookings ENABLE TRIGGER USER")
            migrations.apply_seed(conn, DB_FOLDER / "seed.sql")


@contextmanager
def bench_database(data_dir: Path) -> Iterator[BenchDatabase]:
    """A migrated, seeded embedded server in `data_dir` (its Unix socket, no TCP)."""
    server = embedded_db.start(data_dir)
    try:
        url = str(server.get_uri())
        with psycopg.connect(url, autocommit=True) as conn:
            migrations.apply_migrations(conn, migrations.load_migrations(DB_FOLDER / "migrations"))
            migrations.store_statement_timeout(conn, 5000)
            _write_default_shop(conn, url)
        database = BenchDatabase(url, data_dir / "log")
        database.reset()
        yield database
    finally:
        server.stop()


def _write_default_shop(conn: psycopg.Connection, url: str) -> None:
    """As the migrate function writes it, from the template's parameters.

    Imported here, after the environment is Lambda's: the layer's logger and
    metrics read their service name and namespace once, when first imported.
    """
    apply_lambda_environment(url)
    from appointments.domain import default_shop, shop

    default_shop.write_default_shop(conn, shop.load_schedule(os.environ))


def lambda_environment(database_url: str) -> dict[str, str]:
    """The variables template.yaml gives the API functions, pointed at the bench database."""
    template = load_template()
    bookings = functions(template, TEMPLATE_PATH.parent)["BookingsFunction"]
    return {**local_environment(template, bookings), "DATABASE_URL": database_url}


def apply_lambda_environment(database_url: str) -> None:
    os.environ.update(lambda_environment(database_url))


@contextmanager
def quiet_handlers() -> Iterator[None]:
    """Send the handlers' logs and EMF lines to /dev/null: they are still written, unseen."""
    from appointments.platform import observability

    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        previous = observability.logger.set_stream(devnull)
        try:
            yield
        finally:
            observability.logger.set_stream(previous)


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: p99 of 2,000 samples is the 1,980th smallest."""
    ordered = sorted(samples)
    rank = max(1, round(fraction * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median of several runs, with the smallest and largest."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def machine() -> dict[str, Any]:
    import platform

    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith(("model name", "cpu model")):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }
