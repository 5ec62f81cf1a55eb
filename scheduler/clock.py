"""The real clock: the one implementation of ``ports.Clock`` outside tests."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        """The current moment in UTC."""
        return datetime.now(UTC)
