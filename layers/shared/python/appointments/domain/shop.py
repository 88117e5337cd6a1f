"""The shop's configured week, the slots it makes, and the rules a booking must pass.

Pure: no SQL, no HTTP, and no clock but `now()`; functions that need the time
take it as a parameter. Callers read the settings once per container with
`load_schedule(os.environ)`. Unset, every setting gives the service's original
rules: UTC, every day 09:00-17:00, hourly slots, one booking per slot, no
minimum notice, no booking horizon.

OPENING_HOURS is written by people, as groups separated by ";", each naming
days and then that day's windows:

    Mon-Fri 09:00-12:00,13:00-17:00; Sat 10:00-14:00

Days are Mon Tue Wed Thu Fri Sat Sun (in any case), ranges (Mon-Fri; a range may
wrap round the week end: Sat-Mon is Sat, Sun and Mon), lists (Mon,Wed), or
"Daily" / "Every day". A day not named is closed, and naming a day twice is an
error. Windows are HH:MM-HH:MM, close after they open (24:00 closes at
midnight), and may touch but not overlap.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, cached_property, lru_cache
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo

import tzdata  # type: ignore[import-untyped]  # no py.typed; only its folder is used

from appointments import messages

# The HH:MM form and the date form of the HTTP contract, defined once in schedule.
from appointments.domain.schedule import CLOSING_HOUR, OPENING_HOUR, SLOT_HOURS, parse_date
from appointments.domain.schedule import TIME_FORM as HH_MM
from appointments.errors import ClientError, ConfigurationError

# Today's rules, taken from the module that states them, so the defaults cannot drift.
DEFAULT_OPENING_HOURS: Final = f"Daily {OPENING_HOUR:02d}:00-{CLOSING_HOUR:02d}:00"
DEFAULT_SLOT_MINUTES: Final = SLOT_HOURS * 60

_MINUTES_PER_DAY: Final = 24 * 60
_DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # date.weekday() order
_DAY_NUMBERS: Final = {name.lower(): number for number, name in enumerate(_DAY_NAMES)}
_EVERY_DAY: Final = frozenset({"daily", "every day"})

# Days, then windows from the first digit on: "Mon, Wed 09:00-12:00,13:00-17:00".
_GROUP: Final = re.compile(r"(?P<days>[^0-9]+?)\s+(?P<windows>[0-9].*)", re.DOTALL)
_WINDOW: Final = re.compile(r"([0-9]{2}):([0-9]{2})\s*-\s*([0-9]{2}):([0-9]{2})")
# ASCII digits only: int() would also take "+5", "5_0" and other scripts' digits.
# Nine digits are far past every bound and keep int() cheap.
_WHOLE_NUMBER: Final = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, order=True)
class OpeningWindow:
    """Open from `opens` to `closes`, minutes after midnight on the wall clock (24:00 is 1440)."""

    opens: int
    closes: int

    def __str__(self) -> str:
        return f"{_clock(self.opens)}-{_clock(self.closes)}"


@dataclass(frozen=True)
class ShopSchedule:
    """The shop's settings, parsed. Hashable, so that a day's slots can be cached."""

    zone_name: str
    # Equal names load the same rules (and the same cached object): compare the name.
    zone: ZoneInfo = field(compare=False, repr=False)
    weekly_hours: tuple[tuple[OpeningWindow, ...], ...]  # Monday first; sorted, disjoint
    closed_dates: frozenset[date]
    slot_minutes: int
    capacity: int
    minimum_notice_minutes: int | None  # None: no notice asked
    booking_horizon_days: int | None  # None: no limit
    # How often starts step from each opening (a service's); None: every slot.
    step_minutes: int | None = None

    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def _hash(self) -> int:
        # Worked out once: every request looks its day's slots up by schedule,
        # and hashing the hours' nested dataclasses each time cost ~4 µs.
        return hash(tuple(getattr(self, f.name) for f in fields(self) if f.compare))


@dataclass(frozen=True)
class Slot:
    """One bookable start on one day."""

    label: str  # "HH:MM", as clients write it
    start: time  # on the wall clock
    starts_at: datetime  # aware, in the shop's zone
    ends_at: datetime  # the slot's length of elapsed time later, in the shop's zone

    @cached_property
    def posix_bounds(self) -> tuple[float, float]:
        """[starts_at, ends_at) in POSIX seconds, worked out once: a day's slots are cached."""
        return self.starts_at.timestamp(), self.ends_at.timestamp()

    @cached_property
    def rfc3339_bounds(self) -> tuple[str, str]:
        """starts_at and ends_at as the API writes them, with the shop's offset; once."""
        return (
            self.starts_at.isoformat(timespec="seconds"),
            self.ends_at.isoformat(timespec="seconds"),
        )


def now() -> datetime:
    """The real time: the one place this module reads the clock (tests pass their own)."""
    return datetime.now(UTC)


# --- Settings -----------------------------------------------------------------


def load_schedule(env: Mapping[str, str]) -> ShopSchedule:
    """The schedule `env` configures; a ConfigurationError names the setting at fault."""
    zone_name = _setting(env, "SHOP_TIME_ZONE") or "UTC"
    return ShopSchedule(
        zone_name=zone_name,
        zone=_zone(zone_name),
        weekly_hours=_weekly_hours(_setting(env, "OPENING_HOURS") or DEFAULT_OPENING_HOURS),
        closed_dates=_closed_dates(_setting(env, "CLOSED_DATES")),
        slot_minutes=whole_number_setting(env, "SLOT_MINUTES", 5, 1440, DEFAULT_SLOT_MINUTES),
        capacity=whole_number_setting(env, "CAPACITY", 1, 1000, 1),
        # A year of notice, a century ahead: past these a value is a typo (and
        # now + notice would near the end of datetime's range).
        # The bounds are those of the template's patterns (6 and 5 digits).
        minimum_notice_minutes=optional_whole_number_setting(
            env, "MINIMUM_NOTICE_MINUTES", 0, 999_999
        ),
        booking_horizon_days=optional_whole_number_setting(env, "BOOKING_HORIZON_DAYS", 0, 99_999),
    )


def parse_weekly_hours(text: str) -> tuple[tuple[OpeningWindow, ...], ...]:
    """Hours in the OPENING_HOURS form (a shop's or a resource's in the catalogue)."""
    return _weekly_hours(text)


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`, from the pinned tzdata; a ConfigurationError if there is none."""
    return _zone(name)


def _setting(env: Mapping[str, str], name: str) -> str:
    """The setting's text; empty (or blank) when unset."""
    return env.get(name, "").strip()


def _misconfigured(name: str, text: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f'{name}: "{text}": {problem}')


def whole_number_setting(
    env: Mapping[str, str], name: str, low: int, high: int, default: int
) -> int:
    """The setting `name` of `env`, `default` if unset; a ConfigurationError names it if it
    is not a whole number from `low` to `high`."""
    number = optional_whole_number_setting(env, name, low, high)
    return default if number is None else number


def optional_whole_number_setting(
    env: Mapping[str, str], name: str, low: int, high: int
) -> int | None:
    """The setting `name` of `env`, None if unset; a ConfigurationError names it if it is
    not a whole number from `low` to `high`."""
    text = _setting(env, name)
    if not text:
        return None
    if not (_WHOLE_NUMBER.fullmatch(text) and low <= int(text) <= high):
        raise _misconfigured(name, text, f"expected a whole number from {low} to {high}")
    return int(text)


# Zone rules come from the pinned tzdata package, never from the OS: the Lambda
# runtime's zone files are not ours to pin, and ZoneInfo(name) would prefer them.
# Read by path, not importlib.resources (about 30 ms of imports at a cold start):
# the layer is a plain folder.
_TZDATA: Final[str] = os.path.dirname(tzdata.__file__)


@cache
def _zone(name: str) -> ZoneInfo:
    # Only names tzdata lists become paths: never "../x", "/etc/x", a folder or a non-zone file.
    if name not in _zone_names():
        raise _misconfigured("SHOP_TIME_ZONE", name, "not an IANA time zone, e.g. Europe/Berlin")
    with open(os.path.join(_TZDATA, "zoneinfo", *name.split("/")), "rb") as rules:
        return ZoneInfo.from_file(rules, key=name)


@cache
def _zone_names() -> frozenset[str]:
    with open(os.path.join(_TZDATA, "zones"), encoding="utf-8") as listing:
        return frozenset(listing.read().split())


def _closed_dates(text: str) -> frozenset[date]:
    if not text:
        return frozenset()
    return frozenset(_closed_date(item.strip()) for item in text.split(","))


def _closed_date(text: str) -> date:
    try:
        return parse_date(text)
    except ClientError:
        problem = "expected YYYY-MM-DD dates separated by commas"
        raise _misconfigured("CLOSED_DATES", text, problem) from None


def _weekly_hours(text: str) -> tuple[tuple[OpeningWindow, ...], ...]:
    week: dict[int, tuple[OpeningWindow, ...]] = {}
    for group in (group.strip() for group in text.split(";")):
        days, windows = _days_and_windows(group)
        for day in days:
            if day in week:
                raise _hours_error(group, f"{_DAY_NAMES[day]} is named twice")
            week[day] = windows
    return tuple(week.get(day, ()) for day in range(7))


def format_weekly_hours(week: tuple[tuple[OpeningWindow, ...], ...]) -> str:
    """The hours in the OPENING_HOURS form, days with equal hours in runs: "Mon-Fri 09:00-17:00"."""
    groups: list[str] = []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and week[last + 1] == week[day]:
            last += 1
        if week[day]:
            days = _DAY_NAMES[day] if last == day else f"{_DAY_NAMES[day]}-{_DAY_NAMES[last]}"
            groups.append(f"{days} {', '.join(str(window) for window in week[day])}")
        day = last + 1
    return "; ".join(groups)


def _hours_error(group: str, problem: str) -> ConfigurationError:
    return _misconfigured("OPENING_HOURS", group, problem)


def _days_and_windows(group: str) -> tuple[list[int], tuple[OpeningWindow, ...]]:
    parts = _GROUP.fullmatch(group)
    if not parts:
        problem = 'expected days then HH:MM-HH:MM windows, as "Mon-Fri 09:00-17:00"'
        raise _hours_error(group, problem)
    return _days(group, parts["days"]), _windows(group, parts["windows"])


def _days(group: str, text: str) -> list[int]:
    """Day numbers, Monday 0, in the order named; repeats are kept for the caller to refuse."""
    if " ".join(text.split()).lower() in _EVERY_DAY:
        return list(range(7))
    days: list[int] = []
    for item in text.split(","):
        first_name, dash, last_name = item.partition("-")
        first = _day_number(group, first_name)
        last = _day_number(group, last_name) if dash else first
        if dash and last == first:
            raise _hours_error(group, f"{item.strip()} is not a range of days")
        days.extend((first + offset) % 7 for offset in range((last - first) % 7 + 1))
    return days


def _day_number(group: str, name: str) -> int:
    number = _DAY_NUMBERS.get(name.strip().lower())
    if number is None:
        problem = f'"{name.strip()}" is not a day: use {" ".join(_DAY_NAMES)}, Mon-Fri or Daily'
        raise _hours_error(group, problem)
    return number


def _windows(group: str, text: str) -> tuple[OpeningWindow, ...]:
    windows = sorted(_window(group, item.strip()) for item in text.split(","))
    for earlier, later in pairwise(windows):
        if later.opens < earlier.closes:
            raise _hours_error(group, f"{earlier} and {later} overlap")
    return tuple(windows)


def _window(group: str, text: str) -> OpeningWindow:
    form = _WINDOW.fullmatch(text)
    if not form:
        raise _hours_error(group, "expected HH:MM-HH:MM windows")
    opens = _minute_of_day(group, form[1], form[2])
    closes = _minute_of_day(group, form[3], form[4])
    if opens == _MINUTES_PER_DAY:
        raise _hours_error(group, "24:00 can only close a window")
    if closes <= opens:
        raise _hours_error(group, f"{text} must close after it opens")
    return OpeningWindow(opens, closes)


def _minute_of_day(group: str, hours: str, minutes: str) -> int:
    minute = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or minute > _MINUTES_PER_DAY:
        raise _hours_error(group, f"{hours}:{minutes} is not a time of day")
    return minute


def _clock(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


# --- Slots --------------------------------------------------------------------


def slots_on(schedule: ShopSchedule, day: date) -> tuple[Slot, ...]:
    """The day's slots in order; none on a closed date or a day without hours."""
    return _cached_slots_on(schedule, day)


# Module-level on purpose: the schedule lives as long as the container, so a
# warm invocation finds the days asked about lately already built.
# 1024 days of slots: a month for every set of hours a few shops' services
# ask about, a few hundred kilobytes.
@lru_cache(maxsize=1024)
def _cached_slots_on(schedule: ShopSchedule, day: date) -> tuple[Slot, ...]:
    if day in schedule.closed_dates:
        return ()
    slots = []
    for window in schedule.weekly_hours[day.weekday()]:
        # Wall-clock steps: a whole slot must fit, by the clock, before closing.
        last_start = window.closes - schedule.slot_minutes
        for minute in range(window.opens, last_start + 1, _step(schedule)):
            slot = _slot_at(schedule, day, minute)
            if slot is not None:
                slots.append(slot)
    return tuple(slots)


def _slot_at(schedule: ShopSchedule, day: date, minute: int) -> Slot | None:
    """The slot starting `minute` after midnight on the wall clock; None if it cannot be.

    None when the clock skips its start, or when it spans a spring-forward
    jump: lasting its length of real time, it would end, by the clock, after
    the next start or the closing time (see docs/schedule.md).
    """
    start = time(minute // 60, minute % 60)
    # fold=0: a time the clock shows twice when it falls back is offered at its first showing.
    wall = datetime.combine(day, start, tzinfo=schedule.zone)
    try:
        start_utc = wall.astimezone(UTC)
        starts_at = start_utc.astimezone(schedule.zone)
        # Durations in UTC: arithmetic within one zone is wall-clock arithmetic.
        ends_at = (start_utc + timedelta(minutes=schedule.slot_minutes)).astimezone(schedule.zone)
        next_start = wall + timedelta(minutes=schedule.slot_minutes)  # or closing: on the clock
    except OverflowError:  # the first or last hours of 0001-01-01 or 9999-12-31 in UTC
        return None
    # A time in a spring-forward gap does not exist: through UTC it comes back as another.
    if starts_at.replace(tzinfo=None) != wall.replace(tzinfo=None):
        return None
    # Its span on the clock holds its length of real time, except across a
    # spring-forward jump: then it must end by the time the clock reaches the
    # next start (see _first_instant), lest it overlap that slot or outlast closing.
    if ends_at.replace(tzinfo=None) > next_start.replace(tzinfo=None) and ends_at > _first_instant(
        schedule.zone, next_start
    ):
        return None
    return Slot(label=_clock(minute), start=start, starts_at=starts_at, ends_at=ends_at)


def _first_instant(zone: ZoneInfo, wall: datetime) -> datetime:
    """When the clock first shows `wall` (in `zone`, fold ignored); if it skips it, the jump.

    Skipped, `wall` read with the offset before the jump is an instant after
    it, and read with the offset after, an instant before it: the jump is
    found between the two, to the second (zone rules change on whole seconds).
    """
    wall = wall.replace(tzinfo=zone, fold=0)
    after_jump = wall.astimezone(UTC)
    if after_jump.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return after_jump
    before_jump = wall.replace(fold=1).astimezone(UTC)
    offset_before = before_jump.astimezone(zone).utcoffset()
    low, high = int(before_jump.timestamp()), int(after_jump.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def slots_between(schedule: ShopSchedule, first: date, last: date) -> dict[date, tuple[Slot, ...]]:
    """Every day from `first` to `last` included, in order, with its slots (empty if last < first).

    The caller bounds the range: each day's slots are built.
    """
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    return {day: slots_on(schedule, day) for day in days}


# --- Bookings -----------------------------------------------------------------


def check_bookable(schedule: ShopSchedule, day: date, time_text: str, now: datetime) -> Slot:
    """The slot at `time_text` on `day`, or the ClientError saying why it cannot be booked.

    Checked in order of what the client got wrong first: the form, the grid, the
    shop's hours, and then, against `now` (aware), the notice and the horizon.
    """
    return open_slot(schedule, day, start_on_grid(schedule, time_text), now)


def start_on_grid(schedule: ShopSchedule, time_text: str) -> int:
    """Minutes after midnight of the HH:MM start `time_text`: a ClientError unless on the grid.

    The checks of a time that need no date: its form, then the week's slot grid.
    """
    form = HH_MM.fullmatch(time_text)
    if not form:
        raise ClientError(messages.INVALID_TIME)
    minute = int(form[1]) * 60 + int(form[2])
    if not _on_slot_grid(schedule, minute):
        raise ClientError(_off_grid_message(schedule))
    return minute


def open_slot(schedule: ShopSchedule, day: date, minute: int, now: datetime) -> Slot:
    """The slot starting `minute` (on the grid) on `day`, or the ClientError saying why not.

    The shop's hours, then, against `now` (aware), the notice and the horizon.
    """
    now_utc = _utc(now)
    start = time(minute // 60, minute % 60)
    slot = next((slot for slot in slots_on(schedule, day) if slot.start == start), None)
    if slot is None:
        raise ClientError(messages.SHOP_CLOSED, outcome="ShopClosed")
    earliest = _earliest_start(schedule, now_utc)
    if earliest is not None and _utc(slot.starts_at) < earliest:
        raise ClientError(messages.TOO_LATE, outcome="TooLate")
    if _beyond_horizon(schedule, day, now_utc):
        raise ClientError(messages.TOO_FAR_AHEAD, outcome="TooFarAhead")
    return slot


def available_slots(schedule: ShopSchedule, day: date, now: datetime) -> tuple[Slot, ...]:
    """The day's slots that may still be booked at `now` (aware), in order.

    Leaves out those too soon for the notice or beyond the horizon; the caller
    leaves out the full ones.
    """
    now_utc = _utc(now)
    if _beyond_horizon(schedule, day, now_utc):
        return ()
    slots = slots_on(schedule, day)
    earliest = _earliest_start(schedule, now_utc)
    if earliest is None:
        return slots
    return tuple(slot for slot in slots if _utc(slot.starts_at) >= earliest)


def _step(schedule: ShopSchedule) -> int:
    return schedule.step_minutes or schedule.slot_minutes


def _on_slot_grid(schedule: ShopSchedule, minute: int) -> bool:
    """Whether `minute` is a whole number of steps after some opening time of the week."""
    return any(
        (minute - window.opens) % _step(schedule) == 0
        for windows in schedule.weekly_hours
        for window in windows
    )


def _off_grid_message(schedule: ShopSchedule) -> str:
    # The original words while the grid is the original one: hourly slots from whole hours.
    hourly = schedule.slot_minutes == 60 and all(
        window.opens % 60 == 0 for windows in schedule.weekly_hours for window in windows
    )
    if hourly:
        return messages.TIME_NOT_ON_THE_HOUR
    if _step(schedule) != schedule.slot_minutes:  # a service that starts more often than it lasts
        return messages.not_a_service_start(_step(schedule))
    return messages.not_a_slot_start(schedule.slot_minutes)


def _earliest_start(schedule: ShopSchedule, now_utc: datetime) -> datetime | None:
    """The earliest start bookable at `now_utc`, in UTC; None when no notice is asked."""
    if schedule.minimum_notice_minutes is None:
        return None
    return now_utc + timedelta(minutes=schedule.minimum_notice_minutes)


def _beyond_horizon(schedule: ShopSchedule, day: date, now_utc: datetime) -> bool:
    if schedule.booking_horizon_days is None:
        return False
    today = now_utc.astimezone(schedule.zone).date()  # the shop's today, not UTC's
    return (day - today).days > schedule.booking_horizon_days


def _utc(moment: datetime) -> datetime:
    # In UTC before comparing: two datetimes of one zone compare by wall clock, ignoring fold.
    if moment.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, not {moment!r}")
    return moment.astimezone(UTC)
