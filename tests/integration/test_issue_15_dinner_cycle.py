"""Issue 15: a cycle of a dinner program through the real storage (SQLite, and PostgreSQL when set): groups of
one office each, in the office's evening on a working day, "Dinner, <office> office", and plain reasons for
whoever cannot come."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from email.utils import parseaddr

from scheduler.delivery.emails import email_from_payload
from scheduler.model import Attendee, OfficeRules, Person, Program, WorkingHours
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from tests.conftest import BERLIN
from tests.fakes import FakeCalendarProvider, FakeClock
from web.urls import WebUrls

NewUow = Callable[[], UnitOfWork]
OFFICES = {"London": OfficeRules(), "Berlin": OfficeRules(dinner=(time(19, 0), time(22, 30)))}
SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"), offices=OFFICES)
DINNER = Program("dinner", kind="dinner", meeting_mode="in_person", group_size=3, duration_minutes=120)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def test_issue_15_a_dinner_cycle_groups_each_office_in_its_evening(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    departments = ["Sales", "Engineering", "Design", "Finance"]
    diners = [create_person(team=f"team-{i}", department=departments[i % 4], office="London",
                            kinds=frozenset({"coffee", "dinner"}), mode="either") for i in range(7)]
    diners += [create_person(team=f"team-b{i}", department=departments[i % 4], office="Berlin", timezone=BERLIN,
                             kinds=frozenset({"dinner"}), mode="in_person",
                             working_hours=WorkingHours.parse("mon-thu 08:00-16:00")) for i in range(5)]
    online = create_person(email="online@example.com", kinds=frozenset({"dinner"}), mode="virtual")
    remote = create_person(email="remote@example.com", kinds=frozenset({"dinner"}), office="")
    coffee_only = create_person(email="coffee.only@example.com")  # the default kinds: coffee and lunch
    with new_uow() as uow:
        for person in [*diners, online, remote, coffee_only]:
            uow.people.save(person)
        uow.commit()

    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, DINNER, SETTINGS)

    assert outcome.plan is not None
    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    assert outcome.plan.ineligible == {
        "online@example.com": "meets only virtually; dinner is in person",
        "remote@example.com": "works from no office; dinner is in person, at an office",
        "coffee.only@example.com": "does not take part in dinner meetings",
    }
    with new_uow() as uow:
        meetings = uow.cycles.meetings(outcome.cycle.id)
        effects = uow.outbox.list(cycle_id=outcome.cycle.id)
    by_email = {person.email: person for person in diners}
    placed = sorted(email for meeting in meetings for email in meeting.group.members)
    assert placed == sorted(by_email)  # everyone who can come, in groups of 2 to 4
    for meeting in meetings:
        members = [by_email[email] for email in meeting.group.members]
        assert 2 <= len(members) <= 4
        (office,) = {person.office for person in members}
        assert meeting.location == f"Dinner, {office} office"
        assert meeting.slot is not None
        assert MONDAY <= meeting.slot.start < MONDAY + timedelta(days=5)
        first, last = OFFICES[office].dinner
        for person in members:
            start, end = meeting.slot.start.astimezone(person.zone), meeting.slot.end.astimezone(person.zone)
            assert start.weekday() in person.working_hours.days, (person.email, start)
            assert start.date() == end.date(), (person.email, start)
            assert first <= start.time(), (person.email, start)
            assert end.time() <= last, (person.email, end)

    announcements = [email_from_payload(e.payload) for e in effects if "/announce/" in e.key]
    assert sorted(parseaddr(message.to[0])[1] for message in announcements) == placed
    for message in announcements:
        assert message.subject.startswith("Dinner with ")
        assert "Your next dinner (dinner program)" in message.text
        assert "Where:  Dinner, " in message.text
        assert "Something to talk about:" in message.text
        assert message.invite is not None
        assert message.invite.location.startswith("Dinner, ")
        assert "Something to talk about:" in message.invite.description
