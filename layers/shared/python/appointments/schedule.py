"""The shop's rules: when it is open and which slots exist.

Pure functions on ``datetime`` values; nothing here knows about HTTP or SQL.
Opening hours and slot length are stated once, in this module; the capacity is
the slot's unique index in db/migrations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, time
from typing import Final

from appointments import messages
from appointments.errors import ClientError

OPENING_HOUR: Final = 9
CLOSING_HOUR: Final = 17  # the last slot starts an hour before closing
SLOT_HOURS: Final = 1
# One service bay: the unique index on the (slot_date, slot_time) of confirmed
# bookings in db/migrations is the capacity, so it is stated there and nowhere else.

# Exactly the forms the contract accepts: four-digit year, zero-padded month and
# day; two-digit 24-hour time. ASCII digits only: `\d` would also match other
# scripts' digits, which date.fromisoformat rejects or reads differently.
_DATE_FORM: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_FORM: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


# Every slot the shop offers in a day, in order.
SLOT_STARTS: Final = tuple(time(hour) for hour in range(OPENING_HOUR, CLOSING_HOUR, SLOT_HOURS))


def parse_date(text: str) -> date:
    """A calendar date written as YYYY-MM-DD; anything else is a ClientError."""
    if not _DATE_FORM.fullmatch(text):
        raise ClientError(messages.INVALID_DATE)
    try:
        return date.fromisoformat(text)
    except ValueError:  # well formed but not a real day: 2024-02-30, 2100-02-29
        raise ClientError(messages.INVALID_DATE) from None


def parse_slot_time(text: str) -> time:
    """The start of an open slot written as HH:00; anything else is a ClientError.

    Checked in order of what the client got wrong first: the form, then the
    minutes, then the opening hours.
    """
    form = _TIME_FORM.fullmatch(text)
    if not form:
        raise ClientError(messages.INVALID_TIME)
    hour, minute = int(form[1]), int(form[2])
    if minute != 0:
        raise ClientError(messages.TIME_NOT_ON_THE_HOUR)
    start = time(hour)
    if start not in SLOT_STARTS:
        raise ClientError(messages.SHOP_CLOSED, outcome="ShopClosed")
    return start


# Formatted once: strftime per slot per request was a measurable share of GET /slots.
_SLOT_LABELS: Final = tuple((start, start.strftime("%H:%M")) for start in SLOT_STARTS)


def available_times(booked: Iterable[time]) -> list[str]:
    """The day's free slots as HH:MM, in order, given the starts already booked."""
    taken = set(booked)
    return [label for start, label in _SLOT_LABELS if start not in taken]
