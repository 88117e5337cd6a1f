"""Fixtures shared by the shop routes' tests."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from appointments.domain import shop
from tests.integration.workshop import BEFORE_OPENING, remove_workshop, write_workshop


@pytest.fixture
def workshop(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> Iterator[psycopg.Connection]:
    """Shop "north" of tests/integration/workshop.py, at BEFORE_OPENING on its Monday."""
    write_workshop(db)
    monkeypatch.setattr(shop, "now", lambda: BEFORE_OPENING)
    yield db
    remove_workshop(db)
