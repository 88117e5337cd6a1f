"""A short soak through the local server, with every connection killed every 2 s.

`make soak` runs the same for as long as asked (SOAK_SECONDS).
"""

import pytest

from bench.soak import soak

SECONDS = 20


@pytest.mark.slow
def test_mixed_traffic_survives_connection_kills_and_leaves_the_database_consistent() -> None:
    result = soak(seconds=SECONDS, rate=60, kill_every=2)

    assert result.problems == []
    assert result.requests >= SECONDS * 60 * 0.9
    assert result.connection_kills >= SECONDS // 2 - 1 and result.connections_killed > 0
    assert set(result.statuses) <= {"200", "400", "404", "409", "503"}
    assert result.booking_rows == result.bookings_answered > 0
    assert result.events >= result.booking_rows  # each booking made, moved, cancelled: an event
