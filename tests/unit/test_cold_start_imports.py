"""What a function imports at a cold start, before its first request.

Lambda bills the init phase: modules a function's commonest route never uses
are imported by the route that needs them. Each function's module is imported
in a fresh interpreter, with the environment template.yaml gives it, and the
modules it must leave for later are checked absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from local.template import TEMPLATE_PATH, functions, load_template, local_environment

REPO = TEMPLATE_PATH.parent

# Loaded by the routes that need them, never at init.
LEFT_FOR_LATER = {
    # /slots and /availability read the default shop's busy bays, nothing more.
    "SlotsFunction": {
        "appointments.data.store",
        "appointments.data.booking_records",
        "appointments.data.service_calendars",
        "appointments.api.catalogue_views",
        "appointments.domain.service_availability",
        "pydantic",
    },
    "HealthFunction": {"appointments.data.store", "pydantic"},
    # Bookings: its holds' modules belong to the hold routes.
    "BookingsFunction": {
        "appointments.data.hold_records",
        "appointments.api.hold_views",
        "appointments.api.calendar_views",
        "icalendar",
    },
    # The relay renders events with the first batch that has some; boto3 comes with
    # the first PutEvents.
    "RelayFunction": {"appointments.api.event_views", "appointments.api.booking_views", "boto3"},
    "UsersFunction": {"appointments.api.calendar_views"},
    "CatalogueAdminFunction": {
        "appointments.api.webhook_views",
        "appointments.platform.webhook_http",
    },
}

_LIST_MODULES = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def modules_at_init(logical_id: str) -> set[str]:
    template = load_template()
    function = functions(template, REPO)[logical_id]
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        **local_environment(template, function),
        "PYTHONPATH": str(REPO / "layers" / "shared" / "python"),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",  # never opened at import
    }
    app = function.code_dir / "app.py"
    listed = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, str(app)],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(listed.stdout))


@pytest.mark.parametrize("logical_id", sorted(LEFT_FOR_LATER))
def test_a_function_imports_at_init_only_what_its_commonest_route_needs(logical_id: str) -> None:
    imported = modules_at_init(logical_id)

    # The import did happen: an API function's router, a scheduled one's connection.
    assert {"appointments.api.web", "appointments.data.database"} & imported
    assert LEFT_FOR_LATER[logical_id] & imported == set()
