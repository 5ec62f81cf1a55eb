"""People and programs: round trips of every field, upserts by natural key, ordering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from scheduler.model import RELAX_RULES, CalendarSource, Person, Program, Weights, WorkingHours
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
        wishlist=frozenset({"grace@example.com", "team:Compilers", "department:Mathematics"}),
        blocked=frozenset({"mallory@example.com", "eve@example.com"}),
        paused_until=date(2027, 1, 31),
        opted_out=True,
        # Stored in UTC whatever zone it was given in.
        verified_at=datetime(2026, 11, 20, 9, 15, 30, 123456, tzinfo=TOKYO),
        lunch=(time(12, 30), time(13, 15)),
    )

    assert uow.people.save(person) is True
    loaded = uow.people.get("ada@example.com")

    assert loaded == person
    assert loaded is not None
    assert loaded.verified_at is not None
    assert loaded.verified_at.tzinfo is UTC
    assert loaded.verified_at == datetime(2026, 11, 20, 0, 15, 30, 123456, tzinfo=UTC)


def test_wishlist_and_blocked_are_stored_as_sorted_lists(
    uow: SqlAlchemyUnitOfWork, create_person: CreatePerson
) -> None:
    uow.people.save(
        create_person(
            email="ada@example.com",
            wishlist=frozenset({"team:Search", "bob@example.com", "department:Sales"}),
            blocked=frozenset({"zed@example.com", "cyd@example.com"}),
        )
    )

    stored = select(PersonRow.wishlist, PersonRow.blocked).where(PersonRow.email == "ada@example.com")

    # Sorted, so equal sets always store equal JSON.
    assert tuple(uow.session.execute(stored).one()) == (
        ["bob@example.com", "department:Sales", "team:Search"],
        ["cyd@example.com", "zed@example.com"],
    )


def test_saving_a_person_again_replaces_wishlist_and_blocked(
    uow: SqlAlchemyUnitOfWork, create_person: CreatePerson
) -> None:
    uow.people.save(create_person(email="ada@example.com", wishlist=frozenset({"team:Ads"}), blocked=frozenset()))
    changed = create_person(email="ada@example.com", wishlist=frozenset(), blocked=frozenset({"bob@example.com"}))

    uow.people.save(changed)

    assert uow.people.list() == [changed]


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
        relax="cooldown_then_team",
        tentative_busy=False,
        weights=Weights(
            different_department=0.25,
            different_office=0.0,
            never_met=7.5,
            shared_interest=2.0,
            common_slots=1 / 3,
            timezone_overlap=-1.0,
            wishlist=5.5,
            no_shared_manager=0.0,
            seniority_mix=1.25,
        ),
    )

    uow.programs.save(program)

    assert uow.programs.get("Lunch roulette") == program
    assert uow.programs.get("Nope") is None


@pytest.mark.parametrize("relax", RELAX_RULES)
def test_every_relax_rule_round_trips(uow: SqlAlchemyUnitOfWork, relax: str) -> None:
    uow.programs.save(Program("coffee", relax=relax))

    loaded = uow.programs.get("coffee")

    assert loaded is not None
    assert loaded.relax == relax


@pytest.mark.parametrize("tentative_busy", [True, False])
def test_tentative_busy_round_trips_and_updates(uow: SqlAlchemyUnitOfWork, tentative_busy: bool) -> None:
    uow.programs.save(Program("coffee", tentative_busy=not tentative_busy))
    uow.programs.save(Program("coffee", tentative_busy=tentative_busy))

    loaded = uow.programs.get("coffee")

    assert loaded is not None
    assert loaded.tentative_busy is tentative_busy
    assert uow.session.scalar(select(ProgramRow.tentative_busy)) is tentative_busy


def test_every_weight_is_stored_under_its_name(uow: SqlAlchemyUnitOfWork) -> None:
    # Distinct values that are no field's default, so a weight left out or read into another one shows.
    names = [field.name for field in fields(Weights)]
    weights = Weights(**{name: 10.0 + n for n, name in enumerate(names)})

    uow.programs.save(Program("coffee", weights=weights))

    assert uow.session.scalar(select(ProgramRow.weights)) == {name: 10.0 + n for n, name in enumerate(names)}
    loaded = uow.programs.get("coffee")
    assert loaded is not None
    assert loaded.weights == weights


def test_saving_a_program_again_updates_it_by_name(uow: SqlAlchemyUnitOfWork) -> None:
    uow.programs.save(Program("coffee"))
    changed = Program("coffee", cadence="monthly", relax="never", weights=Weights(never_met=10.0, wishlist=0.0))

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


def test_weights_stored_before_the_wishlist_manager_and_seniority_weights_read_their_defaults(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    uow.programs.save(Program("coffee"))
    # Exactly the keys the previous release wrote.
    old = {
        "different_department": 2.0,
        "different_office": 1.0,
        "never_met": 5.0,
        "shared_interest": 0.5,
        "common_slots": 0.25,
        "timezone_overlap": 0.0,
    }
    uow.session.execute(ProgramRow.__table__.update().values(weights=old))

    loaded = uow.programs.get("coffee")

    assert loaded is not None
    assert loaded.weights == Weights(**old, wishlist=3.0, no_shared_manager=0.5, seniority_mix=0.0)


def test_time_values_keep_their_minutes(uow: SqlAlchemyUnitOfWork, create_person: CreatePerson) -> None:
    hours = WorkingHours(frozenset(range(7)), time(0, 0), time(23, 59, 59))
    uow.people.save(create_person(email="night@example.com", working_hours=hours))

    loaded = uow.people.get("night@example.com")

    assert loaded is not None
    assert loaded.working_hours == hours


def test_own_lunch_hours_are_set_changed_and_cleared(uow: SqlAlchemyUnitOfWork, create_person: CreatePerson) -> None:
    person = create_person(email="ada@example.com")
    assert person.lunch is None
    uow.people.save(person)
    assert uow.people.get("ada@example.com") == person

    for lunch in ((time(12, 0), time(13, 30)), (time(0, 0), time(23, 59, 59, 999999)), None):
        uow.people.save(replace(person, lunch=lunch))
        loaded = uow.people.get("ada@example.com")
        assert loaded is not None
        assert loaded.lunch == lunch
    assert uow.session.execute(select(PersonRow.lunch_start, PersonRow.lunch_end)).one() == (None, None)
