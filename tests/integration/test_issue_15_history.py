"""Issue 15: what the pairing remembers is what happened. A pair meets at most once per planning window across
programs; "last met" is the day of the last meeting that took place; a meeting its members say did not happen
counts neither as met nor towards the cooldown. Through the real storage (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from scheduler.model import Interval, Meeting, Person, Program
from scheduler.planning.cycle import booked_intervals
from scheduler.planning.matches import record_feedback
from scheduler.planning.meetings import cancel_meeting, reschedule_meeting
from scheduler.planning.run import CycleOutcome, run_cycle
from scheduler.ports import UnitOfWork
from tests.fakes import FakeCalendarProvider, FakeClock
from tests.integration.test_cycle_service import SETTINGS, add_people

NewUow = Callable[[], UnitOfWork]
COFFEE = Program("coffee", cooldown_cycles=6, relax="never")
LUNCH = Program("lunch", kind="lunch", duration_minutes=60, relax="never")


def two(create_person: Callable[..., Person]) -> list[Person]:
    return [create_person(team="Payments", department="Engineering"),
            create_person(team="Accounts", department="Sales")]


def only_meeting(outcome: CycleOutcome) -> Meeting:
    assert outcome.plan is not None
    (meeting,) = outcome.plan.meetings
    return meeting


def stored_meeting(new_uow: NewUow, outcome: CycleOutcome) -> Meeting:
    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    with new_uow() as uow:
        (meeting,) = uow.cycles.meetings(outcome.cycle.id)
    return meeting


def planned_coffee(new_uow: NewUow, create_person: Callable[..., Person],
                   clock: FakeClock) -> tuple[list[Person], CycleOutcome, Meeting]:
    """Two people, stored, and the coffee cycle that pairs them: the people, the outcome, the stored meeting."""
    people = two(create_person)
    add_people(new_uow, people)
    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    return people, outcome, stored_meeting(new_uow, outcome)


def never_met_reason(meeting: Meeting) -> str:
    (reason,) = [r for r in meeting.group.reasons if r == "never met" or r.startswith("last met on")]
    return reason


def test_issue_15_a_pair_grouped_for_coffee_is_not_grouped_for_lunch_in_the_same_window(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = two(create_person)
    add_people(new_uow, people)
    only_meeting(run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS))
    lunch = run_cycle(new_uow, FakeCalendarProvider(), clock, LUNCH, SETTINGS)
    assert lunch.plan is not None
    assert lunch.plan.meetings == ()
    reasons = {u.email: u.reason for u in lunch.plan.unmatched}
    assert set(reasons) == {p.email for p in people}
    assert all("already meet you in another program in this window" in r for r in reasons.values())


def test_issue_15_a_program_that_opts_out_may_group_the_pair_again_and_says_they_never_met(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, two(create_person))
    only_meeting(run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS))
    lunch = only_meeting(run_cycle(new_uow, FakeCalendarProvider(), clock,
                                   Program("lunch", kind="lunch", duration_minutes=60, once_per_window=False),
                                   SETTINGS))
    # The coffee is planned, not held: the lunch's reasons must not quote it as a meeting that took place.
    assert never_met_reason(lunch) == "never met"


def test_issue_15_the_reason_quotes_the_day_the_pair_really_met(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = two(create_person)
    add_people(new_uow, people)
    program = Program("coffee", cooldown_cycles=0)
    # Both busy on the window's first day, so the day they meet is not the cycle's start.
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    busy_monday = FakeCalendarProvider(busy={p.email: [Interval(monday, monday + timedelta(days=1))] for p in people})
    first = only_meeting(run_cycle(new_uow, busy_monday, clock, program, SETTINGS))
    assert first.slot is not None
    assert first.slot.start.date() != monday.date()
    clock.advance(timedelta(days=7))
    again = only_meeting(run_cycle(new_uow, FakeCalendarProvider(), clock, program, SETTINGS))
    assert never_met_reason(again) == f"last met on {first.slot.start.date().isoformat()}"


def test_issue_15_a_meeting_not_yet_held_or_cancelled_is_not_met(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    _, _, meeting = planned_coffee(new_uow, create_person, clock)
    assert meeting.slot is not None
    assert meeting.id is not None
    pair = frozenset(meeting.group.members)
    with new_uow() as uow:
        assert pair not in uow.history.last_met(clock.now())  # planned, still ahead
        assert uow.history.last_met(meeting.slot.end) == {pair: meeting.slot.start.date()}
    cancel_meeting(new_uow, clock, SETTINGS, meeting.id, reason="test")
    with new_uow() as uow:
        assert uow.history.last_met(meeting.slot.end + timedelta(days=30)) == {}


def test_issue_15_a_missed_meeting_counts_neither_as_met_nor_towards_the_cooldown(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people, _, meeting = planned_coffee(new_uow, create_person, clock)
    assert meeting.slot is not None
    assert meeting.id is not None
    clock.current = meeting.slot.end + timedelta(hours=3)
    for person in people:
        record_feedback(new_uow, clock, meeting.id, person.email, met=False)
    with new_uow() as uow:
        assert uow.history.last_met(clock.now()) == {}
        assert uow.history.pairs_in_recent_cycles("coffee", 6) == set()
    clock.advance(timedelta(days=5))
    # The cooldown would keep them apart (and this program never relaxes it): they did not meet, so they may.
    again = only_meeting(run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS))
    assert set(again.group.members) == {p.email for p in people}
    assert never_met_reason(again) == "never met"


def test_issue_15_one_member_saying_we_met_outweighs_the_other_saying_we_did_not(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people, _, meeting = planned_coffee(new_uow, create_person, clock)
    assert meeting.slot is not None
    assert meeting.id is not None
    clock.current = meeting.slot.end + timedelta(hours=3)
    record_feedback(new_uow, clock, meeting.id, people[0].email, met=False)
    record_feedback(new_uow, clock, meeting.id, people[1].email, met=True)
    with new_uow() as uow:
        assert uow.history.last_met(clock.now()) == {frozenset(meeting.group.members): meeting.slot.start.date()}
        assert uow.history.pairs_in_recent_cycles("coffee", 6) == {frozenset(meeting.group.members)}


def test_issue_15_a_meeting_moved_into_a_later_week_is_busy_time_for_that_weeks_cycles(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    _, outcome, meeting = planned_coffee(new_uow, create_person, clock)
    assert meeting.slot is not None
    assert meeting.id is not None
    assert outcome.cycle is not None
    later = Interval(outcome.cycle.window.start + timedelta(days=7), outcome.cycle.window.end + timedelta(days=7))
    moved = Interval(later.start + timedelta(hours=10), later.start + timedelta(hours=10, minutes=30))
    reschedule_meeting(new_uow, clock, SETTINGS, meeting.id, moved)
    with new_uow() as uow:
        booked = booked_intervals(uow, later)
        assert booked == {email: [moved] for email in meeting.group.members}
        # Its own week no longer holds it.
        assert booked_intervals(uow, outcome.cycle.window) == {}
    cancel_meeting(new_uow, clock, SETTINGS, meeting.id, reason="test")
    with new_uow() as uow:
        assert booked_intervals(uow, later) == {}
