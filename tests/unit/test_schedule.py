"""The shop's rules, without I/O: dates, times, and the slot list."""

from datetime import date, time

import pytest

from appointments import messages
from appointments.errors import ClientError
from appointments.schedule import (
    SLOT_STARTS,
    available_times,
    parse_date,
    parse_slot_time,
)

ALL_TIMES = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]


class TestParseDate:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2024-01-20", date(2024, 1, 20)),
            ("2024-12-31", date(2024, 12, 31)),
            ("2024-02-29", date(2024, 2, 29)),  # leap year
            ("2028-02-29", date(2028, 2, 29)),  # leap year
            ("2000-02-29", date(2000, 2, 29)),  # divisible by 400: leap
            ("0001-01-01", date(1, 1, 1)),
            ("9999-12-31", date(9999, 12, 31)),
        ],
    )
    def test_real_calendar_dates_are_accepted(self, text: str, expected: date) -> None:
        assert parse_date(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "2024-02-30",  # no such day
            "2029-02-29",  # not a leap year
            "2100-02-29",  # divisible by 100 but not 400: not a leap year
            "2023-04-31",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "0000-01-01",  # there is no year zero
            "2024-1-5",  # not zero-padded
            "20240120",  # basic ISO form: fromisoformat would take it
            "2024/01/20",
            "24-01-20",
            " 2024-01-20",
            "2024-01-20 ",
            "2024-01-20\n",
            "2024-01-20T10:00",
            "\uff12\uff10\uff12\uff14-\uff10\uff11-\uff12\uff10",  # full-width digits
            "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0662\u0660",  # Arabic-Indic: match \d
            "",
            "today",
        ],
    )
    def test_anything_else_is_an_invalid_date_format(self, text: str) -> None:
        with pytest.raises(ClientError, match=f"^{messages.INVALID_DATE}$"):
            parse_date(text)


class TestParseSlotTime:
    @pytest.mark.parametrize("text", ALL_TIMES)
    def test_every_opening_hour_is_bookable(self, text: str) -> None:
        assert parse_slot_time(text) == time(int(text[:2]))

    @pytest.mark.parametrize("text", ["00:00", "08:00", "17:00", "18:00", "23:00"])
    def test_well_formed_hours_outside_opening_are_shop_closed(self, text: str) -> None:
        with pytest.raises(ClientError, match=f"^{messages.SHOP_CLOSED}$"):
            parse_slot_time(text)

    @pytest.mark.parametrize("text", ["10:30", "09:01", "16:59", "08:30", "17:15"])
    def test_times_off_the_hour_are_refused(self, text: str) -> None:
        with pytest.raises(ClientError, match=f"^{messages.TIME_NOT_ON_THE_HOUR}$"):
            parse_slot_time(text)

    @pytest.mark.parametrize(
        "text",
        [
            "9:00",
            "25:00",
            "24:00",
            "10:60",
            "10:00:00",
            "ten",
            "1000",
            "10-00",
            " 10:00",
            "10:00\n",
            "",
        ],
    )
    def test_anything_not_hh_mm_is_an_invalid_time_format(self, text: str) -> None:
        with pytest.raises(ClientError, match=f"^{messages.INVALID_TIME}$"):
            parse_slot_time(text)


class TestAvailableTimes:
    def test_slots_are_the_hourly_starts_from_nine_to_sixteen(self) -> None:
        assert [start.strftime("%H:%M") for start in SLOT_STARTS] == ALL_TIMES

    def test_a_day_with_no_bookings_offers_every_slot(self) -> None:
        assert available_times([]) == ALL_TIMES

    def test_booked_starts_are_left_out_and_order_is_kept(self) -> None:
        booked = [time(16), time(10), time(12)]
        assert available_times(booked) == ["09:00", "11:00", "13:00", "14:00", "15:00"]

    def test_a_fully_booked_day_offers_nothing(self) -> None:
        assert available_times(SLOT_STARTS) == []
