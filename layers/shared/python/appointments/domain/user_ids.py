"""What a user id can be, wherever one arrives (a body, a query, a path, a token's claim),
and how long a user's name may be."""

from __future__ import annotations

from typing import Final

MAX_USER_ID_CHARS: Final = 128
MAX_NAME_CHARS: Final = 200


def is_user_id(value: str) -> bool:
    """1 to 128 printable characters: no control characters (PostgreSQL text
    cannot hold NUL) and no lone surrogates (not encodable as UTF-8)."""
    return 0 < len(value) <= MAX_USER_ID_CHARS and value.isprintable()
