"""The catalogue's rules that need no database: what an id of a shop, service or resource is."""

from __future__ import annotations

import re
from typing import Final

# What a URL path segment carries unescaped, and the tables' CHECK (0015).
_CATALOGUE_ID: Final = re.compile(r"[a-z0-9_-]{1,64}")


def is_catalogue_id(value: str) -> bool:
    """1 to 64 characters of a-z, 0-9, - and _."""
    return _CATALOGUE_ID.fullmatch(value) is not None
