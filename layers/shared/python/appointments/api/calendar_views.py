"""Bookings as calendar files (RFC 5545): one booking's, and a user's feed, which
Google or Apple Calendar subscribe to by URL.

Built with icalendar (line folding, escaping, and each zone's VTIMEZONE from the
zone data are its business, not ours), imported by the calendar routes only:
it costs ~80 ms to import.

A booking is a VEVENT whose UID never changes and whose SEQUENCE is its
version, so that a calendar updates the event it has when the booking moves,
and shows it cancelled once it is; times are in its shop's zone, with that
zone's VTIMEZONE.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from appointments.data.booking_records import Booking
from appointments.data.default_catalogue import DEFAULT_SHOP_ID
from appointments.domain.shop import zone_named

if TYPE_CHECKING:  # imported by the calendar's building alone
    import icalendar

CONTENT_TYPE = "text/calendar; charset=utf-8"
# The span a VTIMEZONE's rules are written for is kept inside what Python's dates
# hold, a year of margin included (a booking may be made for 9999-12-31).
_EARLIEST = date(1900, 1, 1)
_LATEST = date(9990, 1, 1)
PRODUCT = "-//appointments//bookings//EN"


def new_feed_token() -> tuple[str, str]:
    """A new calendar feed token (256 random bits, URL-safe), and the hash that is kept."""
    token = secrets.token_urlsafe(32)
    return token, feed_token_hash(token)


def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def booking_calendar(booking: Booking, default_zone: tzinfo) -> str:
    """One booking's calendar file."""
    return _calendar([booking], default_zone)


def feed_calendar(user_id: str, bookings: Sequence[Booking], default_zone: tzinfo) -> str:
    """A user's feed: their bookings, cancelled ones shown cancelled."""
    return _calendar(bookings, default_zone, name=f"Bookings of {user_id}")


def _calendar(bookings: Sequence[Booking], default_zone: tzinfo, name: str | None = None) -> str:
    import icalendar  # here, not at import: see the docstring

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name is not None:
        calendar.add("x-wr-calname", name)
    for booking in bookings:
        calendar.add_component(_event(icalendar.Event(), booking, default_zone))
    if bookings:
        # Each zone's rules over the days the events span, not since 1970.
        days = [booking.starts_at.date() for booking in bookings]
        calendar.add_missing_timezones(
            first_date=max(min(days), _EARLIEST) - timedelta(days=366),
            last_date=min(max(days), _LATEST) + timedelta(days=366),
        )
    return str(calendar.to_ical().decode("utf-8"))


def _event(event: icalendar.Event, booking: Booking, default_zone: tzinfo) -> icalendar.Event:
    zone = _zone(booking, default_zone)
    add = event.add
    add("uid", f"{booking.booking_id}@appointments")
    add("sequence", booking.version)
    add("dtstamp", _last_changed(booking))
    add("created", booking.created_at.astimezone(UTC))
    add("dtstart", _wall_clock(booking.starts_at, zone))
    add("dtend", _wall_clock(booking.ends_at, zone))
    add("summary", _summary(booking))
    add("status", "CANCELLED" if booking.status == "cancelled" else "CONFIRMED")
    return event


def _wall_clock(moment: datetime, zone: tzinfo) -> datetime:
    """The moment on the shop's wall clock, or in UTC in the hour the clocks go back:
    there a wall-clock time names two instants, and a TZID'd DATE-TIME is read as the
    first (RFC 5545 3.3.5), so the second would come out an hour early."""
    local = moment.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def _zone(booking: Booking, default_zone: tzinfo) -> tzinfo:
    if booking.shop_id == DEFAULT_SHOP_ID:
        return default_zone
    return zone_named(booking.shop_time_zone) if booking.shop_time_zone else UTC


def _summary(booking: Booking) -> str:
    if booking.shop_id == DEFAULT_SHOP_ID:
        return "Appointment"
    return f"{booking.service_id} at {booking.shop_id}"


def _last_changed(booking: Booking) -> datetime:
    """DTSTAMP: when the booking last changed (made, moved, cancelled), in UTC."""
    moments = [booking.created_at]
    if booking.cancelled_at is not None:
        moments.append(booking.cancelled_at)
    moments += [datetime.fromisoformat(move["moved_at"]) for move in booking.moved_from or []]
    return max(moments).astimezone(UTC)
