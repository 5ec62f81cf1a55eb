"""People and programs: round trips of every field, upserts by natural key, ordering."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from scheduler.model import CalendarSource, Person, Program, Weights, WorkingHours
from scheduler.storage.orm import PersonRow, ProgramRow
from scheduler.storage.uow import SqlAlchemyUnitOfWork

NewUow = Callable[[], SqlAlchemyUnitOfWork]
CreatePerson = Callable[..., Person]
Race = Callable[..., tuple[object, object]]

TOKYO = ZoneInfo("Asia/Tokyo")


def test_a_person_round_trips_every_field(uow: SqlAlchemyUnitOfWork, create_person: CreatePerson) -> None:
    person = create_person(
        email="ada@example.com",
        name="Ada Lovelace",
        team="Analytical Engines",
        department="Research",
        office="Tokyo",
        timezone="Asia/Tokyo",
        working_hours=WorkingHours(frozenset({0, 2, 4}), time(8, 30), time(16, 45)),
        calendar=CalendarSource("google", "ada@example.com"),
        kinds=frozenset({"lunch"}),
        mode="in_person",
        cadence="monthly",
        interests=frozenset({"chess", "poetry", "ünïcode ☕"}),
        seniority="senior",
        manager="charles@example.com",
        paused_until=date(2027, 1, 31),
        opted_out=True,
        # Stored in UTC whatever zone it was given in.
        verified_at=datetime(2026, 11, 20, 9, 15, 30, 123456, tzinfo=TOKYO),
    )

    assert uow.people.save(person) is True
    loaded = uow.people.get("ada@example.com")

    assert loaded == person
    assert loaded is not None
    assert loaded.verified_at is not None
    assert loaded.verified_at.tzinfo is UTC
    assert loaded.verified_at == datetime(2026, 11, 20, 0, 15, 30, 123456, tzinfo=UTC)


def test_a_person_with_defaults_round_trips(uow: SqlAlchemyUnitOfWork) -> None:
    person = Person("bob@example.com", "Bob", "Platform")

    uow.people.save(person)

    assert uow.people.get("bob@example.com") == person


def test_saving_the_same_email_updates_instead_of_duplicating(
    uow: SqlAlchemyUnitOfWork, create_person: CreatePerson
) -> None:
    first = create_person(email="ada@example.com", team="Search", interests=frozenset({"chess"}))
    changed = create_person(
        email="ADA@example.com ", team="Ads", interests=frozenset(), verified_at=None, opted_out=True
    )

    assert uow.people.save(first) is True
    assert uow.people.save(changed) is False

    assert uow.people.list() == [changed]
    assert uow.session.scalar(select(func.count()).select_from(PersonRow)) == 1


def test_an_update_keeps_created_at_and_moves_updated_at(
    uow: SqlAlchemyUnitOfWork, create_person: CreatePerson
) -> None:
    uow.people.save(create_person(email="ada@example.com"))
    stamps = select(PersonRow.created_at, PersonRow.updated_at).where(PersonRow.email == "ada@example.com")
    created, updated = uow.session.execute(stamps).one()

    uow.people.save(create_person(email="ada@example.com", team="Ads"))
    created_after, updated_after = uow.session.execute(stamps).one()

    assert created.tzinfo is UTC
    assert created_after == created
    assert updated_after >= updated


def test_get_ignores_case_and_spaces_and_misses_cleanly(uow: SqlAlchemyUnitOfWork, create_person: CreatePerson) -> None:
    person = create_person(email="ada@example.com")
    uow.people.save(person)

    assert uow.people.get("  Ada@Example.COM ") == person
    assert uow.people.get("nobody@example.com") is None


def test_list_is_sorted_by_email(uow: SqlAlchemyUnitOfWork, create_person: CreatePerson) -> None:
    for email in ("cyd@example.com", "ada@example.com", "bob@example.com"):
        uow.people.save(create_person(email=email))

    assert [person.email for person in uow.people.list()] == [
        "ada@example.com",
        "bob@example.com",
        "cyd@example.com",
    ]


def test_a_naive_verified_at_is_refused(uow: SqlAlchemyUnitOfWork, create_person: CreatePerson) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        uow.people.save(create_person(verified_at=datetime(2026, 11, 20, 9, 0)))


def test_two_workers_saving_one_new_email_create_one_person(
    new_uow: NewUow, create_person: CreatePerson, race: Race
) -> None:
    def save(team: str) -> Callable[[SqlAlchemyUnitOfWork], bool]:
        return lambda uow: uow.people.save(create_person(email="ada@example.com", team=team))

    # The second save waits for the first transaction, then updates the row it committed.
    assert race(save("First"), save("Second")) == (True, False)
    with new_uow() as uow:
        assert [(person.email, person.team) for person in uow.people.list()] == [("ada@example.com", "Second")]


def test_a_program_round_trips_with_its_weights(uow: SqlAlchemyUnitOfWork) -> None:
    program = Program(
        name="Lunch roulette",
        kind="lunch",
        cadence="fortnightly",
        duration_minutes=60,
        cooldown_cycles=3,
        meeting_mode="in_person",
        window_days=10,
        min_notice_hours=48,
        buffer_minutes=15,
        weights=Weights(
            different_department=0.25,
            different_office=0.0,
            never_met=7.5,
            shared_interest=2.0,
            common_slots=1 / 3,
            timezone_overlap=-1.0,
        ),
    )

    uow.programs.save(program)

    assert uow.programs.get("Lunch roulette") == program
    assert uow.programs.get("Nope") is None


def test_saving_a_program_again_updates_it_by_name(uow: SqlAlchemyUnitOfWork) -> None:
    uow.programs.save(Program("coffee"))
    changed = Program("coffee", cadence="monthly", weights=Weights(never_met=10.0))

    uow.programs.save(changed)

    assert uow.programs.list() == [changed]


def test_programs_are_listed_by_name(uow: SqlAlchemyUnitOfWork) -> None:
    for name in ("walks", "coffee", "lunch"):
        uow.programs.save(Program(name))

    assert [program.name for program in uow.programs.list()] == ["coffee", "lunch", "walks"]


def test_weights_stored_by_an_older_release_fall_back_to_defaults(uow: SqlAlchemyUnitOfWork) -> None:
    uow.programs.save(Program("coffee"))
    uow.session.execute(ProgramRow.__table__.update().values(weights={"never_met": 2.0, "retired_weight": 9.0}))

    loaded = uow.programs.get("coffee")

    assert loaded is not None
    assert loaded.weights == Weights(never_met=2.0)
    assert loaded.weights.different_department == Weights().different_department


def test_time_values_keep_their_minutes(uow: SqlAlchemyUnitOfWork, create_person: CreatePerson) -> None:
    hours = WorkingHours(frozenset(range(7)), time(0, 0), time(23, 59, 59))
    uow.people.save(create_person(email="night@example.com", working_hours=hours))

    loaded = uow.people.get("night@example.com")

    assert loaded is not None
    assert loaded.working_hours == hours
