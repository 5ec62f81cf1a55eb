"""Fixtures of the storage tests: racing transactions, and cycle and effect builders.

The databases themselves (``database_url`` on SQLite and, when configured, PostgreSQL; ``new_uow``; ...) come
from tests/conftest.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.model import Cycle, Effect, Interval
from scheduler.storage.uow import SqlAlchemyUnitOfWork

# Monday 2026-11-23 00:00 UTC: the first planning window of the shared fixtures' Sunday.
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def race(new_uow: Callable[[], SqlAlchemyUnitOfWork]) -> Callable[..., tuple[object, object]]:
    """Run two steps in two transactions that overlap: return ``(first result, second result)``.

    The second transaction starts (in a thread) while the first is still open, and must still be waiting
    0.3 s later: that is, the database makes it wait for the first one's lock rather than letting it read
    a stale row. Then the first commits, and the second finishes and commits.
    """

    def run(
        first_step: Callable[[SqlAlchemyUnitOfWork], object],
        second_step: Callable[[SqlAlchemyUnitOfWork], object],
    ) -> tuple[object, object]:
        second_started = threading.Event()

        def second() -> object:
            with new_uow() as uow:
                second_started.set()
                result = second_step(uow)
                uow.commit()
                return result

        with new_uow() as uow, ThreadPoolExecutor(max_workers=1) as pool:
            first_result = first_step(uow)
            future = pool.submit(second)
            assert second_started.wait(timeout=10)
            with pytest.raises(TimeoutError):
                future.result(timeout=0.3)
            uow.commit()
            return first_result, future.result(timeout=30)

    return run


@pytest.fixture
def make_cycle() -> Callable[..., Cycle]:
    """Build (not store) a cycle of program ``coffee``: ``week`` n starts n weeks after ``MONDAY``."""

    def make(program: str = "coffee", week: int = 0, **overrides: Any) -> Cycle:
        start = MONDAY + timedelta(weeks=week)
        fields: dict[str, Any] = {
            "program": program,
            "window": Interval(start, start + timedelta(days=5)),
            "seed": 1000 + week,
        }
        fields.update(overrides)
        return Cycle(**fields)

    return make


@pytest.fixture
def make_effect() -> Callable[..., Effect]:
    """Build (not store) an email effect; ``key`` defaults to a new unique one."""
    counter = iter(range(1, 10_000))

    def make(key: str | None = None, **overrides: Any) -> Effect:
        n = next(counter)
        fields: dict[str, Any] = {
            "key": key or f"email:cycle-1:meeting-{n}:person{n}@example.com:0",
            "kind": "email",
            "payload": {"to": [f"person{n}@example.com"], "subject": f"Coffee {n}"},
        }
        fields.update(overrides)
        return Effect(**fields)

    return make
