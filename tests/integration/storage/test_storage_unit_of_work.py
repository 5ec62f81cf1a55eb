"""The unit of work (commit, rollback) and the engine set-up (connect errors, SQLite settings)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import IntegrityError

from scheduler.errors import StorageError
from scheduler.model import Person
from scheduler.storage import uow as uow_module
from scheduler.storage.migrate import current_revision, upgrade_database
from scheduler.storage.orm import GroupRow
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory

NewUow = Callable[[], SqlAlchemyUnitOfWork]


class Boom(Exception):
    """Raised by a test inside a unit of work."""


def stored_emails(new_uow: NewUow) -> list[str]:
    """The emails of everyone committed so far, seen from a new transaction."""
    with new_uow() as uow:
        return [person.email for person in uow.people.list()]


def test_work_not_committed_is_rolled_back(new_uow: NewUow, create_person: Callable[..., Person]) -> None:
    with new_uow() as uow:
        uow.people.save(create_person(email="ada@example.com"))

    assert stored_emails(new_uow) == []


def test_committed_work_stays(new_uow: NewUow, create_person: Callable[..., Person]) -> None:
    with new_uow() as uow:
        uow.people.save(create_person(email="ada@example.com"))
        uow.commit()

    assert stored_emails(new_uow) == ["ada@example.com"]


def test_an_error_inside_the_block_rolls_back_and_propagates(
    new_uow: NewUow, create_person: Callable[..., Person]
) -> None:
    def save_then_fail() -> None:
        with new_uow() as uow:
            uow.people.save(create_person(email="ada@example.com"))
            raise Boom

    with pytest.raises(Boom):
        save_then_fail()

    assert stored_emails(new_uow) == []


def test_rollback_discards_only_what_came_after_the_last_commit(
    new_uow: NewUow, create_person: Callable[..., Person]
) -> None:
    with new_uow() as uow:
        uow.people.save(create_person(email="ada@example.com"))
        uow.commit()
        uow.people.save(create_person(email="bob@example.com"))
        uow.rollback()
        uow.people.save(create_person(email="cyd@example.com"))
        uow.commit()

    assert stored_emails(new_uow) == ["ada@example.com", "cyd@example.com"]


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    # SQLite ignores foreign keys unless each connection switches them on.
    with engine.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(insert(GroupRow).values(cycle_id=999, score=1.0, reasons=[]))


def test_unreachable_server_is_a_storage_error_naming_the_url_without_password() -> None:
    url = "postgresql+psycopg://coffee:s3cret-pw@127.0.0.1:1/coffeechat"  # nothing listens on port 1
    engine = create_engine_for(url)
    try:
        with pytest.raises(StorageError) as caught, SqlAlchemyUnitOfWork(make_session_factory(engine)):
            pass
    finally:
        engine.dispose()

    message = str(caught.value)
    assert "postgresql+psycopg://coffee:***@127.0.0.1:1/coffeechat" in message
    assert "s3cret-pw" not in message
    assert caught.value.exit_code == 5


def test_migrating_an_unreachable_server_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match=r"coffee:\*\*\*@127\.0\.0\.1:1/") as caught:
        upgrade_database("postgresql://coffee:s3cret-pw@127.0.0.1:1/coffeechat")
    assert "s3cret-pw" not in str(caught.value)


def test_sqlite_file_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unable to open database file"):
        current_revision(f"sqlite:///{tmp_path / 'missing-directory' / 'coffeechat.db'}")


def test_a_plain_postgresql_url_uses_psycopg() -> None:
    engine = create_engine_for("postgresql://coffee@localhost/coffeechat")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://coffee:s3cret-pw@localhost/coffeechat", "unsupported database 'mysql'"),
        ("this is not a URL s3cret-pw", "malformed database URL"),
    ],
)
def test_other_urls_are_refused_without_showing_the_password(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as caught:
        create_engine_for(url)
    assert "s3cret-pw" not in str(caught.value)


def test_sqlite_waits_for_a_busy_writer_then_reports_a_storage_error(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, create_person: Callable[..., Person]
) -> None:
    monkeypatch.setattr(uow_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    upgrade_database(sqlite_url)
    engine = create_engine_for(sqlite_url)
    other_writer = sqlite3.connect(tmp_path / "coffeechat.db", isolation_level=None)
    try:
        other_writer.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with (
            pytest.raises(StorageError, match="database is locked"),
            SqlAlchemyUnitOfWork(make_session_factory(engine)) as uow,
        ):
            uow.people.save(create_person())
        assert time.monotonic() - started >= 0.15  # it waited for the lock instead of failing at once
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 200
    finally:
        other_writer.close()
        engine.dispose()


@pytest.mark.postgres
def test_a_connection_lost_inside_the_block_becomes_a_storage_error(postgres_url: str) -> None:
    upgrade_database(postgres_url)
    engine = create_engine_for(postgres_url)
    try:
        with (
            pytest.raises(StorageError, match="cannot use the database"),
            SqlAlchemyUnitOfWork(make_session_factory(engine)) as uow,
        ):
            uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    finally:
        engine.dispose()
