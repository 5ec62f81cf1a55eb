"""Issue 13: one person's calendar never stops anyone else's cycle.

Each hostile calendar of ``tests/data/ics/hostile/`` is given to one person of a small organisation, read
through the real ICS provider behind the availability boundary; everyone else is still planned, and the hostile
calendar is either read or reported as that person's problem. Adapters that raise (a library bug on some input)
are caught at the boundary, logged once with their traceback, and split down to the person they concern.
``tick`` plans each program on its own and always goes on to delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.ics_feed import IcsCalendarProvider
from scheduler.admin.cycles import latest_calendar_gaps
from scheduler.availability.calendars import CalendarRouter, fetch_busy_isolated
from scheduler.delivery.emails import email_from_payload
from scheduler.delivery.outbox import RetryPolicy
from scheduler.errors import ProviderUnavailable, StorageError
from scheduler.model import Attendee, Busy, CalendarSource, Effect, Interval, Person, Program
from scheduler.pairing.rules import PairHistory
from scheduler.periodic import tick
from scheduler.planning.cycle import PlanSettings, next_window, plan_cycle
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from tests.fakes import FakeCalendarProvider, FakeClock, FakeMailer
from web.urls import WebUrls

DATA = Path(__file__).resolve().parents[1] / "data" / "ics"
HOSTILE = sorted((DATA / "hostile").glob("*"))
COFFEE = Program("coffee")
SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"))
POLICY = RetryPolicy(max_attempts=3, base=timedelta(minutes=1), lease=timedelta(minutes=5))
BUG = AttributeError("'list' object has no attribute 'dt'")
NewUow = Callable[[], UnitOfWork]


def organisation(create_person: Callable[..., Person], size: int = 8) -> list[Person]:
    departments = ["Sales", "Engineering", "Design"]
    return [create_person(team=f"team-{i}", department=departments[i % 3]) for i in range(size)]


def placed(plan: Any) -> set[str]:
    return {email for meeting in plan.meetings for email in meeting.group.members}


def test_issue_13_the_hostile_corpus_holds_every_case_the_issue_names() -> None:
    names = {path.stem for path in HOSTILE}
    # One file per hostile input of the issue, so the parametrised test below covers each of them.
    named = {"duplicate_dtstart", "duplicate_dtend", "duplicate_recurrence_id", "two_rrules", "count_100000000",
             "freq_minutely", "negative_duration", "html_page", "nul_bytes", "cr_only_line_endings",
             "line_without_colon", "content_after_end"}
    assert named <= names, named - names


@pytest.mark.parametrize("path", HOSTILE, ids=[path.name for path in HOSTILE])
def test_issue_13_a_hostile_calendar_stays_its_owners_problem(
        path: Path, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = organisation(create_person)
    hostile = replace(people[0], calendar=CalendarSource("ics", f"hostile/{path.name}"))
    people = [hostile, *people[1:]]
    provider = CalendarRouter({"ics": IcsCalendarProvider(DATA)})
    window = next_window(COFFEE, clock.now())

    plan = plan_cycle(COFFEE, people, provider, now=clock.now(), window=window, history=PairHistory(),
                      seed=7)

    everyone_else = {p.email for p in people[1:]}
    assert everyone_else <= placed(plan)
    if hostile.email in plan.calendar_problems:
        reason = plan.calendar_problems[hostile.email]
        assert path.name in reason  # names the file, so the person knows what to fix
        assert "Traceback" not in reason
    else:
        assert hostile.email in placed(plan)  # read: a calendar like any other
    assert set(plan.calendar_problems) <= {hostile.email}


def test_issue_13_an_adapter_that_raises_fails_only_the_person_it_chokes_on(
        create_person: Callable[..., Person], clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    people = organisation(create_person, 9)
    broken = people[4].email
    provider = FakeCalendarProvider(raises={broken: BUG})
    window = next_window(COFFEE, clock.now())

    with caplog.at_level(logging.ERROR, logger="scheduler.availability.calendars"):
        plan = plan_cycle(COFFEE, people, CalendarRouter({"ics": provider}, {"example.com": "ics"}),
                          now=clock.now(), window=window, history=PairHistory(), seed=3)

    assert set(plan.calendar_problems) == {broken}
    assert "could not be read" in plan.calendar_problems[broken]
    assert "AttributeError" in plan.calendar_problems[broken]
    assert placed(plan) == {p.email for p in people}  # planned on working hours, not dropped
    (record,) = caplog.records  # logged once, with its traceback
    assert record.exc_info is not None
    assert broken in record.getMessage()


def test_issue_13_the_same_failure_for_many_calendars_is_one_traceback(
        create_person: Callable[..., Person], caplog: pytest.LogCaptureFixture) -> None:
    people = organisation(create_person, 6)
    failing = {p.email for p in people[:3]}
    provider = FakeCalendarProvider(raises={email: BUG for email in failing})
    window = Interval(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))

    with caplog.at_level(logging.ERROR, logger="scheduler.availability.calendars"):
        answers = fetch_busy_isolated(provider, people, window, name="ics")

    assert set(answers) == {p.email for p in people}
    assert {email for email, busy in answers.items() if busy.error} == failing
    assert [r.exc_info is not None for r in caplog.records].count(True) == 1
    assert len(caplog.records) == 3  # one line per person, one traceback in all


def test_issue_13_a_provider_that_is_down_or_forgets_someone_gives_each_a_reason(
        create_person: Callable[..., Person]) -> None:
    people = organisation(create_person, 3)
    window = Interval(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))

    class Forgetful:
        def fetch_busy(self, asked: Any, window: Interval) -> dict[str, Busy]:
            return {asked[0].email: Busy()}

    class Down:
        def fetch_busy(self, asked: Any, window: Interval) -> dict[str, Busy]:
            raise ProviderUnavailable("Google Calendar: HTTP 503 after 4 attempts")

    forgot = fetch_busy_isolated(Forgetful(), people, window, name="google")
    down = fetch_busy_isolated(Down(), people, window, name="google")

    assert forgot[people[0].email] == Busy()
    assert all("gave no answer" in (forgot[p.email].error or "") for p in people[1:])
    assert all(down[p.email].error == "Google Calendar: HTTP 503 after 4 attempts" for p in people)


def test_issue_13_a_cycle_stores_the_gap_and_shows_it_to_admins(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = organisation(create_person, 6)
    with new_uow() as uow:
        for person in people:
            uow.people.save(person)
        uow.commit()

    outcome = run_cycle(new_uow, FakeCalendarProvider(raises={people[2].email: BUG}), clock, COFFEE, SETTINGS)

    assert outcome.cycle is not None
    (gaps,) = latest_calendar_gaps(new_uow, [COFFEE])
    assert gaps.program == "coffee"
    assert [email for email, _ in gaps.gaps] == [people[2].email]
    assert "AttributeError" in gaps.gaps[0][1]


class _FailingPlans:
    """A unit of work whose cycle repository fails for one program, as a storage fault or a bug in planning
    that program would: everything else is the real repository."""

    def __init__(self, uow: UnitOfWork, program: str) -> None:
        self._uow = uow
        self._program = program

    def __enter__(self) -> _FailingPlans:
        self._uow.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._uow.__exit__(*exc)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._uow, name)
        if name != "cycles":
            return value
        program = self._program

        class Cycles:
            def __getattr__(self, method: str) -> Any:
                real = getattr(value, method)

                def call(*args: Any, **kwargs: Any) -> Any:
                    if args and args[0] == program:
                        raise StorageError(f"the {program} cycles cannot be read")
                    return real(*args, **kwargs)

                return call

        return Cycles()


def test_issue_13_tick_plans_each_program_on_its_own_and_always_delivers(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    people = organisation(create_person, 6)
    with new_uow() as uow:
        for person in people:
            uow.people.save(person)
        uow.commit()
    lunch = Program("lunch", kind="lunch", duration_minutes=60)
    mailer = FakeMailer()

    def send(effect: Effect) -> None:
        mailer.send(email_from_payload(effect.payload))

    with caplog.at_level(logging.ERROR, logger="scheduler.periodic"):
        report = tick(lambda: _FailingPlans(new_uow(), "lunch"), FakeCalendarProvider(), clock,  # type: ignore[arg-type, return-value]
                      [lunch, COFFEE], SETTINGS, {"email": send}, POLICY)

    assert [failure.program for failure in report.failures] == ["lunch"]
    assert "lunch cycles cannot be read" in report.failures[0].reason
    assert [outcome.program.name for outcome in report.cycles] == ["coffee"]
    assert report.delivery.done == len(people)  # the coffee announcements went out all the same
    assert len(mailer.sent) == len(people)
    (record,) = caplog.records
    assert record.exc_info is not None
