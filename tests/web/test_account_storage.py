"""The account tables and their repository (migration 0006), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

from scheduler.accounts.access import token_hash
from scheduler.errors import NotFoundError
from scheduler.model import Person, SessionRecord
from scheduler.storage.migrate import downgrade_database, head_revision, upgrade_database
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for
from tests.conftest import SUNDAY_NOON

NOW = SUNDAY_NOON
ACCOUNT_TABLES = {"accounts", "sessions", "used_links"}
NewUow = Callable[[], SqlAlchemyUnitOfWork]


def tables(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def ana(new_uow: NewUow, create_person: Callable[..., Person]) -> Person:
    person = create_person(email="ana@example.com", name="Ana")
    with new_uow() as uow:
        uow.people.save(person)
        uow.commit()
    return person


def session_of(email: str, cookie: str = "cookie-1", *, expires_in: timedelta = timedelta(days=1)) -> SessionRecord:
    return SessionRecord(token_hash=token_hash(cookie), email=email, created_at=NOW, last_seen_at=NOW,
                         expires_at=NOW + expires_in)


def test_migration_0006_adds_the_tables_and_its_downgrade_removes_them(database_url: str) -> None:
    upgrade_database(database_url)
    assert tables(database_url) >= ACCOUNT_TABLES

    assert downgrade_database(database_url, "0005") == "0005"
    assert not tables(database_url) & ACCOUNT_TABLES
    assert "people" in tables(database_url)

    assert upgrade_database(database_url) == head_revision()
    assert tables(database_url) >= ACCOUNT_TABLES


def test_accounts_are_created_once_and_disabled_and_enabled(new_uow: NewUow, ana: Person) -> None:
    with new_uow() as uow:
        assert uow.accounts.get("ana@example.com") is None
        first = uow.accounts.ensure("ANA@example.com", NOW)
        again = uow.accounts.ensure("ana@example.com", NOW + timedelta(hours=1))
        uow.accounts.set_disabled("ana@example.com", NOW + timedelta(hours=2))
        uow.accounts.record_sign_in("ana@example.com", NOW + timedelta(hours=3))
        uow.commit()

    assert first == again
    assert (first.email, first.created_at, first.disabled) == ("ana@example.com", NOW, False)
    with new_uow() as uow:
        stored = uow.accounts.get("ana@example.com")
        assert stored is not None
        assert stored.disabled_at == NOW + timedelta(hours=2)
        assert stored.last_sign_in_at == NOW + timedelta(hours=3)
        uow.accounts.set_disabled("ana@example.com", None)
        enabled = uow.accounts.get("ana@example.com")
        assert enabled is not None
        assert not enabled.disabled


def test_unknown_addresses_are_not_found(new_uow: NewUow) -> None:
    with new_uow() as uow:
        with pytest.raises(NotFoundError, match=r"nobody has the address ghost@example\.com"):
            uow.accounts.ensure("ghost@example.com", NOW)
        with pytest.raises(NotFoundError):
            uow.accounts.add_session(session_of("ghost@example.com"))
        assert uow.accounts.revoke_sessions("ghost@example.com", NOW) == 0


def test_disabling_without_an_account_is_not_found(new_uow: NewUow, ana: Person) -> None:
    with new_uow() as uow, pytest.raises(NotFoundError, match="has no account"):
        uow.accounts.set_disabled("ana@example.com", NOW)


def test_sessions_are_found_by_hash_touched_and_revoked(new_uow: NewUow, ana: Person,
                                                         create_person: Callable[..., Person]) -> None:
    with new_uow() as uow:
        uow.people.save(create_person(email="bo@example.com"))
        uow.accounts.add_session(session_of("ana@example.com", "t1"))
        uow.accounts.add_session(session_of("ana@example.com", "t2"))
        uow.accounts.add_session(session_of("bo@example.com", "t3"))
        uow.commit()

    with new_uow() as uow:
        found = uow.accounts.find_session(token_hash("t1"))
        assert found == session_of("ana@example.com", "t1")
        assert uow.accounts.find_session("t1") is None  # the raw token is not a key
        uow.accounts.touch_session(token_hash("t1"), NOW + timedelta(minutes=9))
        assert uow.accounts.revoke_session(token_hash("t1"), NOW + timedelta(minutes=10)) is True
        assert uow.accounts.revoke_session(token_hash("t1"), NOW + timedelta(minutes=11)) is False
        assert uow.accounts.revoke_sessions("ana@example.com", NOW + timedelta(minutes=12)) == 1
        uow.commit()

    with new_uow() as uow:
        t1, t2, t3 = (uow.accounts.find_session(token_hash(t)) for t in ("t1", "t2", "t3"))
        assert t1 is not None
        assert t2 is not None
        assert t3 is not None
        assert (t1.last_seen_at, t1.revoked_at) == (NOW + timedelta(minutes=9), NOW + timedelta(minutes=10))
        assert t2.revoked_at == NOW + timedelta(minutes=12)
        assert t3.revoked_at is None


def test_a_link_is_used_once(new_uow: NewUow) -> None:
    digest = token_hash("nonce")
    with new_uow() as uow:
        assert uow.accounts.link_used(digest) is False
        assert uow.accounts.use_link(digest, "sign-in", NOW, NOW + timedelta(minutes=15)) is True
        uow.commit()
    with new_uow() as uow:
        assert uow.accounts.use_link(digest, "sign-in", NOW, NOW + timedelta(minutes=15)) is False
        assert uow.accounts.link_used(digest) is True


def test_a_link_used_by_two_racing_requests_is_used_once(new_uow: NewUow) -> None:
    digest = token_hash("raced")
    with new_uow() as first, new_uow() as second:
        assert first.accounts.use_link(digest, "confirm", NOW, NOW + timedelta(hours=1)) is True
        first.commit()
        # The second transaction began before the first committed; the database still lets only one win.
        assert second.accounts.use_link(digest, "confirm", NOW, NOW + timedelta(hours=1)) is False
        second.commit()


def test_purge_removes_only_what_expired(new_uow: NewUow, ana: Person) -> None:
    with new_uow() as uow:
        uow.accounts.add_session(session_of("ana@example.com", "old", expires_in=timedelta(hours=1)))
        uow.accounts.add_session(session_of("ana@example.com", "new", expires_in=timedelta(days=3)))
        uow.accounts.use_link(token_hash("n-old"), "sign-in", NOW, NOW + timedelta(minutes=15))
        uow.accounts.use_link(token_hash("n-new"), "confirm", NOW, NOW + timedelta(days=2))
        uow.commit()

    with new_uow() as uow:
        assert uow.accounts.purge(NOW + timedelta(days=1)) == 2
        uow.commit()

    with new_uow() as uow:
        assert uow.accounts.find_session(token_hash("old")) is None
        assert uow.accounts.find_session(token_hash("new")) is not None
        assert uow.accounts.link_used(token_hash("n-old")) is False
        assert uow.accounts.link_used(token_hash("n-new")) is True


def test_deleting_a_person_deletes_their_account_and_sessions(new_uow: NewUow, ana: Person) -> None:
    with new_uow() as uow:
        uow.accounts.ensure("ana@example.com", NOW)
        uow.accounts.add_session(session_of("ana@example.com"))
        uow.commit()

    with new_uow() as uow:
        uow.session.execute(text("DELETE FROM people WHERE email = 'ana@example.com'"))
        uow.commit()

    with new_uow() as uow:
        counts = [uow.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
                  for table in ("accounts", "sessions")]
    assert counts == [0, 0]
