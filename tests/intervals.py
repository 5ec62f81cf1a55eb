"""Interval arithmetic the tests use as an independent reference.

The application never subtracts intervals: it puts free and busy time on a grid of 15-minute steps
(``scheduler.availability.slots.FreeTimeIndex``). A test that wants free time by plain interval arithmetic, as an
independent reference (``tests/unit/test_demo_org.py`` for the generated organisation), uses this;
``tests/unit/test_model.py`` checks it.
"""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.model import Interval


def subtract_intervals(window: Interval, busy: Sequence[Interval]) -> tuple[Interval, ...]:
    """The free parts of ``window`` once the (merged, sorted) ``busy`` intervals are taken out."""
    free: list[Interval] = []
    cursor = window.start
    for interval in busy:
        if interval.end <= cursor:
            continue
        if interval.start >= window.end:
            break
        if interval.start > cursor:
            free.append(Interval(cursor, min(interval.start, window.end)))
        cursor = max(cursor, interval.end)
    if cursor < window.end:
        free.append(Interval(cursor, window.end))
    return tuple(free)
