"""The shop's rules, without I/O: dates, times, and the slot list."""

from datetime import date, time

import pytest

from appointments import messages
from appointments.domain.schedule import parse_date, parse_time_of_day
from appointments.errors import ClientError


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


class TestParseTimeOfDay:
    @pytest.mark.parametrize("text", ["00:00", "09:00", "10:30", "16:59", "23:59"])
    def test_any_zero_padded_24_hour_time_is_read(self, text: str) -> None:
        assert parse_time_of_day(text) == time(int(text[:2]), int(text[3:]))

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
            "\uff10\uff19:00",  # full-width digits
            "",
        ],
    )
    def test_anything_not_hh_mm_is_an_invalid_time_format(self, text: str) -> None:
        with pytest.raises(ClientError, match=f"^{messages.INVALID_TIME}$"):
            parse_time_of_day(text)
