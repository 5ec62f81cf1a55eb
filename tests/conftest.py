"""Fixtures shared by every test: time-zone constants, a fixed clock, a person factory, and real databases.

Every test taking ``database_url`` (or anything built on it) runs once on a fresh SQLite file and once on
PostgreSQL when ``COFFEECHAT_TEST_DATABASE_URL`` names a server (CI sets it to
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each PostgreSQL test gets a schema of its own, made
the connection's ``search_path`` through the URL's connect options and dropped afterwards, so tests can run
side by side on one server and leave nothing behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from scheduler.model import Person
from scheduler.storage.migrate import upgrade_database
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory
from tests.fakes import FakeClock

LONDON = "Europe/London"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"
KOLKATA = "Asia/Kolkata"
AUCKLAND = "Pacific/Auckland"

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


POSTGRES_URL = os.environ.get("COFFEECHAT_TEST_DATABASE_URL", "")

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
