"""Fixtures of the storage tests: a real database per test, on SQLite and (when configured) on PostgreSQL.

Every test taking ``database_url`` (or anything built on it) runs once on a fresh SQLite file and once on
PostgreSQL when ``COFFEECHAT_TEST_DATABASE_URL`` names a server (CI sets it to
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each PostgreSQL test gets a schema of its own, made
the connection's ``search_path`` through the URL's connect options and dropped afterwards, so tests can run
side by side on one server and leave nothing behind.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from scheduler.model import Cycle, Effect, Interval
from scheduler.storage.migrate import upgrade_database
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory

POSTGRES_URL = os.environ.get("COFFEECHAT_TEST_DATABASE_URL", "")

# Monday 2026-11-23 00:00 UTC: the first planning window of the shared fixtures' Sunday.
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="set COFFEECHAT_TEST_DATABASE_URL to a PostgreSQL URL to run on PostgreSQL"
)


def postgres_schema_url(base_url: str, schema: str) -> str:
    """``base_url`` with every connection's ``search_path`` set to ``schema`` (and only that schema)."""
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL into a new, empty PostgreSQL schema, dropped with everything in it after the test."""
    if not POSTGRES_URL:
        pytest.skip("set COFFEECHAT_TEST_DATABASE_URL to a PostgreSQL URL to run on PostgreSQL")
    schema = f"coffeechat_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield postgres_schema_url(POSTGRES_URL, schema)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of a SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'coffeechat.db'}"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=[pytest.mark.postgres, needs_postgres]),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database: a SQLite file, or a PostgreSQL schema of its own."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """The database of ``database_url``, upgraded to the newest revision."""
    upgrade_database(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """An engine on the migrated database, disposed of after the test (no connection left open)."""
    engine = create_engine_for(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the migrated database."""
    return make_session_factory(engine)


@pytest.fixture
def new_uow(session_factory: sessionmaker[Session]) -> Callable[[], SqlAlchemyUnitOfWork]:
    """Make a new (not yet entered) unit of work: one per transaction, as the application does."""
    return lambda: SqlAlchemyUnitOfWork(session_factory)


@pytest.fixture
def uow(new_uow: Callable[[], SqlAlchemyUnitOfWork]) -> Iterator[SqlAlchemyUnitOfWork]:
    """An entered unit of work, rolled back after the test unless the test commits."""
    with new_uow() as unit:
        yield unit


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
