"""template.yaml's schedule parameters: what CloudFormation lets through, and what it becomes.

CloudFormation checks a String parameter's AllowedPattern against the whole
value (Java's `matches`: `re.fullmatch` here), and a Number parameter's
MinValue and MaxValue against its value read as a number. The functions check
every setting again at cold start (`shop.load_schedule`) and refuse to start on
a bad one, so a pattern may let through what they refuse; but what it refuses
must be malformed, and the defaults must be the original service.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import tzdata  # type: ignore[import-untyped]

from appointments.domain import shop
from appointments.errors import ConfigurationError
from local.template import TEMPLATE_PATH, functions, load_template, local_environment

TEMPLATE = load_template()
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
REPO = TEMPLATE_PATH.parent

# Each schedule parameter and the variable the functions read it from.
VARIABLES = {
    "ShopTimeZone": "SHOP_TIME_ZONE",
    "OpeningHours": "OPENING_HOURS",
    "ClosedDates": "CLOSED_DATES",
    "SlotMinutes": "SLOT_MINUTES",
    "Capacity": "CAPACITY",
    "MinimumNoticeMinutes": "MINIMUM_NOTICE_MINUTES",
    "BookingHorizonDays": "BOOKING_HORIZON_DAYS",
}
SCHEDULE_FUNCTIONS = ["SlotsFunction", "BookingsFunction"]

# Values a shop would set: the template lets each through and the functions load it.
VALID = {
    "ShopTimeZone": [
        "UTC",
        "Europe/Berlin",
        "America/Argentina/Buenos_Aires",
        "America/Port-au-Prince",
        "Etc/GMT+5",
        "Etc/GMT-14",
        "Asia/Kathmandu",
    ],
    "OpeningHours": [
        "Mon-Sun 09:00-17:00",
        "Mon-Fri 09:00-12:00,13:00-17:00; Sat 10:00-14:00",
        "Daily 09:00-17:00",
        "Every day 08:00-20:00",
        "Sat-Mon 10:00-14:00",
        "mon, WED ,Fri 09:00 - 10:00 , 11:00-12:00",
        "Sat 20:00-24:00; Sun 00:00-24:00",
    ],
    "ClosedDates": ["", "2026-12-25", "2026-12-25,2026-12-26", "2026-12-25, 2026-12-26"],
    "SlotMinutes": ["5", "15", "30", "45", "60", "90", "1440"],
    "Capacity": ["1", "2", "3", "1000"],
    "MinimumNoticeMinutes": ["", "0", "60", "1440", "999999"],
    "BookingHorizonDays": ["", "0", "7", "365", "99999"],
}

# Clearly malformed values: the template refuses each before a deploy starts.
MALFORMED = {
    "ShopTimeZone": [
        "",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/",
        "Europe//Berlin",
        "Europe/Berlin ",
        "+02:00",
        "Europe/Berlin\n",
    ],
    "OpeningHours": [
        "",
        "Mon-Fri 09:00\u201317:00",  # an en dash
        "Mon-Fri 09.00-17.00",
        "Mon-Fri 09:00-17:00\nSat 10:00-14:00",
        "Mon-Fri 09:00-17:00 # weekdays",
    ],
    "ClosedDates": [
        "25/12/2026",
        "2026-12-25;2026-12-26",
        "2026-12-25,",
        "2026-12-25 2026-12-26",
        "Christmas",
        "2026-12-25\n",
        "2026-1-5",
    ],
    "SlotMinutes": ["0", "4", "1441", "-60", "sixty", ""],
    "Capacity": ["0", "-1", "1001", "one", ""],
    "MinimumNoticeMinutes": ["-1", "2h", "60 ", "1000000", "1e3"],
    "BookingHorizonDays": ["-1", "a week", "7 ", "100000", "1e3"],
}

# What the template lets through and the functions refuse at cold start (with
# a line naming the setting): within the pattern's shape, or a Number's bounds,
# but not a value the shop can use.
PASSES_THE_TEMPLATE_ONLY = {
    "ShopTimeZone": ["Europe", "Mars/Olympus_Mons", "europe/berlin", "CEST"],
    "OpeningHours": ["Mon-Fri 9-17", "Mon-Fri 09:00-17:00;", "Mnd 09:00-17:00", "09:00-17:00"],
    "ClosedDates": ["2026-02-30", "2026-13-01"],
    "SlotMinutes": ["60.5", "60.0"],
    "Capacity": ["1.5"],
}

# CloudFormation's Number: an integer or a float.
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def template_allows(parameter: str, value: str) -> bool:
    """Whether CloudFormation would take `value` for the parameter."""
    spec = PARAMETERS[parameter]
    if spec["Type"] == "Number":
        if not _NUMBER.fullmatch(value):
            return False
        number = float(value)
        return float(spec.get("MinValue", number)) <= number <= float(spec.get("MaxValue", number))
    assert spec["Type"] == "String"
    return re.fullmatch(spec["AllowedPattern"], value) is not None


def loads(parameter: str, value: str) -> bool:
    try:
        shop.load_schedule({VARIABLES[parameter]: value})
    except ConfigurationError:
        return False
    return True


def cases(examples: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(parameter, value) for parameter, values in examples.items() for value in values]


def test_every_schedule_parameter_is_checked_by_the_template_and_grouped() -> None:
    for parameter in VARIABLES:
        spec = PARAMETERS[parameter]
        if spec["Type"] == "Number":
            assert {"MinValue", "MaxValue"} <= set(spec), parameter
        else:
            assert spec["Type"] == "String" and "AllowedPattern" in spec, parameter
    groups = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    (schedule_group,) = [g for g in groups if g["Label"]["default"] == "The shop's schedule"]
    assert schedule_group["Parameters"] == list(VARIABLES)


@pytest.mark.parametrize("parameter", list(VARIABLES))
def test_the_template_allows_its_own_default(parameter: str) -> None:
    assert template_allows(parameter, str(PARAMETERS[parameter]["Default"]))


@pytest.mark.parametrize(("parameter", "value"), cases(VALID))
def test_a_valid_value_passes_the_template_and_loads(parameter: str, value: str) -> None:
    assert template_allows(parameter, value)
    assert loads(parameter, value)


@pytest.mark.parametrize(("parameter", "value"), cases(MALFORMED))
def test_a_malformed_value_is_refused_by_the_template(parameter: str, value: str) -> None:
    assert not template_allows(parameter, value)


@pytest.mark.parametrize(("parameter", "value"), cases(PASSES_THE_TEMPLATE_ONLY))
def test_what_only_the_functions_refuse_is_refused_at_cold_start_naming_the_setting(
    parameter: str, value: str
) -> None:
    assert template_allows(parameter, value)
    with pytest.raises(ConfigurationError, match=f"^{VARIABLES[parameter]}: "):
        shop.load_schedule({VARIABLES[parameter]: value})


def test_the_time_zone_pattern_allows_every_zone_the_functions_know() -> None:
    with open(os.path.join(os.path.dirname(tzdata.__file__), "zones"), encoding="utf-8") as zones:
        names = zones.read().split()
    assert len(names) > 400
    refused = [name for name in names if not template_allows("ShopTimeZone", name)]
    assert refused == []


def test_the_defaults_are_the_original_service() -> None:
    defaults = {VARIABLES[p]: str(PARAMETERS[p]["Default"]) for p in VARIABLES}
    assert shop.load_schedule(defaults) == shop.load_schedule({})


@pytest.mark.parametrize("function", SCHEDULE_FUNCTIONS)
def test_each_parameter_reaches_the_variable_of_the_same_meaning(function: str) -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for parameter, variable in VARIABLES.items():
        assert variables[variable] == {"Ref": parameter}
    # No function sets its own: both read the same schedule.
    environment = functions(TEMPLATE, REPO)[function].environment
    assert {v: environment[v] for v in VARIABLES.values()} == {
        v: {"Ref": p} for p, v in VARIABLES.items()
    }
    local = local_environment(TEMPLATE, functions(TEMPLATE, REPO)[function])
    assert shop.load_schedule(local) == shop.load_schedule({})
