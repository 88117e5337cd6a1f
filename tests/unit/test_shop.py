"""The shop's configured schedule, without I/O: settings, slots, DST, and the booking checks."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import tzdata  # type: ignore[import-untyped]
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from appointments import messages
from appointments.domain import shop
from appointments.domain.shop import (
    OpeningWindow,
    ShopSchedule,
    Slot,
    available_slots,
    check_bookable,
    load_schedule,
    slots_between,
    slots_on,
)
from appointments.errors import ClientError, ConfigurationError
from tests.conftest import EXAMPLES_RUN

ALL_TIMES = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
MONDAY = date(2026, 5, 4)  # an ordinary week, far from any change of clocks
SUNDAY = date(2026, 5, 10)
# "Now" where it does not matter: days before MONDAY. No test reads the real clock.
EARLIER = datetime(2026, 5, 1, 12, tzinfo=UTC)


def schedule(**settings: str) -> ShopSchedule:
    return load_schedule(settings)


def labels(slots: Iterable[Slot]) -> list[str]:
    return [slot.label for slot in slots]


def spans(slots: Iterable[Slot]) -> list[tuple[str, str, str]]:
    """Each slot as its label and its start and end with their offsets, as ISO text."""
    return [(s.label, s.starts_at.isoformat(), s.ends_at.isoformat()) for s in slots]


def refusal(rules: ShopSchedule, day: date, text: str, now: datetime = EARLIER) -> tuple[str, str]:
    """The (message, outcome) check_bookable refuses with."""
    with pytest.raises(ClientError) as refused:
        check_bookable(rules, day, text, now)
    return refused.value.message, refused.value.outcome


def windows(*pairs: tuple[str, str]) -> tuple[OpeningWindow, ...]:
    def minutes(clock: str) -> int:
        return int(clock[:2]) * 60 + int(clock[3:])

    return tuple(OpeningWindow(minutes(opens), minutes(closes)) for opens, closes in pairs)


CLOSED = (messages.SHOP_CLOSED, "ShopClosed")
TOO_LATE = (messages.TOO_LATE, "TooLate")
TOO_FAR_AHEAD = (messages.TOO_FAR_AHEAD, "TooFarAhead")


class TestDefaults:
    def test_unset_settings_are_the_original_rules(self) -> None:
        rules = load_schedule({})
        assert rules == ShopSchedule(
            zone_name="UTC",
            zone=rules.zone,
            weekly_hours=(windows(("09:00", "17:00")),) * 7,
            closed_dates=frozenset(),
            slot_minutes=60,
            capacity=1,
            minimum_notice_minutes=None,
            booking_horizon_days=None,
        )
        assert str(rules.zone) == "UTC"

    def test_blank_settings_are_unset(self) -> None:
        names = ["SHOP_TIME_ZONE", "OPENING_HOURS", "CLOSED_DATES", "SLOT_MINUTES", "CAPACITY"]
        names += ["MINIMUM_NOTICE_MINUTES", "BOOKING_HORIZON_DAYS"]
        assert load_schedule(dict.fromkeys(names, " ")) == load_schedule({})

    @pytest.mark.parametrize("day", [MONDAY + timedelta(days=n) for n in range(7)])
    def test_every_day_offers_the_hourly_slots_from_nine_to_sixteen_in_utc(self, day: date) -> None:
        slots = slots_on(load_schedule({}), day)
        assert [slot.start for slot in slots] == [time(hour) for hour in range(9, 17)]
        assert spans(slots) == [
            (f"{hour:02d}:00", f"{day}T{hour:02d}:00:00+00:00", f"{day}T{hour + 1:02d}:00:00+00:00")
            for hour in range(9, 17)
        ]

    @pytest.mark.parametrize("text", ALL_TIMES)
    def test_every_opening_hour_is_bookable(self, text: str) -> None:
        slot = check_bookable(load_schedule({}), MONDAY, text, EARLIER)
        assert (slot.label, slot.start) == (text, time(int(text[:2])))

    @pytest.mark.parametrize("text", ["00:00", "08:00", "17:00", "18:00", "23:00"])
    def test_well_formed_hours_outside_opening_are_shop_closed(self, text: str) -> None:
        assert refusal(load_schedule({}), MONDAY, text) == CLOSED

    @pytest.mark.parametrize("text", ["10:30", "09:01", "16:59", "08:30", "17:15"])
    def test_times_off_the_hour_are_refused(self, text: str) -> None:
        assert refusal(load_schedule({}), MONDAY, text) == (
            messages.TIME_NOT_ON_THE_HOUR,
            "InvalidRequest",
        )

    @pytest.mark.parametrize(
        "text", ["9:00", "25:00", "24:00", "10:60", "10:00:00", "ten", "1000", " 10:00", ""]
    )
    def test_anything_not_hh_mm_is_an_invalid_time_format(self, text: str) -> None:
        assert refusal(load_schedule({}), MONDAY, text) == (
            messages.INVALID_TIME,
            "InvalidRequest",
        )

    def test_every_time_is_answered_as_the_original_rules_answer_it(self) -> None:
        texts = [f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in range(60)]
        texts += ["24:00", "9:00", "\uff10\uff19:00", "09:00\n"]  # full-width digits
        rules = load_schedule({})
        for text in texts:
            ours = _answer(lambda: check_bookable(rules, MONDAY, text, EARLIER).start)  # noqa: B023
            assert ours == _answer(lambda: original_rule(text)), text  # noqa: B023

    def test_without_notice_or_horizon_every_slot_stays_listed_and_bookable(self) -> None:
        rules = load_schedule({})
        long_after = datetime(2030, 1, 1, tzinfo=UTC)
        assert labels(available_slots(rules, MONDAY, long_after)) == ALL_TIMES
        assert check_bookable(rules, MONDAY, "09:00", long_after).label == "09:00"


def _answer(attempt: Callable[[], object]) -> object:
    """What a call gives: its value, or the ClientError's message and outcome."""
    try:
        return attempt()
    except ClientError as refused:
        return (refused.message, refused.outcome)


class TestMalformedSettings:
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("SHOP_TIME_ZONE", "Mars/Olympus_Mons"),
            ("SHOP_TIME_ZONE", "../../../etc/passwd"),
            ("SHOP_TIME_ZONE", "/etc/localtime"),
            ("SHOP_TIME_ZONE", "/usr/share/zoneinfo/UTC"),
            ("SHOP_TIME_ZONE", "Europe"),  # a folder of zones
            ("SHOP_TIME_ZONE", "Europe/"),
            ("SHOP_TIME_ZONE", "Europe/../UTC"),
            ("SHOP_TIME_ZONE", "europe/berlin"),
            ("SHOP_TIME_ZONE", "__init__.py"),
            ("SHOP_TIME_ZONE", "tzdata.zi"),  # in tzdata's folder, not a zone
            ("SHOP_TIME_ZONE", "CEST"),
            ("SHOP_TIME_ZONE", "+02:00"),
            ("OPENING_HOURS", "Mon-Fri 9-17"),
            ("OPENING_HOURS", "Mon-Fri 9:00-17:00"),
            ("OPENING_HOURS", "Mon-Fri 09.00-17.00"),
            ("OPENING_HOURS", "Mon-Fri 09:00\u201317:00"),  # an en dash
            ("OPENING_HOURS", "Mon-Fri"),
            ("OPENING_HOURS", "09:00-17:00"),
            ("OPENING_HOURS", "Monday 09:00-17:00"),
            ("OPENING_HOURS", "Mnd 09:00-17:00"),
            ("OPENING_HOURS", "Mon-Tue-Wed 09:00-17:00"),
            ("OPENING_HOURS", "Mon-Mon 09:00-17:00"),
            ("OPENING_HOURS", "Mon,,Tue 09:00-17:00"),
            ("OPENING_HOURS", "Mon 09:00-17:00 extra"),
            ("OPENING_HOURS", "Mon 09:00-12:00,"),
            ("OPENING_HOURS", "Mon 09:00-17:00;"),
            ("OPENING_HOURS", ";"),
            ("OPENING_HOURS", "Mon 17:00-09:00"),
            ("OPENING_HOURS", "Mon 09:00-09:00"),
            ("OPENING_HOURS", "Mon 24:00-24:00"),
            ("OPENING_HOURS", "Mon 09:00-24:30"),
            ("OPENING_HOURS", "Mon 09:00-25:00"),
            ("OPENING_HOURS", "Mon 09:60-17:00"),
            ("OPENING_HOURS", "Mon 09:00-12:00,11:00-13:00"),
            ("OPENING_HOURS", "Mon 09:00-17:00,10:00-11:00"),
            ("OPENING_HOURS", "Mon 09:00-12:00; Mon 13:00-17:00"),
            ("OPENING_HOURS", "Mon,Mon 09:00-17:00"),
            ("OPENING_HOURS", "Mon-Fri 09:00-17:00; Wed 10:00-12:00"),
            ("OPENING_HOURS", "Daily 09:00-17:00; Sun 10:00-12:00"),
            ("CLOSED_DATES", "2026-13-01"),
            ("CLOSED_DATES", "2026-02-30"),
            ("CLOSED_DATES", "25/12/2026"),
            ("CLOSED_DATES", "2026-12-25;2026-12-26"),
            ("CLOSED_DATES", "2026-12-25,"),
            ("CLOSED_DATES", "2026-12-25 2026-12-26"),
            ("CLOSED_DATES", "Christmas"),
            ("SLOT_MINUTES", "0"),
            ("SLOT_MINUTES", "4"),
            ("SLOT_MINUTES", "1441"),
            ("SLOT_MINUTES", "-60"),
            ("SLOT_MINUTES", "+60"),
            ("SLOT_MINUTES", "6_0"),
            ("SLOT_MINUTES", "60.0"),
            ("SLOT_MINUTES", "1e2"),
            ("SLOT_MINUTES", "sixty"),
            ("SLOT_MINUTES", "\u0666\u0660"),  # Arabic-Indic digits: int() reads 60
            ("SLOT_MINUTES", "9" * 5000),
            ("CAPACITY", "0"),
            ("CAPACITY", "1001"),
            ("CAPACITY", "1.5"),
            ("CAPACITY", "one"),
            ("MINIMUM_NOTICE_MINUTES", "-1"),
            ("MINIMUM_NOTICE_MINUTES", "1000000"),
            ("MINIMUM_NOTICE_MINUTES", "2h"),
            ("BOOKING_HORIZON_DAYS", "-1"),
            ("BOOKING_HORIZON_DAYS", "100000"),
            ("BOOKING_HORIZON_DAYS", "a week"),
        ],
    )
    def test_each_malformed_setting_is_refused_naming_it(self, name: str, value: str) -> None:
        with pytest.raises(ConfigurationError) as refused:
            load_schedule({name: value})
        assert str(refused.value).startswith(f'{name}: "')

    @pytest.mark.parametrize(
        ("settings", "message"),
        [
            (
                {"OPENING_HOURS": "Mon-Fri 9-17"},
                'OPENING_HOURS: "Mon-Fri 9-17": expected HH:MM-HH:MM windows',
            ),
            (
                {"OPENING_HOURS": "Mon-Fri 09:00-17:00; Wed 10:00-12:00"},
                'OPENING_HOURS: "Wed 10:00-12:00": Wed is named twice',
            ),
            (
                {"OPENING_HOURS": "Sat 09:00-12:00,11:00-13:00"},
                'OPENING_HOURS: "Sat 09:00-12:00,11:00-13:00": 09:00-12:00 and 11:00-13:00 overlap',
            ),
            (
                {"OPENING_HOURS": "Mon 17:00-09:00"},
                'OPENING_HOURS: "Mon 17:00-09:00": 17:00-09:00 must close after it opens',
            ),
            (
                {"OPENING_HOURS": "Mnd 09:00-17:00"},
                'OPENING_HOURS: "Mnd 09:00-17:00": "Mnd" is not a day:'
                " use Mon Tue Wed Thu Fri Sat Sun, Mon-Fri or Daily",
            ),
            (
                {"SHOP_TIME_ZONE": "../x"},
                'SHOP_TIME_ZONE: "../x": not an IANA time zone, e.g. Europe/Berlin',
            ),
            (
                {"CLOSED_DATES": "2026-12-25, 26/12/2026"},
                'CLOSED_DATES: "26/12/2026": expected YYYY-MM-DD dates separated by commas',
            ),
            (
                {"SLOT_MINUTES": "1441"},
                'SLOT_MINUTES: "1441": expected a whole number from 5 to 1440',
            ),
        ],
    )
    def test_the_message_says_what_is_wrong(self, settings: dict[str, str], message: str) -> None:
        with pytest.raises(ConfigurationError) as refused:
            load_schedule(settings)
        assert str(refused.value) == message


class TestOpeningHours:
    def test_a_range_of_days_with_split_windows_and_a_day_on_its_own(self) -> None:
        rules = schedule(OPENING_HOURS="Mon-Fri 09:00-12:00,13:00-17:00; Sat 10:00-14:00")
        weekday = windows(("09:00", "12:00"), ("13:00", "17:00"))
        assert rules.weekly_hours == (weekday,) * 5 + (windows(("10:00", "14:00")), ())
        assert labels(slots_on(rules, MONDAY)) == [
            "09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"
        ]  # fmt: skip
        assert labels(slots_on(rules, MONDAY + timedelta(days=5))) == [
            "10:00", "11:00", "12:00", "13:00"
        ]  # fmt: skip

    def test_days_not_named_are_closed(self) -> None:
        rules = schedule(OPENING_HOURS="Mon-Fri 09:00-17:00")
        assert slots_on(rules, SUNDAY) == ()
        assert refusal(rules, SUNDAY, "10:00") == CLOSED
        assert check_bookable(rules, MONDAY, "10:00", EARLIER).label == "10:00"

    def test_a_lunch_break_is_shop_closed(self) -> None:
        rules = schedule(OPENING_HOURS="Daily 09:00-12:00,13:00-17:00")
        assert refusal(rules, MONDAY, "12:00") == CLOSED

    def test_lists_with_spaces_and_any_case(self) -> None:
        rules = schedule(OPENING_HOURS="mon, WED ,Fri 09:00 - 10:00 , 11:00-12:00")
        open_days = [day for day, hours in enumerate(rules.weekly_hours) if hours]
        assert open_days == [0, 2, 4]
        assert rules.weekly_hours[0] == windows(("09:00", "10:00"), ("11:00", "12:00"))

    def test_a_range_may_wrap_round_the_week_end(self) -> None:
        rules = schedule(OPENING_HOURS="Fri-Mon 10:00-14:00")
        open_days = [day for day, hours in enumerate(rules.weekly_hours) if hours]
        assert open_days == [0, 4, 5, 6]

    @pytest.mark.parametrize("every_day", ["Daily", "daily", "Every day", "every  DAY", "Mon-Sun"])
    def test_every_day(self, every_day: str) -> None:
        rules = schedule(OPENING_HOURS=f"{every_day} 08:00-10:00")
        assert rules.weekly_hours == (windows(("08:00", "10:00")),) * 7

    def test_groups_may_be_on_lines_of_their_own(self) -> None:
        rules = schedule(OPENING_HOURS="\n  Mon-Fri 09:00-17:00;\n  Sat 10:00-14:00\n")
        assert rules == schedule(OPENING_HOURS="Mon-Fri 09:00-17:00; Sat 10:00-14:00")

    def test_windows_are_kept_in_order_and_may_touch(self) -> None:
        rules = schedule(OPENING_HOURS="Tue 13:00-15:00,09:00-13:00")
        assert rules.weekly_hours[1] == windows(("09:00", "13:00"), ("13:00", "15:00"))
        assert labels(slots_on(rules, MONDAY + timedelta(days=1))) == [
            "09:00", "10:00", "11:00", "12:00", "13:00", "14:00"
        ]  # fmt: skip

    def test_24_00_closes_at_midnight(self) -> None:
        rules = schedule(OPENING_HOURS="Sat 20:00-24:00; Sun 00:00-24:00")
        saturday = MONDAY + timedelta(days=5)
        assert spans(slots_on(rules, saturday))[-1] == (
            "23:00",
            "2026-05-09T23:00:00+00:00",
            "2026-05-10T00:00:00+00:00",
        )
        assert labels(slots_on(rules, saturday)) == ["20:00", "21:00", "22:00", "23:00"]
        assert len(slots_on(rules, SUNDAY)) == 24

    def test_a_slot_that_would_run_past_closing_is_not_offered(self) -> None:
        rules = schedule(OPENING_HOURS="Daily 09:00-17:00", SLOT_MINUTES="45")
        assert labels(slots_on(rules, MONDAY)) == [
            "09:00", "09:45", "10:30", "11:15", "12:00", "12:45", "13:30", "14:15", "15:00",
            "15:45",
        ]  # fmt: skip
        assert refusal(rules, MONDAY, "16:30") == CLOSED  # on the grid; 17:15 is past closing

    def test_a_window_shorter_than_a_slot_offers_nothing(self) -> None:
        rules = schedule(OPENING_HOURS="Mon 09:00-09:30; Tue 09:00-17:00")
        assert slots_on(rules, MONDAY) == ()

    def test_closed_dates_offer_nothing(self) -> None:
        rules = schedule(CLOSED_DATES=" 2026-05-04 , 2026-12-25")
        assert rules.closed_dates == {MONDAY, date(2026, 12, 25)}
        assert slots_on(rules, MONDAY) == ()
        assert labels(slots_on(rules, MONDAY + timedelta(days=1))) == ALL_TIMES
        assert refusal(rules, MONDAY, "10:00") == CLOSED

    def test_capacity_is_read(self) -> None:
        assert schedule(CAPACITY="3").capacity == 3

    def test_slots_between_gives_every_day_of_the_range_in_order(self) -> None:
        rules = schedule(OPENING_HOURS="Mon,Wed 09:00-11:00", CLOSED_DATES="2026-05-06")
        week = slots_between(rules, MONDAY, SUNDAY)
        assert list(week) == [MONDAY + timedelta(days=n) for n in range(7)]
        assert {day: labels(slots) for day, slots in week.items() if slots} == {
            MONDAY: ["09:00", "10:00"]
        }
        assert slots_between(rules, SUNDAY, MONDAY) == {}


class TestSlotGrid:
    def test_with_another_length_the_message_names_it(self) -> None:
        rules = schedule(SLOT_MINUTES="45")
        assert refusal(rules, MONDAY, "10:00") == (
            "Time must be a slot start: slots are 45 minutes long, from each opening time",
            "InvalidRequest",
        )

    def test_hourly_slots_from_a_half_hour_opening_name_the_grid(self) -> None:
        rules = schedule(OPENING_HOURS="Daily 09:30-17:30")
        assert refusal(rules, MONDAY, "10:00") == (
            messages.not_a_slot_start(60),
            "InvalidRequest",
        )
        assert check_bookable(rules, MONDAY, "10:30", EARLIER).label == "10:30"

    def test_the_grid_is_the_weeks_a_start_of_another_day_is_shop_closed(self) -> None:
        rules = schedule(OPENING_HOURS="Mon 09:00-12:00; Tue 09:30-12:30")
        assert refusal(rules, MONDAY, "09:30") == CLOSED
        assert refusal(rules, MONDAY, "09:15") == (
            messages.not_a_slot_start(60),
            "InvalidRequest",
        )
        assert check_bookable(rules, MONDAY + timedelta(days=1), "09:30", EARLIER).label == "09:30"

    def test_form_comes_before_grid_and_grid_before_hours(self) -> None:
        rules = schedule(OPENING_HOURS="Mon 09:00-17:00", CLOSED_DATES="2026-05-04")
        assert refusal(rules, MONDAY, "9:30")[0] == messages.INVALID_TIME
        assert refusal(rules, MONDAY, "09:30")[0] == messages.TIME_NOT_ON_THE_HOUR
        assert refusal(rules, MONDAY, "09:00") == CLOSED


def overnight(zone: str, **settings: str) -> ShopSchedule:
    """A shop open 00:00-04:00 in `zone`: its hours cross the changes of clocks."""
    return schedule(SHOP_TIME_ZONE=zone, OPENING_HOURS="Daily 00:00-04:00", **settings)


class TestDaylightSaving:
    def test_berlin_spring_forward_skips_two_oclock(self) -> None:
        rules = overnight("Europe/Berlin")
        assert spans(slots_on(rules, date(2026, 3, 29))) == [
            ("00:00", "2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00"),
            ("01:00", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"),
            ("03:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"),
        ]
        assert refusal(rules, date(2026, 3, 29), "02:00") == CLOSED
        assert check_bookable(rules, date(2026, 3, 30), "02:00", EARLIER).label == "02:00"

    def test_berlin_fall_back_offers_two_oclock_once_at_its_first_showing(self) -> None:
        rules = overnight("Europe/Berlin")
        assert spans(slots_on(rules, date(2026, 10, 25))) == [
            ("00:00", "2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00"),
            ("01:00", "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00"),
            ("02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"),
            ("03:00", "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"),
        ]
        slot = check_bookable(rules, date(2026, 10, 25), "02:00", EARLIER)
        assert slot.starts_at.isoformat() == "2026-10-25T02:00:00+02:00"

    def test_new_york_spring_forward_skips_two_oclock(self) -> None:
        # The clocks go from 02:00 EST to 03:00 EDT on the second Sunday of March.
        rules = overnight("America/New_York")
        assert spans(slots_on(rules, date(2026, 3, 8))) == [
            ("00:00", "2026-03-08T00:00:00-05:00", "2026-03-08T01:00:00-05:00"),
            ("01:00", "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"),
            ("03:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"),
        ]
        assert refusal(rules, date(2026, 3, 8), "02:00") == CLOSED

    def test_new_york_fall_back_offers_one_oclock_once_at_its_first_showing(self) -> None:
        # The clocks go from 02:00 EDT back to 01:00 EST on the first Sunday of November.
        rules = overnight("America/New_York")
        assert spans(slots_on(rules, date(2026, 11, 1))) == [
            ("00:00", "2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00"),
            ("01:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"),
            ("02:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"),
            ("03:00", "2026-11-01T03:00:00-05:00", "2026-11-01T04:00:00-05:00"),
        ]

    def test_half_hour_slots_across_the_gap(self) -> None:
        rules = overnight("Europe/Berlin", SLOT_MINUTES="30")
        assert spans(slots_on(rules, date(2026, 3, 29))) == [
            ("00:00", "2026-03-29T00:00:00+01:00", "2026-03-29T00:30:00+01:00"),
            ("00:30", "2026-03-29T00:30:00+01:00", "2026-03-29T01:00:00+01:00"),
            ("01:00", "2026-03-29T01:00:00+01:00", "2026-03-29T01:30:00+01:00"),
            ("01:30", "2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00"),
            ("03:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"),
            ("03:30", "2026-03-29T03:30:00+02:00", "2026-03-29T04:00:00+02:00"),
        ]
        assert refusal(rules, date(2026, 3, 29), "02:30") == CLOSED

    def test_a_whole_day_slot_on_a_23_hour_day_is_not_offered(self) -> None:
        # 2026-03-29 in Berlin lasts 23 hours: a 24-hour slot from its midnight
        # would end at 01:00 the next day, past closing and into the next slot.
        rules = schedule(
            SHOP_TIME_ZONE="Europe/Berlin", OPENING_HOURS="Daily 00:00-24:00", SLOT_MINUTES="1440"
        )
        assert slots_on(rules, date(2026, 3, 29)) == ()
        assert refusal(rules, date(2026, 3, 29), "00:00") == CLOSED
        assert spans(slots_on(rules, date(2026, 3, 28))) == [
            ("00:00", "2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00")
        ]
        assert spans(slots_on(rules, date(2026, 3, 30))) == [
            ("00:00", "2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00")
        ]

    @pytest.mark.parametrize(
        ("zone", "day", "minutes", "left_out"),
        [
            ("Europe/Berlin", date(2026, 3, 29), "45", ["01:30", "02:15"]),
            ("Europe/Berlin", date(2026, 3, 29), "90", ["01:30"]),
            ("America/New_York", date(2026, 3, 8), "45", ["01:30", "02:15"]),
            ("America/New_York", date(2026, 3, 8), "90", ["01:30"]),
        ],
    )
    def test_a_slot_that_would_overlap_the_next_across_the_gap_is_not_offered(
        self, zone: str, day: date, minutes: str, left_out: list[str]
    ) -> None:
        rules = schedule(
            SHOP_TIME_ZONE=zone, OPENING_HOURS="Daily 00:00-06:00", SLOT_MINUTES=minutes
        )
        offered = labels(slots_on(rules, day))
        grid = [_clock(m) for m in range(0, 6 * 60 - int(minutes) + 1, int(minutes))]
        assert offered == [label for label in grid if label not in left_out]
        for label in left_out:
            assert refusal(rules, day, label) == CLOSED

    def test_lord_howes_half_hour_gap(self) -> None:
        # 2026-10-04: the clocks go from 02:00 to 02:30.
        rules = schedule(
            SHOP_TIME_ZONE="Australia/Lord_Howe",
            OPENING_HOURS="Daily 01:00-04:00",
            SLOT_MINUTES="45",
        )
        assert spans(slots_on(rules, date(2026, 10, 4))) == [
            ("01:00", "2026-10-04T01:00:00+10:30", "2026-10-04T01:45:00+10:30"),
            # 01:45 would end at 03:00, half an hour into 02:30's slot.
            ("02:30", "2026-10-04T02:30:00+11:00", "2026-10-04T03:15:00+11:00"),
            ("03:15", "2026-10-04T03:15:00+11:00", "2026-10-04T04:00:00+11:00"),
        ]

    def test_a_day_the_clock_skips_offers_nothing(self) -> None:
        # Samoa crossed the date line: 29 December 2011 was followed by the 31st.
        rules = schedule(SHOP_TIME_ZONE="Pacific/Apia", OPENING_HOURS="Daily 00:00-24:00")
        assert slots_on(rules, date(2011, 12, 30)) == ()
        assert len(slots_on(rules, date(2011, 12, 31))) == 24

    @pytest.mark.parametrize(
        ("zone", "day", "first", "last"),
        [
            ("Etc/GMT-14", date.min, "14:00", "23:00"),  # 14:00+14:00 is 0001-01-01 00:00 UTC
            ("Etc/GMT+12", date.max, "00:00", "10:00"),  # ends 9999-12-31 23:00 UTC
            ("Etc/GMT+12", date.min, "00:00", "23:00"),
        ],
    )
    def test_the_hours_of_the_first_and_last_days_that_utc_cannot_hold_are_left_out(
        self, zone: str, day: date, first: str, last: str
    ) -> None:
        rules = schedule(SHOP_TIME_ZONE=zone, OPENING_HOURS="Daily 00:00-24:00")
        slots = slots_on(rules, day)
        assert (slots[0].label, slots[-1].label, len(slots)) == (
            first,
            last,
            int(last[:2]) - int(first[:2]) + 1,
        )

    def test_an_hour_utc_cannot_hold_is_shop_closed(self) -> None:
        rules = schedule(SHOP_TIME_ZONE="Etc/GMT-14", OPENING_HOURS="Daily 00:00-24:00")
        assert refusal(rules, date.min, "00:00") == CLOSED


class TestNoticeAndHorizon:
    def test_a_slot_exactly_the_notice_away_is_bookable_a_minute_later_it_is_too_late(
        self,
    ) -> None:
        rules = schedule(MINIMUM_NOTICE_MINUTES="120")
        at_eight = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
        assert check_bookable(rules, MONDAY, "10:00", at_eight).label == "10:00"
        assert refusal(rules, MONDAY, "09:00", at_eight) == TOO_LATE
        assert refusal(rules, MONDAY, "10:00", at_eight + timedelta(minutes=1)) == TOO_LATE
        assert labels(available_slots(rules, MONDAY, at_eight)) == ALL_TIMES[1:]
        assert (
            labels(available_slots(rules, MONDAY, at_eight + timedelta(minutes=1)))
            == (ALL_TIMES[2:])
        )

    def test_zero_notice_refuses_the_past_but_not_the_present(self) -> None:
        rules = schedule(MINIMUM_NOTICE_MINUTES="0")
        at_ten = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
        assert check_bookable(rules, MONDAY, "10:00", at_ten).label == "10:00"
        assert refusal(rules, MONDAY, "09:00", at_ten) == TOO_LATE
        assert refusal(rules, date(2026, 5, 3), "16:00", at_ten) == TOO_LATE

    def test_notice_is_measured_in_elapsed_time_across_a_change_of_clocks(self) -> None:
        rules = schedule(
            SHOP_TIME_ZONE="Europe/Berlin",
            OPENING_HOURS="Daily 00:00-04:00",
            MINIMUM_NOTICE_MINUTES="60",
        )
        # 01:00+01:00 is 00:00 UTC; the next hour of the clock, 03:00+02:00, is 01:00 UTC.
        now = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
        assert labels(available_slots(rules, date(2026, 3, 29), now)) == ["03:00"]
        # The same moment written in the shop's own zone gives the same answer.
        in_berlin = now.astimezone(rules.zone)
        assert labels(available_slots(rules, date(2026, 3, 29), in_berlin)) == ["03:00"]

    def test_notice_compares_moments_not_wall_clocks_on_the_repeated_hour(self) -> None:
        rules = schedule(
            SHOP_TIME_ZONE="Europe/Berlin",
            OPENING_HOURS="Daily 00:00-04:00",
            SLOT_MINUTES="30",
            MINIMUM_NOTICE_MINUTES="0",
        )
        # 02:10 at its second showing (+01:00) is after 02:30 at its first (+02:00).
        later_showing = datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=rules.zone)
        assert refusal(rules, date(2026, 10, 25), "02:30", later_showing) == TOO_LATE

    def test_the_horizons_last_day_is_bookable_the_next_is_too_far_ahead(self) -> None:
        rules = schedule(BOOKING_HORIZON_DAYS="7")
        now = datetime(2026, 5, 4, 23, 59, tzinfo=UTC)
        assert check_bookable(rules, date(2026, 5, 11), "16:00", now).label == "16:00"
        assert refusal(rules, date(2026, 5, 12), "09:00", now) == TOO_FAR_AHEAD
        assert labels(available_slots(rules, date(2026, 5, 11), now)) == ALL_TIMES
        assert available_slots(rules, date(2026, 5, 12), now) == ()
        # A minute later it is the 5th: the 12th comes within reach.
        assert check_bookable(rules, date(2026, 5, 12), "09:00", now + timedelta(minutes=1))

    @pytest.mark.parametrize(
        ("zone", "now", "last_day"),
        [
            # 23:30 UTC on the 4th is already 11:30 on the 5th in Auckland.
            ("Pacific/Auckland", datetime(2026, 5, 4, 23, 30, tzinfo=UTC), date(2026, 5, 12)),
            # 02:00 UTC on the 5th is still 22:00 on the 4th in New York.
            ("America/New_York", datetime(2026, 5, 5, 2, 0, tzinfo=UTC), date(2026, 5, 11)),
        ],
    )
    def test_the_horizon_counts_days_in_the_shops_zone(
        self, zone: str, now: datetime, last_day: date
    ) -> None:
        rules = schedule(SHOP_TIME_ZONE=zone, BOOKING_HORIZON_DAYS="7")
        assert check_bookable(rules, last_day, "09:00", now).label == "09:00"
        assert refusal(rules, last_day + timedelta(days=1), "09:00", now) == TOO_FAR_AHEAD

    def test_a_zero_horizon_allows_only_the_shops_today(self) -> None:
        rules = schedule(BOOKING_HORIZON_DAYS="0")
        now = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
        assert check_bookable(rules, MONDAY, "16:00", now).label == "16:00"
        assert refusal(rules, MONDAY + timedelta(days=1), "09:00", now) == TOO_FAR_AHEAD

    def test_the_checks_come_in_order_closed_then_too_late_then_too_far(self) -> None:
        rules = schedule(
            OPENING_HOURS="Mon-Fri 09:00-17:00",
            MINIMUM_NOTICE_MINUTES=str(30 * 24 * 60),
            BOOKING_HORIZON_DAYS="7",
        )
        now = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
        assert refusal(rules, SUNDAY, "10:00", now) == CLOSED
        assert refusal(rules, date(2026, 5, 20), "10:00", now) == TOO_LATE  # and too far

    def test_a_naive_now_is_a_programming_error_even_without_notice_or_horizon(self) -> None:
        naive = datetime(2026, 5, 4, 8, 0)
        with pytest.raises(ValueError, match="aware"):
            available_slots(load_schedule({}), MONDAY, naive)
        with pytest.raises(ValueError, match="aware"):
            check_bookable(load_schedule({}), MONDAY, "10:00", naive)

    def test_the_real_clock_is_aware_and_in_utc(self) -> None:
        assert shop.now().utcoffset() == timedelta(0)


class TestZones:
    def test_zones_come_from_the_tzdata_package_not_the_system(self, tmp_path: Path) -> None:
        # A system whose Asia/Kathmandu is UTC: ZoneInfo("Asia/Kathmandu") would read it.
        (tmp_path / "Asia").mkdir()
        utc_rules = Path(tzdata.__file__).parent / "zoneinfo" / "UTC"
        (tmp_path / "Asia" / "Kathmandu").write_bytes(utc_rules.read_bytes())
        shop._zone.cache_clear()
        zoneinfo.reset_tzpath(to=[str(tmp_path)])
        try:
            assert zoneinfo.ZoneInfo.no_cache("Asia/Kathmandu").utcoffset(None) == timedelta(0)
            rules = schedule(SHOP_TIME_ZONE="Asia/Kathmandu")
        finally:
            zoneinfo.reset_tzpath()
            shop._zone.cache_clear()
        assert str(rules.zone) == "Asia/Kathmandu"
        assert slots_on(rules, MONDAY)[0].starts_at.isoformat() == "2026-05-04T09:00:00+05:45"

    def test_a_zone_is_loaded_once_and_schedules_of_one_zone_are_equal(self) -> None:
        first = schedule(SHOP_TIME_ZONE="Europe/Berlin")
        second = schedule(SHOP_TIME_ZONE=" Europe/Berlin ")
        assert first.zone is second.zone
        assert first == second
        assert hash(first) == hash(second)


# Days on which some clock changes, or is about to: where slots are most likely wrong.
CHANGES_OF_CLOCKS = [
    date(2026, 3, 29),  # Europe: spring forward
    date(2026, 10, 25),  # Europe: fall back
    date(2026, 3, 8),  # America: spring forward
    date(2026, 11, 1),  # America: fall back
    date(2026, 4, 5),  # Lord Howe: back half an hour
    date(2026, 10, 4),  # Lord Howe: forward half an hour
    date(2018, 11, 4),  # São Paulo: forward at midnight
    date(2019, 2, 16),  # São Paulo: back at midnight
    date(2011, 12, 29),  # Samoa: the day before the 30th was skipped
    date(2011, 12, 30),
    date.min,
    date.max,
]
ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/Dublin",  # its winter time is the "daylight saving" one
    "America/New_York",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Asia/Kathmandu",
]


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def opening_hours(draw: st.DrawFn) -> str:
    """Valid OPENING_HOURS text: up to three windows on each day, at least one in the week."""
    groups = []
    for name in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]:
        edges = sorted(draw(st.lists(st.integers(0, 24 * 60), unique=True, max_size=6)))
        pairs = list(zip(edges[::2], edges[1::2], strict=False))
        if pairs:
            groups.append(f"{name} " + ",".join(f"{_clock(a)}-{_clock(b)}" for a, b in pairs))
    assume(groups)
    return "; ".join(groups)


schedules = st.builds(
    lambda zone, hours, minutes: load_schedule(
        {"SHOP_TIME_ZONE": zone, "OPENING_HOURS": hours, "SLOT_MINUTES": str(minutes)}
    ),
    st.sampled_from(ZONES),
    opening_hours(),
    st.one_of(st.sampled_from([5, 15, 30, 45, 60, 90]), st.integers(5, 24 * 60)),
)
days = st.one_of(st.sampled_from(CHANGES_OF_CLOCKS), st.dates())


@settings(max_examples=300, deadline=None)
@given(rules=schedules, day=days)
def test_slots_follow_each_other_last_their_length_and_lie_within_a_window(
    rules: ShopSchedule, day: date
) -> None:
    slots = slots_on(rules, day)
    length = timedelta(minutes=rules.slot_minutes)
    starts = [slot.starts_at.astimezone(UTC) for slot in slots]
    assert all(earlier < later for earlier, later in pairwise(starts))
    for slot in slots:
        assert slot.ends_at.astimezone(UTC) - slot.starts_at.astimezone(UTC) == length
        assert slot.starts_at.tzinfo is rules.zone and slot.ends_at.tzinfo is rules.zone
        assert slot.starts_at.replace(tzinfo=None) == datetime.combine(day, slot.start)
        assert slot.label == slot.start.strftime("%H:%M")
        minute = slot.start.hour * 60 + slot.start.minute
        assert any(
            window.opens <= minute
            and minute + rules.slot_minutes <= window.closes
            and (minute - window.opens) % rules.slot_minutes == 0
            for window in rules.weekly_hours[day.weekday()]
        )
    key = "shop slots"
    EXAMPLES_RUN[key] = EXAMPLES_RUN.get(key, 0) + 1


@settings(max_examples=300, deadline=None)
@given(rules=schedules, day=days, minute=st.integers(0, 24 * 60 - 1))
def test_a_time_is_bookable_exactly_when_it_is_one_of_the_days_slots(
    rules: ShopSchedule, day: date, minute: int
) -> None:
    offered = {slot.label: slot for slot in slots_on(rules, day)}
    text = _clock(minute)
    try:
        slot = check_bookable(rules, day, text, EARLIER)
    except ClientError as refused:
        assert text not in offered
        off_grid = {messages.TIME_NOT_ON_THE_HOUR, messages.not_a_slot_start(rules.slot_minutes)}
        assert refused.message in {messages.SHOP_CLOSED, *off_grid}
    else:
        assert offered[text] == slot
    key = "shop bookable times"
    EXAMPLES_RUN[key] = EXAMPLES_RUN.get(key, 0) + 1


def original_rule(text: str) -> time:
    """How the original service read a booking's time: hourly slots, 09:00 to 16:00."""
    form = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", text)
    if not form:
        raise ClientError(messages.INVALID_TIME)
    if form[2] != "00":
        raise ClientError(messages.TIME_NOT_ON_THE_HOUR)
    if not 9 <= int(form[1]) <= 16:
        raise ClientError(messages.SHOP_CLOSED, outcome="ShopClosed")
    return time(int(form[1]))


# Every change of clocks of these zones over these years: on each, the day
# before and the day after, no offered slot runs past its window's close, and
# no two offered slots overlap in real time.
TRANSITION_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # half an hour
    "America/Santiago",  # at midnight: the day after starts at 01:00
    "America/Sao_Paulo",  # at midnight, until 2019
]
TRANSITION_YEARS = range(2000, 2041)


def transition_days(zone_name: str) -> list[date]:
    """The days of TRANSITION_YEARS on which the zone's clocks change."""
    zone = zoneinfo.ZoneInfo(zone_name)
    first, last = date(TRANSITION_YEARS[0], 1, 1), date(TRANSITION_YEARS[-1], 12, 31)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def offset(day: date) -> timedelta | None:
        return datetime.combine(day, time(), tzinfo=zone).utcoffset()

    return [day for day in days if offset(day) != offset(day + timedelta(days=1))]


TRANSITIONS = [(zone, day) for zone in TRANSITION_ZONES for day in transition_days(zone)]


def first_instant(rules: ShopSchedule, day: date, minute: int) -> datetime:
    """When the wall clock first shows `minute` after `day`'s midnight, or first passes it.

    A time the clock skips is passed when the clock jumps: the instant of the
    first minute after it that exists. Found by stepping a minute at a time.
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    while True:
        instant = wall.replace(tzinfo=rules.zone).astimezone(UTC)
        if instant.astimezone(rules.zone).replace(tzinfo=None) == wall:
            return instant
        wall += timedelta(minutes=1)


def check_no_overlap_and_within_hours(rules: ShopSchedule, day: date) -> int:
    """Assert the rules on the day before, the day and the day after; the slots checked."""
    around = [day + timedelta(days=n) for n in (-1, 0, 1)]
    length = timedelta(minutes=rules.slot_minutes)
    checked = []
    for each in around:
        for slot in slots_on(rules, each):
            minute = slot.start.hour * 60 + slot.start.minute
            (window,) = (
                w for w in rules.weekly_hours[each.weekday()] if w.opens <= minute < w.closes
            )
            start, end = slot.starts_at.astimezone(UTC), slot.ends_at.astimezone(UTC)
            assert end - start == length, (each, slot.label)
            closes = first_instant(rules, each, window.closes)
            assert end <= closes, (each, slot.label, "ends after its window closes")
            checked.append((start, end, each, slot.label))
    for earlier, later in pairwise(sorted(checked)):
        assert earlier[1] <= later[0], ("overlap", earlier[2:], later[2:])
    return len(checked)


@pytest.mark.parametrize("minutes", ["45", "90", "1440", "50"])
def test_on_every_change_of_clocks_slots_neither_overlap_nor_outlast_their_window(
    minutes: str,
) -> None:
    assert len(TRANSITIONS) > 300  # two a year, for most of the zones
    for zone, day in TRANSITIONS:
        rules = schedule(
            SHOP_TIME_ZONE=zone, OPENING_HOURS="Daily 00:00-24:00", SLOT_MINUTES=minutes
        )
        check_no_overlap_and_within_hours(rules, day)


@settings(max_examples=300, deadline=None)
@given(
    transition=st.sampled_from(TRANSITIONS),
    hours=opening_hours(),
    minutes=st.one_of(st.sampled_from([15, 30, 45, 60, 90, 1440]), st.integers(5, 24 * 60)),
)
def test_around_a_change_of_clocks_any_hours_give_slots_that_fit(
    transition: tuple[str, date], hours: str, minutes: int
) -> None:
    zone, day = transition
    rules = load_schedule(
        {"SHOP_TIME_ZONE": zone, "OPENING_HOURS": hours, "SLOT_MINUTES": str(minutes)}
    )
    check_no_overlap_and_within_hours(rules, day)
    key = "shop slots around a change of clocks"
    EXAMPLES_RUN[key] = EXAMPLES_RUN.get(key, 0) + 1


@settings(max_examples=300, deadline=None)
@given(hours=opening_hours())
def test_formatted_hours_read_back_as_the_same_week(hours: str) -> None:
    week = load_schedule({"OPENING_HOURS": hours}).weekly_hours
    formatted = shop.format_weekly_hours(week)
    assert load_schedule({"OPENING_HOURS": formatted}).weekly_hours == week
    key = "formatted opening hours"
    EXAMPLES_RUN[key] = EXAMPLES_RUN.get(key, 0) + 1


@pytest.mark.parametrize(
    ("hours", "formatted"),
    [
        ("Daily 09:00-17:00", "Mon-Sun 09:00-17:00"),
        (
            "Sat 10:00-14:00; Mon-Fri 13:00-18:00,08:00-12:00",
            "Mon-Fri 08:00-12:00, 13:00-18:00; Sat 10:00-14:00",
        ),
        (
            "Sun 00:00-24:00; Tue 09:00-10:00; Wed 09:00-10:00",
            "Tue-Wed 09:00-10:00; Sun 00:00-24:00",
        ),
    ],
)
def test_hours_are_formatted_in_runs_of_days_monday_first(hours: str, formatted: str) -> None:
    assert (
        shop.format_weekly_hours(load_schedule({"OPENING_HOURS": hours}).weekly_hours) == formatted
    )
