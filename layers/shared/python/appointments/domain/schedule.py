"""How dates and times are written in the API, and the original shop's hours.

Pure functions on ``datetime`` values; nothing here knows about HTTP or SQL.
The schedule a shop configures (zone, hours, slots, bays) is in shop.py, whose
defaults are the hours below.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from typing import Final

from appointments import messages
from appointments.errors import ClientError

# The original service's shop: open 09:00-17:00 every day, hourly slots.
OPENING_HOUR: Final = 9
CLOSING_HOUR: Final = 17  # the last slot starts an hour before closing
SLOT_HOURS: Final = 1

# Exactly the forms the contract accepts: four-digit year, zero-padded month and
# day; two-digit 24-hour time. ASCII digits only: `\d` would also match other
# scripts' digits, which date.fromisoformat rejects or reads differently.
_DATE_FORM: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TIME_FORM: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def parse_date(text: str) -> date:
    """A calendar date written as YYYY-MM-DD; anything else is a ClientError."""
    if not _DATE_FORM.fullmatch(text):
        raise ClientError(messages.INVALID_DATE)
    try:
        return date.fromisoformat(text)
    except ValueError:  # well formed but not a real day: 2024-02-30, 2100-02-29
        raise ClientError(messages.INVALID_DATE) from None


def parse_time_of_day(text: str) -> time:
    """A wall-clock time written as HH:MM (24-hour, zero-padded); anything else is a ClientError.

    Only the form: whether it starts a slot is the shop's schedule's to say.
    """
    form = TIME_FORM.fullmatch(text)
    if not form:
        raise ClientError(messages.INVALID_TIME)
    return time(int(form[1]), int(form[2]))


def rfc3339_in(moment: datetime, zone: tzinfo) -> str:
    """`2026-03-29T03:00:00+02:00`: to the second, with the offset `zone` has at that moment."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def rfc3339_utc(moment: datetime) -> str:
    """`2026-11-26T12:00:00Z`: to the second, in UTC, as the API's timestamps are written."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
