"""How many bays each slot still has: the shop's slots against the bookings' intervals.

One query per request, however many days: the confirmed bookings overlapping
the whole span, then counted per slot here. A bay counts as taken for a slot
when a booking holds it at any moment of the slot, so a booking made on
another slot grid (before SlotMinutes changed) still takes its bay.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple

from appointments.data import busy_bays
from appointments.data.default_catalogue import default_bay_ids
from appointments.domain import shop


class OpenSlot(NamedTuple):
    slot: shop.Slot
    remaining: int  # bays still free, 0 when full


def days_between(
    schedule: shop.ShopSchedule, first: date, last: date, now: datetime
) -> dict[date, list[OpenSlot]]:
    """Every day from `first` to `last`, with the slots one may book (full ones at 0)."""
    offered = {
        day: shop.available_slots(schedule, day, now)
        for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
    }
    every_slot = [slot for slots in offered.values() for slot in slots]
    if not every_slot:
        return {day: [] for day in offered}  # nothing open: no query
    busy = busy_bays.busy_bays(
        min(slot.starts_at for slot in every_slot), max(slot.ends_at for slot in every_slot)
    )
    taken = _TakenBays(busy, schedule.capacity)
    return {
        day: [OpenSlot(slot, schedule.capacity - taken.during(slot)) for slot in slots]
        for day, slots in offered.items()
    }


def free_on(schedule: shop.ShopSchedule, day: date, now: datetime) -> list[shop.Slot]:
    """The day's slots with a bay still free, in order."""
    day_slots = days_between(schedule, day, day, now)[day]
    return [open_slot.slot for open_slot in day_slots if open_slot.remaining]


class _TakenBays:
    """Bays taken at some moment of a slot, found by bisecting bookings sorted by start.

    On POSIX timestamps: comparing datetimes of two different zone objects (the
    shop's, the database session's) costs over ten times more.
    """

    def __init__(self, busy: Sequence[busy_bays.BusyBay], capacity: int) -> None:
        # A bay above the capacity (it was lowered since) takes nothing from the
        # bays the shop still offers.
        offered = set(default_bay_ids(capacity))
        self._busy = sorted(
            (b.starts_at.timestamp(), b.ends_at.timestamp(), b.resource_id)
            for b in busy
            if b.resource_id in offered
        )
        self._starts = [start for start, _, _ in self._busy]
        self._longest = max((end - start for start, end, _ in self._busy), default=0.0)

    def during(self, slot: shop.Slot) -> int:
        if not self._busy:
            return 0
        slot_start, slot_end = slot.posix_bounds
        first = bisect_left(self._starts, slot_start - self._longest)
        last = bisect_left(self._starts, slot_end)
        return len({bay for _, end, bay in self._busy[first:last] if end > slot_start})
