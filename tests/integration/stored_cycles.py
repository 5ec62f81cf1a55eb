"""Cycles stored exactly as a test lays them out (groups, slots, who was left out), through ``save_plan``, so a
test of what happens after planning (an organiser's change, a decline's re-pair) starts from a known plan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from scheduler.model import Attendee, Cycle, Group, Interval, Meeting, Person, Program, Unmatched
from scheduler.planning.cycle import CyclePlan, PlanSettings, save_plan
from scheduler.ports import UnitOfWork
from tests.fakes import FakeClock
from web.urls import WebUrls

SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"))
WINDOW = Interval(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))
NewUow = Callable[[], UnitOfWork]


def slot(day: int, hour: int) -> Interval:
    """Half an hour from ``hour`` (UTC) on the window's ``day`` (0: Monday 23 November 2026)."""
    start = datetime(2026, 11, 23 + day, hour, tzinfo=UTC)
    return Interval(start, start + timedelta(minutes=30))


def store_cycle(new_uow: NewUow, people: dict[str, Person], groups: list[tuple[str, ...]], left_out: list[str],
                clock: FakeClock, *, program: Program, slot_of: Callable[[int], Interval], location: str = "",
                window: Interval = WINDOW) -> Cycle:
    """Store ``people``, ``program`` and a cycle with exactly these groups (people by key; the n-th group at
    ``slot_of(n)``) and these people left out ("no partner was free"), with its outbox effects."""
    meetings = tuple(Meeting(Group(tuple(people[k].email for k in group), 1.0, ("planned",)), slot_of(n),
                             location=location) for n, group in enumerate(groups))
    plan = CyclePlan(program=program, window=window, seed=1, planned_at=clock.now(),
                     people={p.email: p for p in people.values()}, meetings=meetings,
                     unmatched=tuple(Unmatched(people[k].email, "no partner was free") for k in left_out))
    with new_uow() as uow:
        for person in people.values():
            uow.people.save(person)
        uow.programs.save(program)
        cycle = save_plan(uow, plan, SETTINGS)
        uow.commit()
    return cycle


def eight_people(create_person: Callable[..., Person]) -> dict[str, Person]:
    """Eight people in eight teams and departments, by key: a, b, c, d, e, f, g, h."""
    return {key: create_person(email=f"{key}@example.com", name=key.upper() + "nne", team=f"team-{key}",
                               department=f"dept-{key}") for key in "abcdefgh"}
