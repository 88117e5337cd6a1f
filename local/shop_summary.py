"""The shop as `make dev` announces it: one line, read as a function's cold start reads it.

    python -m local.shop_summary    # SHOP_TIME_ZONE, OPENING_HOURS, ... from the environment

Run by the dev server in a process of its own, so its workers still import the
layer themselves; a setting the functions would refuse is the one line on stderr.
"""

from __future__ import annotations

import os
import sys
from itertools import groupby

from appointments.domain import shop
from appointments.errors import ConfigurationError

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe(schedule: shop.ShopSchedule) -> str:
    """Zone, hours, slot length, bays, notice, horizon and how many closed dates."""
    notice = schedule.minimum_notice_minutes
    horizon = schedule.booking_horizon_days
    return ", ".join(
        [
            f"shop: {schedule.zone_name}",
            f"open {opening_hours(schedule.weekly_hours)}",
            f"{schedule.slot_minutes}-minute slots",
            _count(schedule.capacity, "bay"),
            "no minimum notice" if notice is None else f"{notice} minutes' notice",
            "no booking horizon" if horizon is None else f"bookable {horizon} days ahead",
            _count(len(schedule.closed_dates), "closed date"),
        ]
    )


def opening_hours(week: tuple[tuple[shop.OpeningWindow, ...], ...]) -> str:
    """The weekly hours in OPENING_HOURS' own form, runs of days with the same hours joined."""
    if len(set(week)) == 1:
        return f"Daily {_windows(week[0])}" if week[0] else "never"
    groups = []
    numbered = groupby(enumerate(week), key=lambda day_and_windows: day_and_windows[1])
    for windows, run in numbered:
        if windows:
            days = [day for day, _ in run]
            named = _DAY_NAMES[days[0]]
            if len(days) > 1:
                named += f"-{_DAY_NAMES[days[-1]]}"
            groups.append(f"{named} {_windows(windows)}")
    return "; ".join(groups)


def _windows(windows: tuple[shop.OpeningWindow, ...]) -> str:
    return ",".join(str(window) for window in windows)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def main() -> int:
    try:
        print(describe(shop.load_schedule(os.environ)))
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
