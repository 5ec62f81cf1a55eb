"""Cycles with their meetings, groups, members and unmatched people."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from scheduler.errors import NotFoundError, StorageError
from scheduler.model import Cycle, CycleState, Group, Interval, Meeting, Person, Unmatched
from scheduler.storage.orm import GroupMemberRow
from scheduler.storage.uow import SqlAlchemyUnitOfWork

MakeCycle = Callable[..., Cycle]
NewUow = Callable[[], SqlAlchemyUnitOfWork]

BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_add_returns_the_cycle_with_id_and_created_at(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    cycle = make_cycle(state=CycleState.PLANNED)

    stored = uow.cycles.add(cycle)

    assert stored.id is not None
    assert stored.created_at is not None
    assert stored.created_at.tzinfo is UTC
    assert stored == Cycle(cycle.program, cycle.window, cycle.seed, id=stored.id, created_at=stored.created_at)
    assert uow.cycles.get(stored.id) == stored
    assert uow.cycles.find("coffee", cycle.window.start) == stored


def test_add_keeps_a_given_created_at(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    created_at = datetime(2026, 11, 22, 13, 0, tzinfo=BERLIN)

    stored = uow.cycles.add(make_cycle(created_at=created_at))

    assert stored.id is not None
    loaded = uow.cycles.get(stored.id)
    assert loaded is not None
    assert loaded.created_at == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_second_cycle_for_the_same_window_start_is_a_storage_error(
    uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle
) -> None:
    uow.cycles.add(make_cycle(seed=1))

    with pytest.raises(StorageError, match="'coffee' already has a cycle starting 2026-11-23T00:00:00"):
        uow.cycles.add(make_cycle(seed=2))

    # The refusal leaves the transaction usable (a failed INSERT would abort it on PostgreSQL).
    other = uow.cycles.add(make_cycle(program="lunch"))
    uow.commit()
    assert [cycle.seed for cycle in uow.cycles.list("coffee")] == [1]
    assert other.id is not None


def test_find_accepts_the_window_start_in_any_zone(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    stored = uow.cycles.add(make_cycle())

    assert uow.cycles.find("coffee", datetime(2026, 11, 23, 1, 0, tzinfo=BERLIN)) == stored
    assert uow.cycles.find("coffee", datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)) is None
    assert uow.cycles.find("lunch", stored.window.start) is None
    assert uow.cycles.get(987_654) is None


def test_list_shows_newest_window_first_optionally_of_one_program(
    uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle
) -> None:
    for program, week in (("coffee", 1), ("lunch", 2), ("coffee", 0), ("coffee", 3)):
        uow.cycles.add(make_cycle(program=program, week=week))

    assert [(c.program, c.window.start) for c in uow.cycles.list()] == [
        ("coffee", at(23, 0) + timedelta(weeks=3)),
        ("lunch", at(23, 0) + timedelta(weeks=2)),
        ("coffee", at(23, 0) + timedelta(weeks=1)),
        ("coffee", at(23, 0)),
    ]
    assert [c.window.start for c in uow.cycles.list("coffee")] == [
        at(23, 0) + timedelta(weeks=weeks) for weeks in (3, 1, 0)
    ]
    assert uow.cycles.list("walks") == []


def test_set_state_moves_the_cycle(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    stored = uow.cycles.add(make_cycle())
    assert stored.id is not None

    uow.cycles.set_state(stored.id, CycleState.DELIVERED)

    loaded = uow.cycles.get(stored.id)
    assert loaded is not None
    assert loaded.state is CycleState.DELIVERED
    with pytest.raises(NotFoundError):
        uow.cycles.set_state(987_654, CycleState.DELIVERED)


@pytest.mark.parametrize("seed", [0, 2**63 - 1, -(2**63)])
def test_seeds_keep_all_64_bits(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle, seed: int) -> None:
    stored = uow.cycles.add(make_cycle(seed=seed))
    assert stored.id is not None

    loaded = uow.cycles.get(stored.id)

    assert loaded is not None
    assert loaded.seed == seed


def test_a_seed_beyond_64_bits_is_refused(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    with pytest.raises(ValueError, match="64-bit"):
        uow.cycles.add(make_cycle(seed=2**63))


def test_meetings_round_trip_in_the_order_added(
    uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle, create_person: Callable[..., Person]
) -> None:
    uow.people.save(create_person(email="ada@example.com"))
    cycle = uow.cycles.add(make_cycle())
    assert cycle.id is not None
    meetings = [
        Meeting(
            Group(("bob@example.com", "ada@example.com"), 7.25, ("new department", "both like chess")),
            Interval(at(24, 10), at(24, 10, 30)),
            location="Kitchen, 3rd floor",
            state="confirmed",
            sequence=2,
        ),
        # A trio keeps its members in their order; a group without a common slot has none.
        Meeting(Group(("zed@example.com", "cyd@example.com", "dan@example.com"), 3.0), None),
        Meeting(Group(("eve@example.com", "fay@example.com"), 0.0), Interval(at(25, 15, 0), at(25, 15, 30))),
    ]

    stored = uow.cycles.add_meetings(cycle.id, meetings)

    assert [m.cycle_id for m in stored] == [cycle.id] * 3
    assert all(m.id is not None for m in stored)
    assert [m.group for m in stored] == [m.group for m in meetings]
    assert uow.cycles.meetings(cycle.id) == stored
    assert stored[0].uid == f"coffeechat-meeting-{stored[0].id}"


def test_members_are_linked_to_stored_people(
    uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle, create_person: Callable[..., Person]
) -> None:
    uow.people.save(create_person(email="ada@example.com"))
    cycle = uow.cycles.add(make_cycle())
    assert cycle.id is not None
    uow.cycles.add_meetings(cycle.id, [Meeting(Group(("ada@example.com", "bob@example.com"), 1.0), None)])

    links = uow.session.execute(
        select(GroupMemberRow.email, GroupMemberRow.person_id).order_by(GroupMemberRow.position)
    ).all()

    assert [(email, person_id is not None) for email, person_id in links] == [
        ("ada@example.com", True),
        ("bob@example.com", False),
    ]


def test_meetings_of_other_cycles_stay_apart(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    first, second = uow.cycles.add(make_cycle(week=0)), uow.cycles.add(make_cycle(week=1))
    assert first.id is not None
    assert second.id is not None
    uow.cycles.add_meetings(first.id, [Meeting(Group(("a@example.com", "b@example.com"), 1.0), None)])

    assert uow.cycles.meetings(second.id) == []
    assert uow.cycles.add_meetings(second.id, []) == []


def test_meetings_and_unmatched_need_a_stored_cycle(uow: SqlAlchemyUnitOfWork) -> None:
    meeting = Meeting(Group(("a@example.com", "b@example.com"), 1.0), None)
    with pytest.raises(NotFoundError, match="no cycle with id 987654"):
        uow.cycles.add_meetings(987_654, [meeting])
    with pytest.raises(NotFoundError):
        uow.cycles.add_unmatched(987_654, [Unmatched("a@example.com", "odd one out")])


def test_unmatched_are_listed_by_email(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    cycle, other = uow.cycles.add(make_cycle(week=0)), uow.cycles.add(make_cycle(week=1))
    assert cycle.id is not None
    assert other.id is not None
    left_out = [
        Unmatched("zed@example.com", "no common free time with anyone"),
        Unmatched("ada@example.com", "everyone met within the cooldown"),
    ]

    uow.cycles.add_unmatched(cycle.id, left_out)

    assert uow.cycles.unmatched(cycle.id) == sorted(left_out, key=lambda u: u.email)
    assert uow.cycles.unmatched(other.id) == []


def test_a_committed_cycle_is_seen_by_the_next_unit_of_work(new_uow: NewUow, make_cycle: MakeCycle) -> None:
    with new_uow() as uow:
        stored = uow.cycles.add(make_cycle())
        assert stored.id is not None
        meetings = uow.cycles.add_meetings(
            stored.id,
            [Meeting(Group(("a@example.com", "b@example.com"), 2.5), Interval(at(24, 9), at(24, 9, 30)))],
        )
        uow.commit()

    with new_uow() as uow:
        assert uow.cycles.list() == [stored]
        assert uow.cycles.meetings(stored.id) == meetings


def test_calendar_gaps_are_kept_per_cycle_by_email(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    cycle, other = uow.cycles.add(make_cycle(week=0)), uow.cycles.add(make_cycle(week=1))
    assert cycle.id is not None
    assert other.id is not None
    gaps = {"zed@example.com": "Google says this calendar does not exist",
            "ada@example.com": "Microsoft Graph getSchedule failed: HTTP 503"}

    uow.cycles.add_calendar_gaps(cycle.id, gaps)

    assert uow.cycles.calendar_gaps(cycle.id) == gaps
    assert list(uow.cycles.calendar_gaps(cycle.id)) == ["ada@example.com", "zed@example.com"]
    assert uow.cycles.calendar_gaps(other.id) == {}
    with pytest.raises(NotFoundError):
        uow.cycles.add_calendar_gaps(987_654, gaps)
