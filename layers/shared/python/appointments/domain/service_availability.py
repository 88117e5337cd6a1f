"""When a shop's service can be booked, and on which of its resources.

A resource offers a start of the service when the start is a step of the
service from one of the resource's openings (its own hours, or else the
shop's), the whole appointment fits before closing by the clock, the shop is
not closed that date, and the shop's notice and horizon allow it: the rules of
/slots (domain/shop.py), with the service's duration and step. It is free for
that start when the start's block, the appointment widened by the service's
buffers, overlaps none of its confirmed bookings' blocks and none of its time
off. Buffers may reach outside the hours: set-up before opening, clean-up
after closing. Time off counts as busy: its starts stay listed, with fewer
resources free.

Pure: the calendar comes from data/service_calendars.py, the time from the caller.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import NamedTuple

from appointments import messages
from appointments.data.service_calendars import Busy, ServiceCalendar, ServiceTimes
from appointments.domain import shop
from appointments.errors import ClientError


class OfferedStart(NamedTuple):  # a month is hundreds: a tuple is quicker to make
    slot: shop.Slot
    free_resource_ids: tuple[str, ...]  # free for the whole block, in id order


def days_between(
    calendar: ServiceCalendar, service: ServiceTimes, first: date, last: date, now: datetime
) -> dict[date, list[OfferedStart]]:
    """Every day from `first` to `last`, with each start some resource offers, in order."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    found: dict[float, tuple[date, shop.Slot, tuple[str, ...]]] = {}
    for schedule, resource_ids in _resources_by_schedule(calendar, service):
        for day, slot, free in _free_by_start(schedule, resource_ids, calendar, service, days, now):
            start = slot.posix_bounds[0]
            if (earlier := found.get(start)) is None:
                found[start] = (day, slot, free)
            else:  # resources with other hours offer this start too
                found[start] = (day, slot, tuple(sorted(earlier[2] + free)))
    offered: dict[date, list[OfferedStart]] = {day: [] for day in days}
    for start in sorted(found):
        day, slot, free = found[start]
        offered[day].append(OfferedStart(slot, free))
    return offered


def bookable_start(
    calendar: ServiceCalendar, service: ServiceTimes, day: date, time_text: str, now: datetime
) -> OfferedStart:
    """The start at `time_text` ("HH:MM") on `day` as days_between offers it, with the
    resources free for it; or the ClientError saying why it is not offered.

    The same code decides what availability lists and what a booking may
    take. The reasons are the default shop's, from the resources whose check
    got furthest: a time inside someone's hours but too soon is "too late",
    not "closed".
    """
    for offered in days_between(calendar, service, day, day, now)[day]:
        if offered.slot.label == time_text:
            return offered
    reasons = []
    for schedule, _ in _resources_by_schedule(calendar, service):
        try:
            shop.check_bookable(schedule, day, time_text, now)
        except ClientError as reason:
            reasons.append(reason)
    # No reason: no resource performs the service, so none is ever open for it.
    furthest = max(reasons, key=_how_far_checked, default=None)
    raise furthest or ClientError(messages.SHOP_CLOSED, outcome="ShopClosed")


# How far check_bookable got before refusing: the form and the grid, the
# hours, the notice, the horizon.
_CHECKED_AS_FAR_AS = {messages.SHOP_CLOSED: 1, messages.TOO_LATE: 2, messages.TOO_FAR_AHEAD: 3}


def _how_far_checked(reason: ClientError) -> int:
    return _CHECKED_AS_FAR_AS.get(reason.message, 0)


def _free_by_start(
    schedule: shop.ShopSchedule,
    resource_ids: list[str],
    calendar: ServiceCalendar,
    service: ServiceTimes,
    days: list[date],
    now: datetime,
) -> Iterator[tuple[date, shop.Slot, tuple[str, ...]]]:
    """Each start the schedule offers on `days`, with which of `resource_ids`
    (resources that keep this schedule) are free for it, in id order."""
    slots: list[shop.Slot] = []
    slot_days: list[date] = []
    for day in days:
        day_slots = shop.available_slots(schedule, day, now)
        slots.extend(day_slots)
        slot_days.extend([day] * len(day_slots))
    starts = [slot.posix_bounds[0] for slot in slots]  # in order: days, then the clock

    # The same few combinations of busy resources recur all month: each one's
    # free ids are worked out once.
    @cache
    def free_ids(taken: int) -> tuple[str, ...]:
        return tuple(r for bit, r in enumerate(resource_ids) if not taken >> bit & 1)

    taken = _taken(starts, service, calendar.busy, resource_ids)
    return zip(slot_days, slots, map(free_ids, taken), strict=True)


def _taken(
    starts: list[float], service: ServiceTimes, busy: list[Busy], resource_ids: list[str]
) -> list[int]:
    """For each start (as in `starts`), the resources whose block for it something
    of `busy` overlaps: bit n set for resource_ids[n].

    A start s blocks [s - before, s + duration + after), which overlaps a busy
    [b, e) when b - duration - after < s < e + before: the starts between
    those bounds, found by bisection. One pass over what is busy (a month of
    a busy shop is thousands of blocks), not a look at every start for every
    resource.
    """
    bit_of = {resource_id: 1 << n for n, resource_id in enumerate(resource_ids)}
    # Resources busy over the same interval (the same hour booked on several
    # bays) are marked together: one search per interval, not per resource.
    resources_busy_over: dict[tuple[float, float], int] = {}
    for resource_id, busy_from, busy_until in busy:
        if (bit := bit_of.get(resource_id)) is not None:  # else: a resource with other hours
            interval = (busy_from, busy_until)
            resources_busy_over[interval] = resources_busy_over.get(interval, 0) | bit
    before = service.buffer_before_minutes * 60
    reach = (service.duration_minutes + service.buffer_after_minutes) * 60
    taken = [0] * len(starts)
    for (busy_from, busy_until), bits in resources_busy_over.items():
        index = bisect_right(starts, busy_from - reach)
        end = bisect_left(starts, busy_until + before, index)
        while index < end:
            taken[index] |= bits
            index += 1
    return taken


def _resources_by_schedule(
    calendar: ServiceCalendar, service: ServiceTimes
) -> list[tuple[shop.ShopSchedule, list[str]]]:
    """The resources grouped by their hours, each group's slots built once a day."""
    hours: dict[str, list[str]] = defaultdict(list)
    for resource in calendar.resources:
        hours[resource.opening_hours or calendar.shop.opening_hours].append(resource.resource_id)
    rules = calendar.shop
    return [
        (
            _schedule(
                rules.time_zone,
                opening_hours,
                tuple(rules.closed_dates),
                service.duration_minutes,
                service.step_minutes,
                rules.minimum_notice_minutes,
                rules.booking_horizon_days,
            ),
            resource_ids,
        )
        for opening_hours, resource_ids in hours.items()
    ]


# The same object for the same rules, so that a day's slots, cached by
# schedule in domain/shop.py, are found there by a warm container rather than
# built again (as long as that cache holds them).
@lru_cache(maxsize=256)
def _schedule(
    time_zone: str,
    opening_hours: str,
    closed_dates: tuple[date, ...],
    duration_minutes: int,
    step_minutes: int,
    minimum_notice_minutes: int | None,
    booking_horizon_days: int | None,
) -> shop.ShopSchedule:
    return shop.ShopSchedule(
        zone_name=time_zone,
        zone=shop.zone_named(time_zone),
        weekly_hours=shop.parse_weekly_hours(opening_hours),
        closed_dates=frozenset(closed_dates),
        slot_minutes=duration_minutes,
        capacity=1,
        minimum_notice_minutes=minimum_notice_minutes,
        booking_horizon_days=booking_horizon_days,
        step_minutes=step_minutes,
    )
