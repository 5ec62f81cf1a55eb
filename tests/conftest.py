"""Fixtures shared by every test: time-zone constants, a fixed clock, a person factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from scheduler.model import Person
from tests.fakes import FakeClock

LONDON = "Europe/London"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"
KOLKATA = "Asia/Kolkata"

# A Sunday: the next planning window starts on Monday 2026-11-23.
SUNDAY_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(SUNDAY_NOON)


@pytest.fixture
def create_person() -> Callable[..., Person]:
    """Make a verified person; every field can be overridden."""
    counter = iter(range(1, 10_000))

    def make(**overrides: Any) -> Person:
        n = next(counter)
        fields: dict[str, Any] = {
            "email": f"person{n}@example.com",
            "name": f"Person {n}",
            "team": f"team-{n}",
            "department": "Engineering",
            "office": "London",
            "timezone": LONDON,
            "verified_at": SUNDAY_NOON,
        }
        fields.update(overrides)
        return Person(**fields)

    return make
