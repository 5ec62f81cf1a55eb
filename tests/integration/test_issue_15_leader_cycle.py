"""Issue 15, part 4: a leader program's cycle through the real storage (SQLite, and PostgreSQL when set): askers
meet leaders outside their department within each leader's slots, a manager's stored suggestion counts, and
whoever asked and was not placed is told why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from scheduler.model import Attendee, Interval, Person, Program
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from tests.fakes import FakeCalendarProvider, FakeClock
from web.urls import WebUrls

NewUow = Callable[[], UnitOfWork]
SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"))
LEADERS = Program("meet a leader", kind="leader", leader_slots=1, duration_minutes=30)


def test_issue_15_a_leader_cycle_through_storage(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    dana = create_person(email="dana@example.com", name="Dana Lee", department="Sales", team="lead-s", role="leader")
    omar = create_person(email="omar@example.com", name="Omar Ali", department="Design", team="lead-d",
                         role="leader")
    sam = create_person(email="sam@example.com", name="Sam Park", department="Engineering", team="eng",
                        wishlist=frozenset({"dana@example.com"}))
    kim = create_person(email="kim@example.com", name="Kim Cho", department="Engineering", team="eng2",
                        wishlist=frozenset({"dana@example.com"}))
    ria = create_person(email="ria@example.com", name="Ria Das", department="Finance", team="fin",
                        manager="boss@example.com")
    bystander = create_person(email="by@example.com", department="Finance", team="fin2")
    with new_uow() as uow:
        for person in (dana, omar, sam, kim, ria, bystander):
            uow.people.save(person)
        uow.leader_suggestions.set(ria.email, frozenset({omar.email}), by="boss@example.com",
                                   at=datetime(2026, 12, 1, tzinfo=UTC))
        uow.commit()
    with new_uow() as uow:
        assert uow.leader_suggestions.of_report(ria.email) == frozenset({omar.email})

    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, LEADERS, SETTINGS)

    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    with new_uow() as uow:
        meetings = uow.cycles.meetings(outcome.cycle.id)
    pairs = sorted(meeting.group.members for meeting in meetings)
    assert len(pairs) == 2
    assert ("ria@example.com", "omar@example.com") in pairs
    (dana_pair,) = [p for p in pairs if "dana@example.com" in p]  # one slot: one of Sam and Kim
    assert all(meeting.slot is not None for meeting in meetings)
    assert outcome.plan is not None
    (left,) = outcome.plan.unmatched
    assert {left.email, dana_pair[0]} == {"sam@example.com", "kim@example.com"}
    assert "Dana Lee's slots this month are taken" in left.reason
    assert "by@example.com" not in {e for p in pairs for e in p} | {u.email for u in outcome.plan.unmatched}


def test_issue_15_an_asker_whose_leader_has_no_time_at_all_is_told_why(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    dana = create_person(email="dana@example.com", name="Dana Lee", department="Sales", team="lead-s", role="leader")
    sam = create_person(email="sam@example.com", name="Sam Park", department="Engineering", team="eng",
                        wishlist=frozenset({"dana@example.com"}))
    with new_uow() as uow:
        for person in (dana, sam):
            uow.people.save(person)
        uow.commit()
    window_start = datetime(2026, 11, 23, tzinfo=UTC)
    busy_all_week = FakeCalendarProvider(busy={dana.email: [Interval(window_start, window_start + timedelta(days=7))]})

    outcome = run_cycle(new_uow, busy_all_week, clock, LEADERS, SETTINGS)

    assert outcome.plan is not None
    assert outcome.plan.meetings == ()
    reasons = {u.email: u.reason for u in outcome.plan.unmatched}
    assert "no free time this cycle" in reasons["sam@example.com"]
