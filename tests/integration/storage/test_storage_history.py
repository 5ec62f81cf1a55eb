"""Pairing history (cooldowns, "last met") and feedback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from scheduler.errors import NotFoundError
from scheduler.model import Cycle, Group, Interval, Meeting
from scheduler.storage.orm import FeedbackRow
from scheduler.storage.uow import SqlAlchemyUnitOfWork

MakeCycle = Callable[..., Cycle]


def pair(a: str, b: str) -> frozenset[str]:
    """A pair of people as the history hands it out."""
    return frozenset({f"{a}@example.com", f"{b}@example.com"})


def group(*names: str) -> Group:
    """A group of ``name@example.com`` people."""
    return Group(tuple(f"{name}@example.com" for name in names), 1.0)


def add_cycle(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle, program: str = "coffee", week: int = 0) -> int:
    """Store a cycle of ``program`` in week ``week``; return its id."""
    cycle = uow.cycles.add(make_cycle(program=program, week=week))
    assert cycle.id is not None
    return cycle.id


def test_every_pair_inside_a_group_is_remembered(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    cycle_id = add_cycle(uow, make_cycle)

    uow.history.record(cycle_id, "coffee", date(2026, 11, 24), [group("bob", "ada"), group("cyd", "eve", "dan")])

    assert uow.history.pairs_in_recent_cycles("coffee", 1) == {
        pair("ada", "bob"),
        pair("cyd", "dan"),
        pair("cyd", "eve"),
        pair("dan", "eve"),
    }


def test_recent_pairs_come_from_exactly_the_last_n_cycles_by_window_start(
    uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle
) -> None:
    # Cycles stored out of order: "recent" follows the window, not the insertion order or the id.
    pairs_by_week = {
        2: group("ada", "bob"),
        0: group("cyd", "dan"),
        3: group("eve", "fay"),
        1: group("gus", "hal"),
    }
    for week, members in pairs_by_week.items():
        cycle_id = add_cycle(uow, make_cycle, week=week)
        uow.history.record(cycle_id, "coffee", date(2026, 11, 24), [members])
    # Another program's newer cycle neither counts as one of the n nor adds its pairs.
    lunch = add_cycle(uow, make_cycle, program="lunch", week=9)
    uow.history.record(lunch, "lunch", date(2027, 1, 26), [group("ada", "zed")])

    recent = uow.history.pairs_in_recent_cycles

    assert recent("coffee", 0) == set()
    assert recent("coffee", 1) == {pair("eve", "fay")}
    assert recent("coffee", 2) == {pair("eve", "fay"), pair("ada", "bob")}
    assert recent("coffee", 3) == {pair("eve", "fay"), pair("ada", "bob"), pair("gus", "hal")}
    assert recent("coffee", 10) == {
        pair("eve", "fay"),
        pair("ada", "bob"),
        pair("gus", "hal"),
        pair("cyd", "dan"),
    }
    assert recent("lunch", 6) == {pair("ada", "zed")}
    assert recent("walks", 6) == set()


def test_a_recent_cycle_without_pairs_still_counts(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    older = add_cycle(uow, make_cycle, week=0)
    uow.history.record(older, "coffee", date(2026, 11, 24), [group("ada", "bob")])
    add_cycle(uow, make_cycle, week=1)  # planned, nobody recorded yet

    assert uow.history.pairs_in_recent_cycles("coffee", 1) == set()
    assert uow.history.pairs_in_recent_cycles("coffee", 2) == {pair("ada", "bob")}


def test_last_met_is_the_day_of_the_latest_meeting_held_across_programs(
        uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    def held(program: str, week: int, day: date, *groups: Group) -> None:
        start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
        cycle_id = add_cycle(uow, make_cycle, program, week)
        uow.cycles.add_meetings(cycle_id, [Meeting(g, Interval(start, start + timedelta(minutes=30)))
                                           for g in groups])

    held("coffee", 0, date(2026, 11, 24), group("ada", "bob"), group("cyd", "dan"))
    held("lunch", 5, date(2027, 1, 5), group("bob", "ada"))
    held("coffee", 6, date(2027, 1, 12), group("ada", "bob"))  # still ahead at the moment asked about

    assert uow.history.last_met(datetime(2027, 1, 10, tzinfo=UTC)) == {
        pair("ada", "bob"): date(2027, 1, 5),
        pair("cyd", "dan"): date(2026, 11, 24),
    }
    assert uow.history.last_met(datetime(2026, 11, 1, tzinfo=UTC)) == {}


def test_recording_a_cycle_twice_adds_nothing(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    cycle_id = add_cycle(uow, make_cycle)
    uow.history.record(cycle_id, "coffee", date(2026, 11, 24), [group("ada", "bob")])

    uow.history.record(cycle_id, "coffee", date(2026, 11, 24), [group("ada", "bob"), group("ada")])

    assert uow.history.pairs_in_recent_cycles("coffee", 1) == {pair("ada", "bob")}


def test_history_needs_a_stored_cycle(uow: SqlAlchemyUnitOfWork) -> None:
    with pytest.raises(NotFoundError):
        uow.history.record(987_654, "coffee", date(2026, 11, 24), [group("ada", "bob")])


def test_a_later_feedback_answer_replaces_the_earlier_one(uow: SqlAlchemyUnitOfWork, make_cycle: MakeCycle) -> None:
    cycle_id = add_cycle(uow, make_cycle)
    [meeting] = uow.cycles.add_meetings(cycle_id, [Meeting(group("ada", "bob"), None)])
    assert meeting.id is not None

    uow.feedback.add(meeting.id, "ada@example.com", met=False)
    uow.feedback.add(meeting.id, "Ada@Example.com", met=True, comment="Great chat about compilers ☕")
    uow.feedback.add(meeting.id, "bob@example.com", met=True)

    answers = uow.session.execute(
        select(FeedbackRow.email, FeedbackRow.met, FeedbackRow.comment, FeedbackRow.answered_at).order_by(
            FeedbackRow.email
        )
    ).all()
    assert [(email, met, comment) for email, met, comment, _ in answers] == [
        ("ada@example.com", True, "Great chat about compilers ☕"),
        ("bob@example.com", True, ""),
    ]
    assert all(answered_at.tzinfo is not None for *_, answered_at in answers)


def test_feedback_needs_a_stored_meeting(uow: SqlAlchemyUnitOfWork) -> None:
    with pytest.raises(NotFoundError, match="no meeting with id 987654"):
        uow.feedback.add(987_654, "ada@example.com", met=True)
