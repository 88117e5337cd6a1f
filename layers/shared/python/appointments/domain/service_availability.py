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

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from appointments.data.service_calendars import ServiceCalendar, ServiceTimes, Unavailable
from appointments.domain import shop


@dataclass(frozen=True)
class OfferedStart:
    slot: shop.Slot
    free_resource_ids: tuple[str, ...]  # free for the whole block, in id order


def days_between(
    calendar: ServiceCalendar, service: ServiceTimes, first: date, last: date, now: datetime
) -> dict[date, list[OfferedStart]]:
    """Every day from `first` to `last`, with each start some resource offers, in order."""
    by_schedule = _resources_by_schedule(calendar, service)
    busy = _BusyTimes(calendar.unavailable)
    before, after = service.buffer_before_minutes * 60, service.buffer_after_minutes * 60
    days: dict[date, list[OfferedStart]] = {}
    for day in (first + timedelta(days=n) for n in range((last - first).days + 1)):
        starts: dict[float, tuple[shop.Slot, list[str]]] = {}
        for schedule, resource_ids in by_schedule:
            for slot in shop.available_slots(schedule, day, now):
                starts_at, ends_at = slot.posix_bounds
                _, free = starts.setdefault(starts_at, (slot, []))
                free.extend(
                    resource_id
                    for resource_id in resource_ids
                    if busy.free(resource_id, starts_at - before, ends_at + after)
                )
        days[day] = [
            OfferedStart(slot, tuple(sorted(free))) for _, (slot, free) in sorted(starts.items())
        ]
    return days


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


class _BusyTimes:
    """Each resource's busy intervals, sorted by start, in POSIX seconds (see availability.py)."""

    def __init__(self, unavailable: Iterable[Unavailable]) -> None:
        self._by_resource: dict[str, tuple[list[tuple[float, float]], list[float], float]]
        intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for busy in unavailable:
            span = (busy.starts_at.timestamp(), busy.ends_at.timestamp())
            intervals[busy.resource_id].append(span)
        self._by_resource = {}
        for resource_id, spans in intervals.items():
            spans.sort()
            longest = max(end - start for start, end in spans)
            self._by_resource[resource_id] = (spans, [start for start, _ in spans], longest)

    def free(self, resource_id: str, starts_at: float, ends_at: float) -> bool:
        """Whether nothing keeps the resource busy at some moment of [starts_at, ends_at)."""
        known = self._by_resource.get(resource_id)
        if known is None:
            return True
        spans, starts, longest = known
        first = bisect_left(starts, starts_at - longest)
        last = bisect_left(starts, ends_at)
        return not any(end > starts_at for _, end in spans[first:last])
