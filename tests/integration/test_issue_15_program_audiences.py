"""Issue 15, part 5 through the real storage (SQLite, and PostgreSQL when set): people's choices per program, a
cycle planned for an audience with opting in, video links stored with the meetings and carried by the queued
invites, the site's audience change kept over the file, and the admin's audience figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from icalendar import Calendar

from integrations.invites import render_invite
from scheduler.accounts.memberships import choose_program, program_memberships
from scheduler.admin.audiences import program_audiences
from scheduler.delivery.emails import email_from_payload
from scheduler.errors import InputError, NotFoundError
from scheduler.model import Attendee, Audience, Person, Program
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from scheduler.programs.settings import change_program, effective_programs
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeCalendarProvider, FakeClock
from web.urls import WebUrls

SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"))
NewUow = Callable[[], UnitOfWork]
LONDON_LUNCH = Program("london-lunch", kind="lunch", audience=Audience(offices=frozenset({"London"})))


def store(new_uow: NewUow, people: list[Person]) -> None:
    with new_uow() as uow:
        for person in people:
            uow.people.save(person)
        uow.commit()


def test_issue_15_choices_are_stored_replaced_and_go_with_the_person(
        new_uow: NewUow, create_person: Callable[..., Person]) -> None:
    ana, bo = create_person(), create_person()
    store(new_uow, [ana, bo])
    with new_uow() as uow:
        uow.program_choices.set(ana.email.upper(), "coffee", False, SUNDAY_NOON)
        uow.program_choices.set(ana.email, "lunch", True, SUNDAY_NOON)
        uow.program_choices.set(bo.email, "coffee", True, SUNDAY_NOON)
        uow.commit()
    with new_uow() as uow:
        uow.program_choices.set(ana.email, "coffee", True, SUNDAY_NOON)  # a later choice replaces the earlier
        uow.commit()
    with new_uow() as uow:
        assert uow.program_choices.of_program("coffee") == {ana.email: True, bo.email: True}
        assert uow.program_choices.of_person(ana.email) == {"coffee": True, "lunch": True}
        with pytest.raises(NotFoundError):
            uow.program_choices.set("nobody@example.com", "coffee", True, SUNDAY_NOON)
        uow.accounts.delete_person(ana.email, lambda value: value)
        uow.commit()
    with new_uow() as uow:
        assert uow.program_choices.of_program("coffee") == {bo.email: True}
        assert uow.program_choices.of_person(ana.email) == {}


def test_issue_15_a_cycle_plans_only_its_audience_and_those_who_joined(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    london = [create_person(office="London") for _ in range(4)]
    lisbon = [create_person(office="Lisbon") for _ in range(3)]
    store(new_uow, london + lisbon)
    program = replace(LONDON_LUNCH, opt_in=True)
    with new_uow() as uow:
        for person in london[:3]:
            uow.program_choices.set(person.email, program.name, True, SUNDAY_NOON)
        uow.program_choices.set(lisbon[0].email, program.name, True, SUNDAY_NOON)  # joined, but not in London
        uow.commit()

    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, program, SETTINGS)

    assert outcome.plan is not None
    assert outcome.cycle is not None
    planned = {email for meeting in outcome.plan.meetings for email in meeting.group.members}
    assert planned == {person.email for person in london[:3]}
    assert outcome.plan.ineligible[london[3].email] == "has not joined this program"
    for person in lisbon:
        assert outcome.plan.ineligible[person.email] == "not in this program's audience (London office only)"
    with new_uow() as uow:  # nobody outside the program is told they were left out
        told = {str(e.payload["to"]) for e in uow.outbox.list(cycle_id=outcome.cycle.id) if "/unmatched/" in e.key}
    assert not any(person.email in text for text in told for person in [london[3], *lisbon])


def test_issue_15_leaving_a_program_for_everyone_keeps_you_out_of_it(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = [create_person() for _ in range(4)]
    store(new_uow, people)
    with new_uow() as uow:
        uow.program_choices.set(people[0].email, "coffee", False, SUNDAY_NOON)
        uow.commit()
    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, Program("coffee"), SETTINGS, dry_run=True)
    assert outcome.plan is not None
    assert outcome.plan.ineligible == {people[0].email: "has left this program"}
    assert sorted(e for m in outcome.plan.meetings for e in m.group.members) == sorted(p.email for p in people[1:])


def test_issue_15_a_cycle_stores_the_video_link_and_the_queued_invite_carries_it(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    store(new_uow, [create_person(office=office) for office in ("London", "Lisbon", "London", "Lisbon")])
    program = Program("coffee", meeting_mode="virtual", video_link="https://meet.example.org/coffee-{uid}")

    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, program, SETTINGS)

    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    with new_uow() as uow:
        meetings = uow.cycles.meetings(outcome.cycle.id)
        effects = uow.outbox.list(cycle_id=outcome.cycle.id)
    assert len(meetings) == 2
    for meeting in meetings:
        assert meeting.location == f"https://meet.example.org/coffee-{meeting.uid}"
        assert meeting.sequence == 0  # filling in the link is not a change anyone was told about
    announcements = [email_from_payload(e.payload) for e in effects if "/announce/" in e.key]
    assert len(announcements) == 4
    for message in announcements:
        assert message.invite is not None
        (event,) = Calendar.from_ical(render_invite(message.invite)).walk("VEVENT")
        uid = str(event["UID"])
        assert str(event["LOCATION"]) == str(event["URL"]) == f"https://meet.example.org/coffee-{uid}"
        assert event.conferences[0].uri == f"https://meet.example.org/coffee-{uid}"
        assert f"https://meet.example.org/coffee-{uid}" in message.text


def test_issue_15_the_site_keeps_an_audience_over_the_file(new_uow: NewUow) -> None:
    configured = [Program("coffee"), LONDON_LUNCH]
    change_program(new_uow, configured, "london-lunch", {"audience": {"offices": ["London", "Lisbon"]},
                                                        "opt_in": True}, by="ada@example.com", at=SUNDAY_NOON)
    with new_uow() as uow:
        (change,) = uow.program_changes.list()
    assert dict(change.changes) == {"opt_in": True, "audience": {
        "offices": ["Lisbon", "London"], "departments": [], "teams": [], "roles": [], "emails": []}}
    coffee, lunch = effective_programs(new_uow, configured)
    assert coffee == Program("coffee")
    assert lunch.audience == Audience(offices=frozenset({"London", "Lisbon"}))
    assert lunch.opt_in is True
    # The same audience as the file again: nothing is kept.
    change_program(new_uow, configured, "london-lunch", {"audience": {"offices": ["London"]}, "opt_in": False},
                   by="ada@example.com", at=SUNDAY_NOON)
    with new_uow() as uow:
        assert uow.program_changes.list() == []


def test_issue_15_memberships_and_the_admin_audience(
        new_uow: NewUow, create_person: Callable[..., Person]) -> None:
    ana, bo, cy = create_person(office="London"), create_person(office="London"), create_person(office="Lisbon")
    store(new_uow, [ana, bo, cy])
    programs = [Program("coffee"), replace(LONDON_LUNCH, opt_in=True)]

    assert [(m.program.name, m.member) for m in program_memberships(new_uow, programs, ana.email,
                                                                    SUNDAY_NOON.date())] == \
        [("coffee", True), ("london-lunch", False)]
    assert [m.program.name for m in program_memberships(new_uow, programs, cy.email, SUNDAY_NOON.date())] == \
        ["coffee"]  # the London lunch is not open to Lisbon
    joined = choose_program(new_uow, programs, ana.email, "london-lunch", True, at=SUNDAY_NOON)
    assert (joined.member, joined.reason) == (True, None)
    choose_program(new_uow, programs, bo.email, "coffee", False, at=SUNDAY_NOON)
    with pytest.raises(InputError):
        choose_program(new_uow, programs, cy.email, "london-lunch", True, at=SUNDAY_NOON)
    with pytest.raises(NotFoundError):
        choose_program(new_uow, programs, cy.email, "no-such-program", True, at=SUNDAY_NOON)

    coffee, lunch = program_audiences(new_uow, programs, SUNDAY_NOON.date())
    assert (coffee.size, coffee.joined, coffee.left, coffee.planned) == (3, 0, 1, 2)
    assert (lunch.size, lunch.joined, lunch.left, lunch.planned) == (2, 1, 0, 1)
    assert {m.person.email: m.reason for m in lunch.members} == {ana.email: None,
                                                                  bo.email: "has not joined this program"}
