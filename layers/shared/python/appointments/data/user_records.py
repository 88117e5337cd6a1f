"""Users, for the IAM-only administration routes: create or rename one, look one up.

Each is one statement, hence one round trip, and safe to run again on a new
connection if the first one died mid-way (a rename to the same name is the
same rename).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from appointments.data import database


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    created_at: datetime


# xmax is 0 on a row version this statement inserted, and set on one it
# updated (the old version's lock): whether the user was created, in the
# same statement.
_SAVE = """
    INSERT INTO users (id, name) VALUES (%(user_id)s, %(name)s)
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name
    RETURNING id, name, created_at, xmax = 0
"""

_FIND = "SELECT id, name, created_at FROM users WHERE id = %(user_id)s"


# A new calendar feed token (its hash), or none: whether the user exists.
_REPLACE_CALENDAR_FEED = """
    UPDATE users SET calendar_token_hash = %(token_hash)s WHERE id = %(user_id)s RETURNING id
"""


def set_calendar_token(user_id: str, token_hash: str | None) -> bool:
    """Replace the user's calendar feed token with the one hashed (None: no feed);
    False if there is no such user."""
    params = {"user_id": user_id, "token_hash": token_hash}
    return (
        database.run(lambda conn: conn.execute(_REPLACE_CALENDAR_FEED, params).fetchone())
        is not None
    )


def save(user_id: str, name: str) -> tuple[User, bool]:
    """Create the user, or rename them; the user, and whether they were created."""
    return database.run(lambda conn: upsert_user(conn, user_id, name))


def find(user_id: str) -> User | None:
    return database.run(lambda conn: select_user(conn, user_id))


def upsert_user(conn: psycopg.Connection, user_id: str, name: str) -> tuple[User, bool]:
    row = conn.execute(_SAVE, {"user_id": user_id, "name": name}).fetchone()
    assert row is not None  # INSERT ... RETURNING always returns the row
    *user, created = row
    return User(*user), bool(created)


def select_user(conn: psycopg.Connection, user_id: str) -> User | None:
    row = conn.execute(_FIND, {"user_id": user_id}).fetchone()
    return User(*row) if row else None
