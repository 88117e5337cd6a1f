"""Database URLs read the way a person writes them, and passwords kept out of every text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg.conninfo import conninfo_to_dict

from appointments.platform import redaction
from appointments.platform.connection_url import conninfo_from_url

# Each holds characters a URL gives a meaning to, written raw, as people paste them.
AWKWARD_PASSWORDS = [
    "Secr3t@Part2",
    "pa/ss/word",
    "user:colon:pass",
    "what?ever",
    "hash#tag#pw",
    "50%off",
    "it's mine",
    "with  spaces ",
    "all@of/them:?#%' here",
]


@pytest.fixture(autouse=True)
def no_registered_passwords() -> Iterator[None]:
    redaction.forget_all()
    yield
    redaction.forget_all()


@pytest.mark.parametrize("password", AWKWARD_PASSWORDS)
def test_the_last_at_sign_ends_the_user_info(password: str) -> None:
    url = f"postgresql://app:{password}@db.example.com:6543/appointments?sslmode=require"

    assert conninfo_to_dict(conninfo_from_url(url)) == {
        "user": "app",
        "password": password,
        "host": "db.example.com",
        "port": "6543",
        "dbname": "appointments",
        "sslmode": "require",
    }


def test_a_percent_encoded_password_is_decoded_as_libpq_would() -> None:
    params = conninfo_to_dict(conninfo_from_url("postgres://app:p%40ss%2Fword@host/db"))
    assert (params["user"], params["password"], params["host"]) == ("app", "p@ss/word", "host")


def test_urls_without_a_password_and_key_value_strings_keep_their_meaning() -> None:
    assert conninfo_to_dict(conninfo_from_url("postgresql:///postgres?host=/tmp/pg")) == {
        "dbname": "postgres",
        "host": "/tmp/pg",
    }
    assert conninfo_from_url("host=db password=Zx9-long dbname=a") == (
        "host=db password=Zx9-long dbname=a"
    )
    assert redaction.scrub("password Zx9-long") == "password ***"


@pytest.mark.parametrize("password", AWKWARD_PASSWORDS)
def test_libpq_style_fragments_of_a_registered_password_are_masked(password: str) -> None:
    conninfo_from_url(f"postgresql://app:{password}@host/db")
    first, _, rest = password.partition(password[len(password) // 2])
    texts = [
        f'could not translate host name "{rest}@host" to address',
        f"invalid percent-encoded token: {password}",
        f"password authentication failed: {first}",
    ]
    for text in texts:
        scrubbed = redaction.scrub(text)
        for piece in (password, first, rest):
            if len(piece.strip()) >= redaction.MIN_FRAGMENT:
                assert piece not in scrubbed, (text, scrubbed)


def test_ordinary_text_is_left_alone() -> None:
    redaction.register("Secr3t@Part2")
    redaction.register("pw")
    text = 'connection to server at "127.0.0.1", port 5432 failed: pwd is not pw'
    assert redaction.scrub(text) == (
        'connection to server at "127.0.0.1", port 5432 failed: pwd is not ***'
    )


def test_overlapping_forms_of_one_password_leave_no_tail_in_view() -> None:
    """The password and its percent-encoded form overlap: masked as one, not one after another."""
    redaction.register("s3cr3t!Pw")
    assert redaction.scrub("postgresql://app:s3cr3t!Pw@host and s3cr3t%21Pw") == (
        "postgresql://app:***@host and ***"
    )


def test_the_end_of_a_text_is_only_masked_by_a_whole_fragment() -> None:
    redaction.register("Spring2026")
    assert redaction.scrub("connection to port 5432") == "connection to port 5432"
    assert redaction.scrub("timestamp 2026-11-26 12:00:00,000+0000") == (
        "timestamp ***-11-26 12:00:00,000+0000"
    )
